"""The address book and CSV campaigns at 100,000 lines, on SQLite and PostgreSQL.

For each database, `martinet serve --no-engine` (one HTTP worker, nothing else: the worker is the only child of
the supervisor, so its memory is its own) on a fresh database, then:
1. `POST /http/1.6/sendSMSBatch.do` (below), then `POST /sms/v1/contacts:import` of a 100,000-line CSV file (`;`, ISO-8859-15, names, a free field): time until
   the answer, every contact committed by then;
2. `POST /http/1.6/sendSMSBatch.do` of a 100,000-row campaign (`numero;message;emetteur;refClient`, every text its
   own), uploaded as `multipart/form-data` in 64 KiB chunks: time until `0 | Accepté | <campaignID>`, every
   message committed by then;
3. the HTTP worker's peak resident memory (VmHWM from /proc/<pid>/status) after the campaign and after the import
   (the campaign runs first, so its peak is its own), and its memory before;
4. on a fresh gateway and database, a campaign as large as the default upload limit allows: 100,000 rows of
   632-character texts (five parts each, `nbr_msg=5`), about 64 MiB, its time and the worker's peak memory.

Each is timed from the first byte sent to the answer. The figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.harness import MARTINET, admin_base, config_head, create_account, free_port, stop_group, wait_http
from bench.otp import database

ROWS = 100_000
FIRST_NAMES = ("Zoé", "Hélène", "Éric", "Paul", "Léa", "Noël", "Chloé", "Jérôme")


def contacts_file(rows: int) -> bytes:
    lines = ["Nom;Prénom;Mobile;Société;Code"]
    lines += [
        f"Nom{i};{FIRST_NAMES[i % len(FIRST_NAMES)]};06{10000000 + i:08d};Société {i % 100};C{i}" for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode("iso-8859-15")


def campaign_file(rows: int) -> bytes:
    lines = ['"numero";"message";"emetteur";"refClient"']
    lines += [
        f'"06{20000000 + i:08d}";"Bonjour {FIRST_NAMES[i % len(FIRST_NAMES)]}, votre commande {i} est prête ; '
        f'retrait avant 18 h.";"Boutique";"ref-{i}"'
        for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode("iso-8859-15")


#: The text length that makes a 100,000-row campaign as large as the default `http.max_upload_bytes` allows (the
#: multipart body, boundary and headers included, is 19 KiB under 64 MiB).
LONG_TEXT = 632


def long_campaign_file(rows: int) -> bytes:
    """Rows of LONG_TEXT-character texts, accented as French texts are (each one its own)."""
    lines = ['"numero";"message";"emetteur";"refClient"']
    for i in range(rows):
        head = f"Bonjour {FIRST_NAMES[i % len(FIRST_NAMES)]}, votre commande {i} est prête. "
        lines.append(f'"06{30000000 + i:08d}";"{(head * 20)[:LONG_TEXT]}";"Boutique";"ref-{i}"')
    return ("\n".join(lines) + "\n").encode("iso-8859-15")


def _post(base: str, path: str, body: bytes, content_type: str, headers: dict[str, str]) -> tuple[float, bytes]:
    """POST `body` in 64 KiB chunks; seconds from the first byte sent to the whole answer, and the answer."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=300)
    started = time.perf_counter()
    conn.putrequest("POST", path)
    for name, value in {**headers, "Content-Type": content_type, "Content-Length": str(len(body))}.items():
        conn.putheader(name, value)
    conn.endheaders()
    for offset in range(0, len(body), 65536):
        conn.send(body[offset : offset + 65536])
    answer = conn.getresponse().read()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, answer


def _multipart(field: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="campagne.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _memory(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def _worker(serve: int) -> int:
    """The HTTP worker: with --no-engine the supervisor's only spawned child."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError):
                    fields = Path(entry.path, "stat").read_text().rpartition(")")[2].split()
                    if int(fields[1]) == serve and b"spawn_main" in Path(entry.path, "cmdline").read_bytes():
                        return int(entry.name)
        time.sleep(0.1)
    raise RuntimeError("the gateway did not start its HTTP worker")


@contextlib.contextmanager
def _gateway(url: str, data: Path) -> Iterator[tuple[str, str, int]]:
    port = free_port()
    config = data / "martinet.toml"
    config.write_text(
        config_head(data, port, database_url=url, workers=1) + '[[connectors]]\nname = "sandbox"\ntype = "sandbox"\n'
    )
    token = create_account(config)
    process = subprocess.Popen(
        [*MARTINET, "serve", "--no-engine", "--config", str(config)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(data / "server.log", "w"),  # noqa: SIM115
    )
    try:
        wait_http(f"{admin_base(config)}/healthz")
        yield f"http://127.0.0.1:{port}", token, _worker(process.pid)
    finally:
        stop_group(process)


def run_one(database_url: str | None, rows: int = ROWS) -> dict[str, Any]:
    contacts, campaign = contacts_file(rows), campaign_file(rows)
    body, content_type = _multipart("fichier", campaign)
    with tempfile.TemporaryDirectory(prefix="martinet-bench-contacts-") as tmp:
        data = Path(tmp)
        with database(database_url, data) as url, _gateway(url, data) as (base, token, worker):
            before = _memory(worker)
            batch_s, answer = _post(base, f"/http/1.6/sendSMSBatch.do?accessToken={token}", body, content_type, {})
            if not answer.startswith(b"0 | "):
                raise RuntimeError(answer[:300])
            after_batch = _memory(worker)
            imported_s, answer = _post(base, "/sms/v1/contacts:import", contacts, "text/csv", {"X-Api-Key": token})
            if b'"created":' + str(rows).encode() not in answer:
                raise RuntimeError(answer[:300])
            after = _memory(worker)
        long_body, long_type = _multipart("fichier", long_campaign_file(rows))
        (data / "long").mkdir()
        with database(database_url, data / "long") as url, _gateway(url, data / "long") as (base, token, worker):
            long_s, answer = _post(
                base, f"/http/1.6/sendSMSBatch.do?accessToken={token}&nbr_msg=5", long_body, long_type, {}
            )
            if not answer.startswith(b"0 | "):
                raise RuntimeError(answer[:300])
            after_long = _memory(worker)
    return {
        "database": "PostgreSQL" if database_url else "SQLite",
        "rows": rows,
        "import_s": imported_s,
        "import_mib": len(contacts) / 2**20,
        "batch_s": batch_s,
        "batch_mib": len(body) / 2**20,
        "worker_rss_before_mib": before["VmRSS"],
        "worker_peak_batch_mib": after_batch["VmHWM"],
        "worker_peak_mib": after["VmHWM"],
        "long_batch_s": long_s,
        "long_batch_mib": len(long_body) / 2**20,
        "worker_peak_long_batch_mib": after_long["VmHWM"],
    }


def run(postgres: str | None = "postgresql://postgres@127.0.0.1:5432", rows: int = ROWS) -> list[dict[str, Any]]:
    results = [run_one(None, rows)]
    if postgres:
        results.append(run_one(postgres, rows))
    return results


if __name__ == "__main__":
    for result in run():
        print(result)
