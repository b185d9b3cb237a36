"""The demo gateway of `make run`: a data folder with its configuration, database and demo account.

On first start `martinet demo` writes `DIR/martinet.toml` (SQLite database in DIR, the SMSC simulator as carrier,
the sandbox for test accounts) and `DIR/smsc.toml`, creates
the `demo` account with 1,000 credits and writes its access token to `DIR/demo-token` and its web console password
to `DIR/demo-password`. Later starts keep all of it: the configuration is the operator's to edit, and the token
and password printed are the ones in the files. Each start also prints a fresh one-time sign-in link to the console.

The folder holds secrets (the SMPP password in the configuration, the token, the database with its webhook
secrets), so it is created readable by its owner only (0700) and so are its files (0600).
"""

from __future__ import annotations

import os
from pathlib import Path

from martinet.config import Settings, load_settings
from martinet.domain.credits import to_milli

CONFIG_NAME = "martinet.toml"
SMSC_CONFIG_NAME = "smsc.toml"
SIP_TRUNK_CONFIG_NAME = "sip-trunk.toml"
TOKEN_NAME = "demo-token"  # noqa: S105 (a file name, not a secret)
PASSWORD_NAME = "demo-password"  # noqa: S105 (a file name, not a secret)
DEMO_LOGIN = "demo"
REPLY_NUMBER = "38100"  # the simulator's number that receives replies to the demo's classe_msg=4 sends
DEMO_CREDITS = 1000
SIP_PORT = 5070  # where the demo's SIP trunk simulator listens

_TEMPLATE = """\
# Martinet configuration, written by `martinet demo` on its first start and kept on later starts.
# Every option and its default: docs/configuration.md. Environment variables MARTINET_SECTION__OPTION win.

[database]
url = "sqlite:///{db}"

[http]
host = "127.0.0.1"
port = 8080

[accounts]
# The demo's traffic is transactional: it is not held back by marketing rules.
lane = "notification"

# Callbacks may go to this machine (a receiver on localhost while trying things out); a shared installation keeps
# the default, which refuses loopback and private addresses: docs/webhooks.md.
[callbacks]
allow_private_networks = true

# Replies to the simulator's reply number (see its connector) that answer no send belong to the demo account.
[replies]
owners = {{ "{reply_number}" = "{login}" }}

# The web console at /console/ (docs/console.md): the demo account also sees the operator pages.
[console]
secret_key = "{console_secret}"
operators = ["{login}"]

# The SMSC simulator, started beside the gateway, plays the carrier: docs/smsc.md.
[simulator]
config = "{smsc_config}"
# The SIP trunk simulator plays the telephone network of voice messages (sendVoiceMessage.do): docs/voice.md.
sip_trunk = "{sip_trunk_config}"

[[connectors]]
name = "simulator"
type = "smpp"
host = "{smpp_host}"
port = {smpp_port}
system_id = "martinet"
password = "{smpp_password}"
reconnect_min = 0.5
reconnect_max = 5
# classe_msg=4 sends leave from this number of the simulator, so that replies come back to them (docs/compatibility.md).
reply_numbers = ["{reply_number}"]

# Voice messages are called through the SIP trunk simulator (docs/voice.md).
[[connectors]]
name = "voice"
type = "sip"
host = "{sip_host}"
port = {sip_port}
ring_timeout = 10
attempts = 2
retry_delay = 5

# Accounts created with `martinet account create --sandbox` use this pretend carrier instead (docs/sandbox.md).
[[connectors]]
name = "sandbox"
type = "sandbox"
operator_delay = 0.2
handset_delay = 1.0
"""

_SMSC_TEMPLATE = """\
# The SMSC simulator of the demo gateway (docs/smsc.md). Every message is delivered, with an intermediate
# receipt first, except the test range {test_prefix}0001..0006, whose numbers fail each in its own way.
listen = "{smpp_host}:{smpp_port}"
control = "{smpp_host}:{control_port}"
intermediate_receipt = "ENROUTE"
intermediate_delay = 0.2
receipt_delay = 1.0
test_prefix = "{test_prefix}"

[[credentials]]
system_id = "martinet"
password = "{smpp_password}"

[outcomes]
DELIVRD = 100
"""

_SIP_TRUNK_TEMPLATE = """\
# The SIP trunk simulator of the demo gateway (docs/voice.md). Every call is answered after half a second and
# what it carries is recorded in {recordings}, except the numbers 01 99 99 9x xx, which fail each in its own way:
# 91 busy (486), 92 unavailable (480), 93 declined (603), 94 rings until the caller gives up, 95 never answers,
# 96 answered then hung up after one second.
listen = "{sip_host}:{sip_port}"
transport = "udp"
recordings = "{recordings}"
"""

#: Numbers 07 59 99 0x xx: valid French mobiles (the gateway accepts them) reserved for failures on purpose.
TEST_PREFIX = "3375999"


