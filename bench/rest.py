"""Accept rate of the REST door: `POST /sms/v1/messages` with one recipient, answered 201 once durable.

Same setup as `bench/accept.py` (a `martinet serve` on a fresh SQLite file with `synchronous=full`, wrk with
2 threads and 64 connections on the same two cores), with a JSON body and the `X-Api-Key` header. wrk's Lua
script gives each request its own `refClient` and counts the 201 answers (only those are accepted); the sends
found in the database afterwards are counted as well.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bench.harness import WrkResult, _lua_string, gateway, run_wrk

PATH = "/sms/v1/messages"
TEXT = "Votre code de connexion est 482913"

_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-Key"] = {token}
local threads = {{}}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  accepted = 0
  sent = 0
end

function request()
  sent = sent + 1
  local body = string.format(
    '{{"recipient":{{"to":"+33612345678"}},"body":{{"text":{text}}},"refClient":"bench-%d-%d"}}', id, sent)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 201 then
    accepted = accepted + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("accepted")
  end
  io.write(string.format("Accepted (201): %d\\n", total))
end
"""


@dataclass
class RestWrkResult:
    wrk: WrkResult
    accepted: int  # 201 answers counted by the Lua script

    @property
    def accepted_per_second(self) -> float:
        if self.wrk.requests == 0:
            return 0.0
        return self.wrk.requests_per_second * self.accepted / self.wrk.requests


@dataclass
class RestResult:
    accept_only: RestWrkResult
    with_engine: RestWrkResult
    sends_in_store: int  # accept-only run, warm-up included


def wrk_rest(url: str, token: str, *, seconds: int = 10, connections: int = 64, threads: int = 2) -> RestWrkResult:
    # The text is a JSON string inside a Lua string literal inside a string.format pattern.
    text = '"' + TEXT.replace("%", "%%") + '"'
    script = _SCRIPT.format(token=_lua_string(token), text=text)
    result, output = run_wrk(url, script, seconds=seconds, connections=connections, threads=threads)
    accepted = int(re.search(r"Accepted \(201\): (\d+)", output).group(1))  # type: ignore[union-attr]
    return RestWrkResult(result, accepted)


def run(seconds: int = 10) -> RestResult:
    def measure(url: str, token: str) -> RestWrkResult:
        wrk_rest(url, token, seconds=2)  # warm-up
        return wrk_rest(url, token, seconds=seconds)

    with gateway(engine=False) as gw:
        accept_only = measure(f"{gw.base}{PATH}", gw.token)
        in_store = _count_sends(gw.data / "martinet.db")
    with gateway() as gw:  # the default: one HTTP worker on SQLite, and the engine dispatching to the sandbox
        with_engine = measure(f"{gw.base}{PATH}", gw.token)
    return RestResult(accept_only, with_engine, in_store)


def _count_sends(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return int(conn.execute("select count(*) from sends").fetchone()[0])


if __name__ == "__main__":
    figures = run()
    print(figures, f"accept only: {figures.accept_only.accepted_per_second:,.0f}/s")
