"""Signing in to the console over HTTP, as a browser does: the login page's CSRF token, then the form."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

import httpx

from tests.gateway import Gateway

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@contextlib.asynccontextmanager
async def signed_in(
    gw: Gateway, login: str = "acme", password: str = "secret"
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client with a session of `login`, and the session's CSRF token."""
    async with httpx.AsyncClient(base_url=gw.base, timeout=30) as client:
        yield client, await sign_in(client, login, password)


async def sign_in(client: httpx.AsyncClient, login: str, password: str) -> str:
    page = await client.get("/console/login")
    token = CSRF.search(page.text)
    assert token is not None
    answer = await client.post("/console/login", data={"csrf": token.group(1), "login": login, "password": password})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/"
    dashboard = await client.get("/console/")
    fresh = CSRF.search(dashboard.text)
    assert fresh is not None and fresh.group(1) != token.group(1)  # signing in gives a new token
    return fresh.group(1)
