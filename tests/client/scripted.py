"""A tiny HTTP/1.1 server on loopback that answers from a script: to see what the SDK does when the network or
the gateway misbehaves (dropped connections, slow answers, 5xx, 429), and what it sent each time."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (to trigger read timeouts)
    drop: bool = False  # close the connection without answering

    def wire(self) -> bytes:
        if isinstance(self.body, dict | list):
            payload = json.dumps(self.body).encode()
            content_type = "application/json"
        else:
            payload = self.body
            content_type = "text/plain; charset=ISO-8859-15"
        headers = {"Content-Type": content_type, **self.headers, "Content-Length": str(len(payload))}
        head = f"HTTP/1.1 {self.status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return (head + "Connection: close\r\n\r\n").encode("latin-1") + payload


DROP = Answer(drop=True)


def reply(status: int, body: Any = b"", **headers: str) -> Answer:
    return Answer(status, body, {k.replace("_", "-"): v for k, v in headers.items()})


class ScriptedServer:
    def __init__(
        self, script: list[Answer] | None = None, default: Answer | Callable[[Received], Answer] | None = None
    ):
        self.script = list(script or [])
        self.default = default or Answer(200, {})
        self.requests: list[Received] = []
        self.base = ""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            received = Received(method, target, headers, body)
            self.requests.append(received)
            if self.script:
                answer = self.script.pop(0)
            elif callable(self.default):
                answer = self.default(received)
            else:
                answer = self.default
            if answer.delay:
                await asyncio.sleep(answer.delay)
            if not answer.drop:
                writer.write(answer.wire())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def scripted(
    script: list[Answer] | None = None, default: Answer | Callable[[Received], Answer] | None = None
) -> AsyncIterator[ScriptedServer]:
    server = ScriptedServer(script, default)
    listener = await asyncio.start_server(server._handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    server.base = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        listener.close()
        await listener.wait_closed()


MESSAGE: dict[str, Any] = {
    "messageId": "JtT3cRqYyAfw1N2c-0",
    "smsId": "JtT3cRqYyAfw1N2c",
    "acceptedAt": "2026-11-26T18:30:00.123Z",
    "channel": {"type": "SMS", "flow": "TRANSACTIONAL"},
    "direction": "MT",
    "recipient": {"to": "33612345678"},
    "from": "Acme",
    "body": {"text": "Your code is 123456", "encoding": "GSM7", "messagePartCount": 1, "length": 19},
    "status": {"value": "ENROUTE", "code": 1, "deliveryDate": None, "updatedAt": "2026-11-26T18:30:00.123Z"},
    "price": {"amount": 1.0, "currency": "CREDIT"},
    "refClient": "order-42",
    "sentDate": None,
    "href": "/sms/v1/messages/JtT3cRqYyAfw1N2c-0",
}

REPLY: dict[str, Any] = {
    "responseId": "r17",
    "direction": "MO",
    "from": "33612345678",
    "recipient": {"to": "36180"},
    "body": {"text": "Yes please", "length": 10},
    "receivedAt": "2026-11-26T18:31:02.000Z",
    "smsId": "JtT3cRqYyAfw1N2c",
    "refClient": "order-42",
    "href": "/sms/v1/replies/r17",
}


def message(message_id: str = "JtT3cRqYyAfw1N2c-0", **changes: Any) -> dict[str, Any]:
    return {**MESSAGE, "messageId": message_id, **changes}