def settings_for(
    data: Path,
    *,
    create: bool = False,
    smpp: tuple[str, int] = ("127.0.0.1", 2775),
    sip: tuple[str, int] = ("127.0.0.1", SIP_PORT),
) -> Settings:
    """The settings of a data folder; with `create`, write its configuration first if it has none.

    `smpp` is where the demo's simulator listens (its control endpoint takes the next port), `sip` where its SIP
    trunk simulator does; both are written into the files on first start only.
    """
    path = data / CONFIG_NAME
    if not path.exists():
        if not create:
            return load_settings(None).model_copy(update={"database": _sqlite_in(data)})
        private_folder(data)
        folder = data.resolve()
        values = {
            "db": (folder / "martinet.db").as_posix(),
            "smsc_config": (folder / SMSC_CONFIG_NAME).as_posix(),
            "sip_trunk_config": (folder / SIP_TRUNK_CONFIG_NAME).as_posix(),
            "sip_host": sip[0],
            "sip_port": sip[1],
            "recordings": (folder / "calls").as_posix(),
            "smpp_host": smpp[0],
            "smpp_port": smpp[1],
            "control_port": smpp[1] + 1,
            "smpp_password": _base62_password(),
            "test_prefix": TEST_PREFIX,
            "reply_number": REPLY_NUMBER,
            "login": DEMO_LOGIN,
            "console_secret": _console_secret(),
        }
        write_private(folder / SMSC_CONFIG_NAME, _SMSC_TEMPLATE.format(**values))
        write_private(folder / SIP_TRUNK_CONFIG_NAME, _SIP_TRUNK_TEMPLATE.format(**values))
        write_private(path, _TEMPLATE.format(**values))
    return load_settings(path)


def _base62_password() -> str:
    """An 8-character SMPP password (the protocol's maximum) for the demo's own simulator."""
    from martinet.domain.ids import new_access_token

    return new_access_token()[:8]


def _console_secret() -> str:
    import secrets

    return secrets.token_urlsafe(32)


def _sqlite_in(data: Path) -> object:
    from martinet.config import DatabaseConfig

    return DatabaseConfig(url=f"sqlite:///{(data.resolve() / 'martinet.db').as_posix()}")


async def prepare(settings: Settings, data: Path) -> str:
    """Schema, demo account and token file; returns the demo access token."""
    from martinet.app import account_service, open_store
    from martinet.services.credentials import token_hash
    from martinet.store.accounts import AccountStore
    from martinet.store.migrate import upgrade

    db = open_store(settings)
    try:
        await upgrade(db)
        token_file = data / TOKEN_NAME
        service = account_service(settings, db)
        store = AccountStore(db, lambda: 0)
        existing = await store.by_login(DEMO_LOGIN)
        if existing is None:
            created = await service.create(DEMO_LOGIN, credits=to_milli(DEMO_CREDITS), lane="notification")
            write_private(token_file, created.token + "\n")
            return created.token
        token = token_file.read_text(encoding="utf-8").strip() if token_file.exists() else ""
        if not token or await store.by_token_hash(token_hash(token)) is None:
            from martinet.domain.ids import new_access_token

            token = new_access_token()
            await store.add_api_key(existing[0].id, token_hash(token), label="demo")
            write_private(token_file, token + "\n")
        return token
    finally:
        await db.dispose()


async def console_sign_in(settings: Settings, data: Path) -> tuple[str, str]:
    """The demo account's console password (made on first start, kept in DIR/demo-password) and a fresh one-time
    sign-in link path; `settings` must carry the console's secret key."""
    from martinet.app import open_store
    from martinet.app_console import sign_in_links
    from martinet.domain.ids import new_access_token
    from martinet.services.credentials import hash_password
    from martinet.store.accounts import set_password_hash

    db = open_store(settings)
    try:
        password_file = data / PASSWORD_NAME
        password = password_file.read_text(encoding="utf-8").strip() if password_file.exists() else ""
        if not password:
            password = new_access_token()[:12]
            await set_password_hash(db, DEMO_LOGIN, hash_password(password))
            write_private(password_file, password + "\n")
        token = await sign_in_links(settings, db).issue(DEMO_LOGIN)
        return password, f"/console/link/{token}"
    finally:
        await db.dispose()


def private_folder(path: Path) -> None:
    """Create `path` (and missing parents) readable by its owner only; an existing folder is left as it is."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file only its owner may read, whatever the umask; an existing file is made so too."""
    private_folder(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def banner(base: str, data: Path, token: str, *, admin: str, console: tuple[str, str] | None = None) -> str:
    """What `make run` prints; `console` is the demo's console password and one-time sign-in link path."""
    lines = ""
    if console is not None:
        password, link = console
        lines = (
            f"  web console      : {base}/console/   login {DEMO_LOGIN}, password {password} (also in "
            f"{data / PASSWORD_NAME})\n"
            f"  one-time sign-in : {base}{link}\n"
        )
    return (
        "\nMartinet demo gateway\n"
        f"{lines}"
        f"  smsmode HTTP API : {base}/http/1.6/\n"
        f"  REST API         : {base}/sms/v1/ (described at {base}/sms/v1/docs)\n"
        f"  admin            : {admin}/readyz, {admin}/metrics\n"
        f"  data             : {data}\n"
        f"  demo access token: {token}   (also in {data / TOKEN_NAME})\n\n"
        "  Try it:\n"
        f"    curl -X POST '{base}/http/1.6/sendSMS.do' -d accessToken={token} \\\n"
        "         -d numero=0612345678 --data-urlencode 'message=Hello from Martinet'\n"
        f"    curl -X POST '{base}/http/1.6/sendVoiceMessage.do' -d accessToken={token} \\\n"
        "         -d numero=0145678901 --data-urlencode 'message=Votre code est 482913'\n"
    )
