"""The ASGI routes of the smsmode door: read the raw request, authenticate, call the endpoint, answer."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from martinet.api.legacy import answers
from martinet.api.legacy.decoding import decode_params
from martinet.api.legacy.endpoints import ENDPOINTS, Call, LegacyServices
from martinet.services.accept import InvalidParameter
from martinet.services.auth import Authenticator
from martinet.store.accounts import Account

log = logging.getLogger(__name__)

_ENDPOINTS_BY_PATH = {name.lower(): endpoint for name, endpoint in ENDPOINTS.items()}


class LegacyDoor:
    def __init__(self, services: LegacyServices, auth: Authenticator, *, max_body_bytes: int) -> None:
        self._services = services
        self._auth = auth
        self._max_body = max_body_bytes

    async def handle(self, request: Request) -> Response:
        name = request.path_params["name"]
        endpoint = _ENDPOINTS_BY_PATH.get(name.removesuffix(".do").lower()) if name.endswith(".do") else None
        if endpoint is None:
            return PlainTextResponse("Not Found", status_code=404)
        body = b""
        if request.method == "POST":
            declared = int(request.headers.get("content-length") or 0)
            if declared > self._max_body:
                return PlainTextResponse("Request Entity Too Large", status_code=413)
            body = await request.body()
            if len(body) > self._max_body:
                return PlainTextResponse("Request Entity Too Large", status_code=413)
        params = decode_params(request.scope.get("query_string", b""), body, request.headers.get("content-type"))
        account = await self._authenticate(params)
        if account is None:
            return answers.status_answer(answers.AUTHENTICATION_ERROR, "fr")
        try:
            return await endpoint(self._services, Call(account, params, request.method))
        except InvalidParameter as exc:
            return answers.invalid_parameter(exc.name, exc.problem, account.language)
        except Exception:
            log.exception("legacy endpoint %s failed", name)
            return answers.status_answer(answers.INTERNAL_ERROR, account.language)

    async def _authenticate(self, params: dict[str, str]) -> Account | None:
        token = params.get("accesstoken", "")
        if token:
            return await self._auth.by_token(token)
        return await self._auth.by_password(params.get("pseudo", ""), params.get("pass", ""))
