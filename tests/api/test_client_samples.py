"""smsmode's published ways of calling `sendSMS.do` work against Martinet with only the base URL changed.

Each client program under tests/samples/ is written the way smsmode's sample for its language is (curl, Python
`requests`, PHP, Node.js, Java, C#), runs as a real subprocess against a gateway on loopback, and sends a French
text with accents and the euro sign. The test then reads the stored text back through `smsList.do`, so a
charset mistake anywhere (the client's encoding, the gateway's guess, the answer's encoding) shows as a wrong
character. One SQLite database is enough here: the send path is the same on both.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from martinet.store.schema import sends
from tests.gateway import Gateway, running_gateway

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

# Every character is in GSM 03.38 (é à è ù) or its extension table (€), so classe_msg=2 keeps the text whole;
# "+", "&", "=" and "%" would cut or corrupt the form field if a client forgot to percent-encode them.
MESSAGE = "Café à 5 €, crème & thé = 7 € (+1) où ?"
UNICODE_MESSAGE = "Café à 5 € 😀 été"
NUMERO = "0612345678"
MSISDN = "33612345678"

ACCEPTED = re.compile(r"0 \| Accepté \| ([A-Za-z0-9]{12})")


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(f"sqlite:///{tmp_path / 'm.db'}") as gateway:
        yield gateway


async def run(*command: str | bytes | Path, env: dict[str, str] | None = None, timeout: float = 60) -> bytes:
    """Run a client program without blocking the gateway's event loop; its standard output, after success."""
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"{command[0]!r} did not finish within {timeout}s") from None
    assert process.returncode == 0, f"{command[0]!r} exited with {process.returncode}: {err.decode(errors='replace')}"
    return out


def accepted_id(output: bytes) -> str:
    """The smsID of an answer `0 | Accepté | <id>`, read as the ISO-8859-15 text it is."""
    answer = output.decode("iso-8859-15")
    match = ACCEPTED.fullmatch(answer)
    assert match, f"not an acceptance: {answer!r}"
    return match.group(1)


async def history(gw: Gateway) -> dict[str, list[str]]:
    """smsList.do as a client reads it: smsID → [smsID, date, text, recipient, cost, recipient count]."""
    async with gw.client() as http:
        reply = await http.get("/smsList.do", params={"accessToken": gw.token})
    assert reply.headers["content-type"] == "text/plain; charset=ISO-8859-15"
    records = {}
    for line in reply.content.decode("iso-8859-15").splitlines():
        assert line.endswith(" |"), line
        fields = line.removesuffix(" |").split(" | ")
        assert len(fields) == 6, line
        records[fields[0]] = fields
    return records


async def assert_stored(gw: Gateway, output: bytes, text: str) -> str:
    """The program's answer accepted the send, and smsList.do shows exactly `text` for it."""
    sms_id = accepted_id(output)
    records = await history(gw)
    assert sms_id in records, records
    _, _, stored, recipient, cost, count = records[sms_id]
    assert stored == text
    assert (recipient, cost, count) == (MSISDN, "1", "1")
    return sms_id


async def stored_in_database(gw: Gateway, sms_id: str) -> tuple[str, str]:
    """(text, encoding) of a send as the gateway recorded it, for what an ISO-8859-15 answer cannot show."""
    async with gw.db.reader.connect() as conn:
        text, encoding = (await conn.execute(select(sends.c.text, sends.c.encoding).where(sends.c.id == sms_id))).one()
    return text, encoding


