"""The smsmode door as a plain ASGI application: raw request in, ISO-8859-15 text out.

This is the hottest path of the gateway and its needs are narrow (one path prefix, the raw query string and
body, a text answer), so it speaks ASGI directly instead of going through a router, request and response objects
and middleware: the same work at a fraction of the per-request cost. Every other route stays in Starlette.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from martinet import logs
from martinet.api.asgi import BodyTooLarge, ClientGone, Headers, Receive, Scope, Send, client_address, read_body, reply
from martinet.api.legacy import answers, batch, counting, multipart_form
from martinet.api.legacy.contacts import CONTACT_ENDPOINTS
from martinet.api.legacy.credentials import Credentials, find_credentials
from martinet.api.legacy.decoding import declared_charset, decode_params
from martinet.api.legacy.endpoints import ENDPOINTS, READ_ONLY, Call, LegacyServices
from martinet.api.legacy.params import smsmode_name
from martinet.api.legacy.subaccounts import SUBACCOUNT_ENDPOINTS, V2_ENDPOINTS, V2_PREFIX, JsonAnswer
from martinet.api.legacy.voice import VOICE_ENDPOINTS
from martinet.services.accept import InvalidParameter
from martinet.services.auth import Authenticator, Caller, TooManyFailures
from martinet.services.auth_failures import retry_after_header
from martinet.services.personal_sends import Campaign

log = logging.getLogger(__name__)

PREFIX = "/http/1.6/"
PREFIXES = (PREFIX, V2_PREFIX)
#: Parameters a request may carry: smsmode has about twenty, and each costs some Python work to decode, where the
#: rest of a request (a long recipient list, a text) is read in C. Counted by their `&`, before anything is split.
MAX_PARAMETERS = 1000

_ENDPOINTS_BY_PATH = {
    **{
        f"{PREFIX}{name.lower()}.do": endpoint
        for name, endpoint in {**ENDPOINTS, **VOICE_ENDPOINTS, **CONTACT_ENDPOINTS, **SUBACCOUNT_ENDPOINTS}.items()
    },
    **{f"{V2_PREFIX}{name.lower()}.do": endpoint for name, endpoint in V2_ENDPOINTS.items()},
}
_HEAD_PATHS = frozenset(f"{PREFIX}{name.lower()}.do" for name in READ_ONLY)
_JSON_HEADERS = [(b"content-type", b"application/json")]
_TEXT_HEADERS = [(b"content-type", answers.CONTENT_TYPE.encode("ascii"))]
_PLAIN = [(b"content-type", b"text/plain; charset=utf-8")]


class _Refused(Exception):
    """A request answered before its endpoint runs: who is calling is not known (or not allowed) yet."""

    def __init__(self, text: str, result: str, headers: Headers | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.result = result  # as the accept counters name it (martinet.api.legacy.counting)
        self.headers = headers or []


def _unauthorized(retry_after: float = 0.0) -> _Refused:
    headers = [(b"retry-after", retry_after_header(retry_after))] if retry_after > 0 else []
    return _Refused(answers.status_answer(answers.AUTHENTICATION_ERROR, "fr"), "unauthorized", headers)


def _as_form(body: bytes, content_type: str) -> tuple[bytes, str]:
    """A multipart body as the form body it stands for (`multipart_form`), and that body's Content-Type, which
    keeps the charset the multipart one named; refused (`35`) when unreadable."""
    charset = declared_charset(content_type)
    try:
        form = multipart_form.as_form_body(body, content_type)
        return form, multipart_form.FORM_TYPE + (f"; charset={charset}" if charset else "")
    except multipart_form.UnreadableMultipart:
        text = answers.invalid_parameter("body", "not a readable multipart upload", "fr")
        raise _Refused(text, "invalid") from None


class LegacyDoor:
    """Checks, in this order and each before the next costs anything: the endpoint and method, the client
    address's recent failures, the credentials of the query string (before the body is read), the body's size
    (by its Content-Length, then as it arrives), a multipart body rewritten as the form it stands for, the
    body's credentials (found in one pass over its raw bytes); only then are the parameters decoded and the
    endpoint called."""

    def __init__(
        self,
        services: LegacyServices,
        auth: Authenticator,
        *,
        max_body_bytes: int,
        max_upload_bytes: int | None = None,
        max_batch_rows: int = 100_000,
        tracebacks: logs.Tracebacks,
    ) -> None:
        self._services = services
        self._auth = auth
        self._tracebacks = tracebacks  # which endpoint failures are logged with their traceback
        self._max_body = max_body_bytes
        self._max_upload = max_upload_bytes or max_body_bytes  # sendSMSBatch.do's file, read as it arrives
        self._max_batch_rows = max_batch_rows

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        path: str = scope["path"]
        if path[len(PREFIX) :].lower() == batch.PATH_NAME and path.startswith(PREFIX):
            try:
                await self._batch(scope, receive, send)
            except Exception as exc:
                await self._failed(send, exc, a_send=True)
            return
        prefix = V2_PREFIX if path.startswith(V2_PREFIX) else PREFIX
        name = prefix + path[len(prefix) :].lower()
        endpoint = _ENDPOINTS_BY_PATH.get(name)
        if endpoint is None:
            await reply(send, 404, b"Not Found", _PLAIN)
            return
        if method not in ("GET", "POST") and (method != "HEAD" or name not in _HEAD_PATHS):
            allowed = b"GET, POST, HEAD" if name in _HEAD_PATHS else b"GET, POST"
            await reply(send, 405, b"Method Not Allowed", [*_PLAIN, (b"allow", allowed)])
            return
        address = client_address(scope)
        try:
            caller = await self._query_caller(scope, address)
            headers = dict(scope["headers"])
            content_type = headers.get(b"content-type", b"").decode("latin-1") or None
            body = b""
            if method == "POST":
                body = await self._body(receive, headers)
                if content_type is not None and multipart_form.is_multipart(content_type):
                    body, content_type = _as_form(body, content_type)
            caller = await self._body_caller(scope, body, content_type, caller, address)
            in_query, in_body = scope.get("query_string", b"").count(b"&"), body.count(b"&")
            if in_query + in_body >= MAX_PARAMETERS:
                problem = f"more than {MAX_PARAMETERS} parameters"
                where = "body" if in_body >= in_query else "query"  # the part that holds most of them
                raise _Refused(answers.invalid_parameter(where, problem, caller.account.language), "invalid")
        except _Refused as refused:
            if counting.is_send(endpoint):
                counting.refused(refused.result)
            # A body left unread is never read: the server discards what the client still sends of it, and the
            # connection stays usable (closing it under a client still sending would lose the answer).
            await reply(send, 200, answers.encode(refused.text), [*_TEXT_HEADERS, *refused.headers])
            return
        except ClientGone:
            return  # a cut request: nothing of it is sent or charged, and nobody is left to answer
        except Exception as exc:
            await self._failed(send, exc, a_send=counting.is_send(endpoint))
            return
        params = decode_params(scope.get("query_string", b""), body, content_type)
        text = await self._answer(endpoint, caller, params, method)
        await reply(send, 200, answers.encode(text), _JSON_HEADERS if isinstance(text, JsonAnswer) else _TEXT_HEADERS)

    async def _batch(self, scope: Scope, receive: Receive, send: Send) -> None:
        """`sendSMSBatch.do` (POST only): credentials from the query string, checked before the upload is read;
        the upload read as it arrives (martinet.api.legacy.batch)."""
        if scope["method"] != "POST":
            await reply(send, 405, b"Method Not Allowed", [*_PLAIN, (b"allow", b"POST")])
            return
        address = client_address(scope)
        headers = dict(scope["headers"])
        try:
            caller = await self._query_caller(scope, address)
            if caller is None:
                raise _unauthorized()
        except _Refused as refused:
            counting.refused(refused.result)
            await reply(send, 200, answers.encode(refused.text), [*_TEXT_HEADERS, *refused.headers])
            return
        content_type = headers.get(b"content-type", b"").decode("latin-1") or None
        params = decode_params(scope.get("query_string", b""))
        call = Call(caller.account, params, "POST", caller.limits.lanes)
        try:
            campaign = await batch.open_campaign(self._services, call)
        except InvalidParameter as exc:
            counting.refused("invalid")
            text = answers.invalid_parameter(smsmode_name(exc.name), exc.problem, caller.account.language)
            await reply(send, 200, answers.encode(text), _TEXT_HEADERS)
            return
        try:
            text = await self._campaign_answer(campaign, call, caller, params, content_type, receive, headers)
        finally:
            campaign.close()  # its spool is removed whatever the answer: refused, accepted, or failed
        await reply(send, 200, answers.encode(text), _TEXT_HEADERS)

    async def _campaign_answer(
        self,
        campaign: Campaign,
        call: Call,
        caller: Caller,
        params: dict[str, str],
        content_type: str | None,
        receive: Receive,
        headers: dict[bytes, bytes],
    ) -> str:
        """The upload read into `campaign`, then the campaign accepted: the answer, `35` for a refused file."""
        try:
            upload = batch.BatchUpload(content_type, self._max_batch_rows, campaign.add)
            await batch.read_upload(receive, upload, self._max_upload, headers.get(b"content-length"))
            upload.finish()
        except InvalidParameter as exc:
            counting.refused("invalid")
            return answers.invalid_parameter(smsmode_name(exc.name), exc.problem, caller.account.language)
        except OSError:  # the spool could not be written (a full disk): the gateway's failure, not the file's
            raise
        except Exception:  # a multipart stream the parser cannot read
            log.info("unreadable sendSMSBatch.do upload", exc_info=True)
            counting.refused("invalid")
            return answers.invalid_parameter("fichier", "not a readable multipart upload", caller.account.language)
        endpoint = functools.partial(batch.send_batch, campaign=campaign)
        return await self._answer(endpoint, caller, params, "POST")

    async def _query_caller(self, scope: Scope, address: str | None) -> Caller | None:
        """Refuses a client over its failure limit, and credentials of the query string that are wrong, before
        the body is read; the caller named by the query string, if any."""
        wait = self._auth.retry_after(address)
        if wait > 0:
            raise _unauthorized(wait)
        found = find_credentials(scope.get("query_string", b""), None)
        if not found.complete:
            return None  # the body may complete them
        return await self._authenticate(found, address)

    async def _body_caller(
        self, scope: Scope, body: bytes, content_type: str | None, caller: Caller | None, address: str | None
    ) -> Caller:
        """The caller of the whole request: the body's credentials win over the query string's."""
        in_body = find_credentials(body, declared_charset(content_type)) if body else Credentials()
        if caller is not None and not in_body.any:
            return caller
        found = in_body.over(find_credentials(scope.get("query_string", b""), None))
        return await self._authenticate(found, address)

    async def _authenticate(self, found: Credentials, address: str | None) -> Caller:
        try:
            if found.token:
                caller = await self._auth.by_token(found.token, address)
            else:
                caller = await self._auth.by_password(found.login or "", found.password or "", address)
        except TooManyFailures as exc:
            raise _unauthorized(exc.retry_after) from None
        # A key used from a network it is not allowed from, or limited to lanes that exclude every lane this
        # door could use, authenticates nothing here (smsmode has no other answer for "not with this key").
        if (
            caller is None
            or not caller.limits.allows_address(address)
            or not caller.limits.allows_lane(caller.account.lane)
        ):
            raise _unauthorized()
        return caller

    async def _answer(
        self,
        endpoint: Callable[[LegacyServices, Call], Awaitable[str]],
        caller: Caller,
        params: dict[str, str],
        method: str,
    ) -> str:
        account = caller.account
        try:
            return await endpoint(self._services, Call(account, params, method, caller.limits.lanes, caller.limits))
        except InvalidParameter as exc:
            return answers.invalid_parameter(smsmode_name(exc.name), exc.problem, account.language)
        except Exception as exc:
            self._log_failure(exc)
            return answers.status_answer(answers.INTERNAL_ERROR, account.language)

    async def _failed(self, send: Send, exc: Exception, *, a_send: bool) -> None:
        """The gateway failed before the endpoint could answer (the store unreachable while the credentials are
        looked up, a batch's spool that cannot be written): smsmode's `31`, as for an endpoint's own failure,
        in French since the caller may not be known, and logged alike."""
        if a_send:
            counting.failed()
        self._log_failure(exc)
        await reply(send, 200, answers.encode(answers.status_answer(answers.INTERNAL_ERROR, "fr")), _TEXT_HEADERS)

    def _log_failure(self, exc: Exception) -> None:
        """A line per request the door answers `31`, the traceback thinned (`logs.Tracebacks`)."""
        log.error("legacy endpoint failed", extra={"error": logs.failure(exc)}, exc_info=self._tracebacks.of(exc))

    async def _body(self, receive: Receive, headers: dict[bytes, bytes]) -> bytes:
        """The whole body; refused as soon as it is known to be larger than allowed (announced or actual)."""
        try:
            return await read_body(receive, headers, self._max_body)
        except BodyTooLarge:
            text = answers.invalid_parameter("body", f"more than {self._max_body} bytes", "fr")
            raise _Refused(text, "invalid") from None
