"""The reference for the accept benchmark: a bare Starlette endpoint that parses the same form, nothing else."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def send_sms(request: Request) -> PlainTextResponse:
    form = await request.form()
    return PlainTextResponse(f"0 | ok | {len(form)}")


app = Starlette(routes=[Route("/http/1.6/sendSMS.do", send_sms, methods=["GET", "POST"])])