def require(program: str, install: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed ({install})")
    return path


# --- curl ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MESSAGE, MESSAGE),
        # "–" (en dash) is in neither GSM table: classe_msg=2 sends "?" in its place, and nothing else changes.
        ("Café à 5 € – été", "Café à 5 € ? été"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_curl_utf8_form(gw: Gateway, text: str, expected: str, method: str) -> None:
    """`curl --data-urlencode` sends the shell's UTF-8 bytes; the gateway recognises UTF-8 and keeps the text."""
    curl = require("curl", "install curl")
    get = ["-G"] if method == "GET" else ["-X", "POST"]
    output = await run(
        curl, "-sS", "--fail", *get, f"{gw.legacy}/sendSMS.do",
        "-d", f"accessToken={gw.token}", "-d", f"numero={NUMERO}",
        "--data-urlencode", f"message={text}".encode(),
    )  # fmt: skip
    await assert_stored(gw, output, expected)


async def test_curl_multipart_form(gw: Gateway) -> None:
    """`curl --form-string` posts multipart/form-data, the shell's UTF-8 bytes as they are: read as a form would be."""
    curl = require("curl", "install curl")
    output = await run(
        curl, "-sS", "--fail", f"{gw.legacy}/sendSMS.do",
        "--form-string", f"accessToken={gw.token}", "--form-string", f"numero={NUMERO}",
        "--form-string", f"message={MESSAGE}".encode(),
    )  # fmt: skip
    await assert_stored(gw, output, MESSAGE)


async def test_curl_iso_8859_15_pre_encoded(gw: Gateway) -> None:
    """A body already percent-encoded in ISO-8859-15 (`%E9` é, `%E0` à, `%A4` €, `+` space) is read as such."""
    curl = require("curl", "install curl")
    output = await run(
        curl, "-sS", "--fail", "-X", "POST", f"{gw.legacy}/sendSMS.do",
        "-d", f"accessToken={gw.token}", "-d", f"numero={NUMERO}",
        "--data-binary", "message=Caf%E9+%E0+5+%A4%2C+cr%E8me+%26+th%E9+%3D+7+%A4+%28%2B1%29+o%F9+%3F",
    )  # fmt: skip
    await assert_stored(gw, output, MESSAGE)


async def test_curl_windows_1252_euro(gw: Gateway) -> None:
    """The decoding module's own contract: `%80` is € as well as `%A4` (clients that encode in Windows-1252)."""
    curl = require("curl", "install curl")
    output = await run(
        curl, "-sS", "--fail", "-X", "POST", f"{gw.legacy}/sendSMS.do",
        "-d", f"accessToken={gw.token}", "-d", f"numero={NUMERO}", "--data-binary", "message=Caf%E9+%E0+5+%80",
    )  # fmt: skip
    await assert_stored(gw, output, "Café à 5 €")


async def test_curl_unicode_classe_9(gw: Gateway) -> None:
    """classe_msg=9 with a UTF-8 emoji: stored whole as UCS-2; the ISO-8859-15 list can only show it as '?'."""
    curl = require("curl", "install curl")
    output = await run(
        curl, "-sS", "--fail", "-X", "POST", f"{gw.legacy}/sendSMS.do",
        "-d", f"accessToken={gw.token}", "-d", f"numero={NUMERO}", "-d", "classe_msg=9",
        "--data-urlencode", f"message={UNICODE_MESSAGE}".encode(),
    )  # fmt: skip
    sms_id = await assert_stored(gw, output, "Café à 5 € ? été")
    assert await stored_in_database(gw, sms_id) == (UNICODE_MESSAGE, "UCS-2")


# --- Python requests -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["get", "get-quoted", "post", "multipart"])
async def test_python_requests_iso_8859_15(gw: Gateway, mode: str) -> None:
    """requests with the text as ISO-8859-15 bytes, in a params dict, a hand-quoted URL, a form body or a
    multipart body."""
    output = await run(sys.executable, SAMPLES / "send_requests.py", gw.legacy, gw.token, NUMERO, mode)
    await assert_stored(gw, output, MESSAGE)


async def test_python_requests_unicode_classe_9(gw: Gateway) -> None:
    """requests given `str` values posts UTF-8; with classe_msg=9 the emoji is kept (two UCS-2 units)."""
    output = await run(sys.executable, SAMPLES / "send_requests.py", gw.legacy, gw.token, NUMERO, "post-unicode")
    sms_id = await assert_stored(gw, output, "Café à 5 € ? été")
    assert await stored_in_database(gw, sms_id) == (UNICODE_MESSAGE, "UCS-2")


# --- PHP -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["get", "post", "curl", "curl-array"])
async def test_php_iconv_urlencode(gw: Gateway, mode: str) -> None:
    """iconv UTF-8 → ISO-8859-15, urlencode, then file_get_contents (GET or POST) or the curl extension; or the
    curl extension given an array, which it posts as multipart/form-data."""
    php = require("php", "install php-cli")
    if mode.startswith("curl"):
        probe = await asyncio.create_subprocess_exec(php, "-r", "exit(function_exists('curl_init') ? 0 : 1);")
        if await probe.wait() != 0:
            pytest.skip("PHP's curl extension is not installed (install php-curl)")
    output = await run(php, SAMPLES / "send_sms.php", gw.legacy, gw.token, NUMERO, mode)
    await assert_stored(gw, output, MESSAGE)


REST_MESSAGE = 'Café <b> & "ok" l\'été 😀 €'


@pytest.mark.parametrize("scheduled", [False, True], ids=["now", "scheduled"])
async def test_php_rest_send_as_symfony_notifier_makes_it(gw: Gateway, scheduled: bool) -> None:
    """The REST door takes a send shaped as Symfony Notifier's smsmode bridge shapes it (every non-ASCII character
    and `<>&'"` escaped, the emoji as a surrogate pair) and answers 201 with the `messageId` the bridge reads; the
    text is stored whole, the sender, reference and schedule as sent."""
    php = require("php", "install php-cli")
    probe = await asyncio.create_subprocess_exec(php, "-r", "exit(function_exists('curl_init') ? 0 : 1);")
    if await probe.wait() != 0:
        pytest.skip("PHP's curl extension is not installed (install php-curl)")
    # A time in a month, written with an offset as a PHP program's DateTime::format(DATE_ATOM) writes it.
    when = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    sent_date = when.astimezone(timezone(timedelta(hours=2))).isoformat() if scheduled else ""
    output = await run(
        php, SAMPLES / "rest_send_symfony_style.php", gw.base, gw.token, "+33612345678", "MyShop", "ref-42", sent_date
    )
    status, _, body = output.partition(b"\n")
    assert status == b"201", output
    answer = json.loads(body)
    assert answer["messageId"] == f"{answer['smsId']}-0"
    assert (answer["body"]["text"], answer["body"]["encoding"]) == (REST_MESSAGE, "UNICODE")
    assert (answer["from"], answer["refClient"], answer["recipient"]["to"]) == ("MyShop", "ref-42", MSISDN)
    assert answer["sentDate"] == (when.strftime("%Y-%m-%dT%H:%M:%S.000Z") if scheduled else None)
    assert await stored_in_database(gw, answer["smsId"]) == (REST_MESSAGE, "UCS-2")


# --- Node.js -------------------------------------------------------------------------------------------------


async def test_node_latin9_form_post(gw: Gateway) -> None:
    """http.request POST of a form encoded by the sample's own ISO-8859-15 percent-encoder."""
    node = require("node", "install nodejs")
    output = await run(node, SAMPLES / "send_sms.js", gw.legacy, gw.token, NUMERO)
    await assert_stored(gw, output, MESSAGE)


# --- Java ----------------------------------------------------------------------------------------------------


async def test_java_urlencoder_httpurlconnection(gw: Gateway, tmp_path: Path) -> None:
    """URLEncoder.encode(text, "ISO-8859-15") and a form POST through HttpURLConnection."""
    javac = require("javac", "install default-jdk-headless")
    java = require("java", "install default-jdk-headless")
    classes = tmp_path / "classes"
    await run(javac, "-encoding", "UTF-8", "-d", classes, SAMPLES / "SendSms.java", timeout=120)
    output = await run(java, "-cp", classes, "SendSms", gw.legacy, gw.token, NUMERO)
    await assert_stored(gw, output, MESSAGE)


# --- C# ------------------------------------------------------------------------------------------------------


async def test_csharp_httpclient(gw: Gateway, tmp_path: Path) -> None:
    """HttpUtility.UrlEncode(text, ISO-8859-15) and an HttpClient form POST (needs the .NET SDK)."""
    dotnet = shutil.which("dotnet")
    if dotnet is None:
        pytest.skip("dotnet is not installed (it is not in Debian's archive: install the .NET SDK from Microsoft)")
    environment = {
        **os.environ,
        "DOTNET_CLI_TELEMETRY_OPTOUT": "1",
        "DOTNET_NOLOGO": "1",
        "DOTNET_SKIP_FIRST_TIME_EXPERIENCE": "1",
    }
    version = await asyncio.create_subprocess_exec(
        dotnet, "--version", env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    sdk = (await version.communicate())[0].decode().strip()
    if version.returncode != 0 or not sdk[:1].isdigit():
        pytest.skip("dotnet has no SDK (install the .NET SDK from Microsoft)")
    major = sdk.split(".")[0]
    project = tmp_path / "sendsms"
    project.mkdir()
    (project / "SendSms.csproj").write_text(
        '<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><OutputType>Exe</OutputType>'
        f"<TargetFramework>net{major}.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings>"
        "</PropertyGroup></Project>\n",
        encoding="utf-8",
    )
    shutil.copy(SAMPLES / "SendSms.cs", project / "Program.cs")
    await run(dotnet, "build", project, "-o", project / "out", env=environment, timeout=300)
    output = await run(dotnet, project / "out" / "SendSms.dll", gw.legacy, gw.token, NUMERO, env=environment)
    await assert_stored(gw, output, MESSAGE)
