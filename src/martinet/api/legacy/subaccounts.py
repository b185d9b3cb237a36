"""The smsmode sub-account endpoints: `createSubAccount.do`, `deleteSubAccount.do`, `creditTransfert.do`, and
`/http/2.0/createAuthorisation.do`, each a thin face on `ResellerService` (docs/resellers.md).

smsmode answers `41` both when a new login exists already and when a target login is unknown; here a login the
caller does not manage is unknown too, so a reseller learns nothing about accounts outside its tree.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson

from martinet.api.legacy import answers
from martinet.api.legacy.endpoints import Call, Endpoint, LegacyServices
from martinet.clock import now_ms
from martinet.domain.credits import MILLI
from martinet.services.accept import InvalidParameter
from martinet.services.resellers import PROFILE_FIELDS, InvalidField, NotAllowed, NotManaged, ResellerService
from martinet.store.account_tree import AccountClosed, HasSubAccounts
from martinet.store.accounts import InsufficientCredit, LoginTaken

LOGIN_TAKEN = ("Pseudo déjà existant", "Login already exists")
LOGIN_UNKNOWN = ("Pseudo inconnu", "Unknown login")
CREATED = ("Sous-compte créé", "Sub-account created")
DELETED = ("Sous-compte supprimé", "Sub-account deleted")
TRANSFERRED = ("Transfert effectué", "Transfer done")
#: The largest transfer: a whole number of credits the ledger's 64-bit millicredits hold with room to spare.
MAX_TRANSFER = 10**12
_INTEGER = re.compile(r"[0-9]{1,13}")
CODE_41 = 41


class JsonAnswer(str):
    """An answer the door sends as `application/json` (the 2.0 endpoint) rather than smsmode text."""


def _say(code: int, texts: tuple[str, str], language: str) -> str:
    return f"{code} | {texts[1] if language == 'en' else texts[0]}"


def _resellers(services: LegacyServices) -> ResellerService:
    if services.resellers is None:
        raise RuntimeError("sub-accounts are not wired in this process")
    return services.resellers


def _required(call: Call, name: str, shown: str) -> str:
    value = call.params.get(name, "").strip()
    if not value:
        raise InvalidParameter(shown, "missing")
    return value


async def create_sub_account(services: LegacyServices, call: Call) -> str:
    login = _required(call, "newpseudo", "newPseudo")
    password = _required(call, "newpass", "newPass")
    profile = {name: call.params[name.lower()] for name in PROFILE_FIELDS if call.params.get(name.lower())}
    try:
        await _resellers(services).create_subaccount(call.account, login, password, profile=profile)
    except InvalidField as exc:
        raise InvalidParameter(exc.name, exc.problem) from None
    except LoginTaken:
        return _say(CODE_41, LOGIN_TAKEN, call.language)
    return _say(answers.ACCEPTED, CREATED, call.language)


async def delete_sub_account(services: LegacyServices, call: Call) -> str:
    login = _required(call, "pseudotodelete", "pseudoToDelete")
    resellers = _resellers(services)
    try:
        target = await resellers.account_by_login(call.account, login)
        await resellers.delete_subaccount(call.account, target)
    except (NotManaged, NotAllowed, AccountClosed):
        return _say(CODE_41, LOGIN_UNKNOWN, call.language)
    except HasSubAccounts:
        raise InvalidParameter("pseudoToDelete", "has sub-accounts: delete them first") from None
    return _say(answers.ACCEPTED, DELETED, call.language)


async def credit_transfert(services: LegacyServices, call: Call) -> str:
    login = _required(call, "targetpseudo", "targetPseudo")
    raw = _required(call, "creditamount", "creditAmount")
    if not _INTEGER.fullmatch(raw) or not 0 < int(raw) <= MAX_TRANSFER:
        raise InvalidParameter("creditAmount", f"a whole number of credits, 1 to {MAX_TRANSFER}")
    reference = call.params.get("reference", "").strip() or None
    resellers = _resellers(services)
    try:
        receiver = await resellers.transfer_target(call.account, login)
        await resellers.transfer(call.account, receiver, int(raw) * MILLI, reference=reference)
    except (NotManaged, AccountClosed):
        return _say(CODE_41, LOGIN_UNKNOWN, call.language)
    except InsufficientCredit:
        return answers.status_answer(answers.INSUFFICIENT_CREDIT, call.language)
    except InvalidField as exc:
        name = {"to": "targetPseudo", "amount": "creditAmount"}.get(exc.name, exc.name)
        raise InvalidParameter(name, exc.problem) from None
    return _say(answers.ACCEPTED, TRANSFERRED, call.language)


async def create_authorisation(services: LegacyServices, call: Call) -> str:
    """A new API key for the caller, no wider than the key (or password) that asked for it."""
    now = now_ms()
    created = await _resellers(services).create_key(call.account, call.limits, label="createAuthorisation", now=now)
    zone = ZoneInfo(call.account.timezone)
    return JsonAnswer(
        orjson.dumps(
            {
                "id": str(created.id),
                "accessToken": created.token,
                "creationDate": _date(created.created_at, zone),
                "state": "ENABLED",
                "expiration": None if created.expires_at is None else _date(created.expires_at, zone),
                "account": call.account.login,
            }
        ).decode()
    )


def _date(ms: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, zone).isoformat(timespec="milliseconds")


#: The 1.6 endpoints of this module, by smsmode name.
SUBACCOUNT_ENDPOINTS: dict[str, Endpoint] = {
    "createSubAccount": create_sub_account,
    "deleteSubAccount": delete_sub_account,
    "creditTransfert": credit_transfert,
}
#: The one endpoint of path `/http/2.0/`.
V2_PREFIX = "/http/2.0/"
V2_ENDPOINTS: dict[str, Endpoint] = {"createAuthorisation": create_authorisation}
