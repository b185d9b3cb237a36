"""The smsmode endpoints: each turns decoded parameters into a service call and the answer into smsmode text."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from martinet.api.legacy import answers, counting, params
from martinet.domain.credits import format_credits
from martinet.domain.keys import UNLIMITED, KeyLimits
from martinet.domain.recipients import Recipient, parse_recipient
from martinet.domain.status import describe
from martinet.domain.valueclass import valueclass
from martinet.services.accept import InvalidParameter, SendRequest, SendService
from martinet.services.contacts import ContactService
from martinet.services.replies import ReplyService
from martinet.services.reports import ReportService
from martinet.services.resellers import ResellerService
from martinet.store.accounts import Account

GET_MAX_RECIPIENTS = 300
LIST_DEFAULT, LIST_MAX = 50, 10000


@valueclass
class Call:
    """One authenticated request: who, in which language, with which parameters, by which method."""

    account: Account
    params: dict[str, str]
    method: str
    lanes: tuple[str, ...] | None = None  # those of the key; reads and cancels see only their sends
    limits: KeyLimits = UNLIMITED  # the key's (lanes and networks): keys it creates are no wider

    @property
    def language(self) -> str:
        return self.account.language


@valueclass
class LegacyServices:
    sends: SendService
    reports: ReportService
    replies: ReplyService
    contacts: ContactService | None = None  # the address book (addContact.do)
    resellers: ResellerService | None = None  # sub-accounts (api/legacy/subaccounts.py)


Endpoint = Callable[[LegacyServices, Call], Awaitable[str]]


@counting.send_endpoint
async def send_sms(services: LegacyServices, call: Call) -> str:
    p = call.params
    request = SendRequest(
        account=call.account,
        text=p.get("message"),
        recipients=p.get("numero"),
        groups=params.group(p),
        classe=params.integer(p, "classe_msg", 2),
        scheduled_at=params.schedule(p, call.account.timezone),
        sender=p.get("emetteur"),
        ref_client=p.get("refclient"),
        max_parts=params.integer(p, "nbr_msg", 5),
        notification_url=p.get("notification_url"),
        notification_url_reponse=p.get("notification_url_reponse"),
        stop=params.integer(p, "stop", 0),
        validity=params.optional_integer(p, "validity"),
        # HEAD is a GET whose answer has no body: the same limit, or it would be the way around it.
        max_recipients=GET_MAX_RECIPIENTS if call.method in ("GET", "HEAD") else None,
    )
    return await counting.accept(services.sends, request, call.language)


async def delivery_report(services: LegacyServices, call: Call) -> str:
    send_id = _required(call, "smsid")
    rows = await services.reports.recipients(call.account.id, send_id, call.lanes)
    if rows is None:
        return answers.status_answer(answers.UNKNOWN_SMS, call.language)
    return " | ".join(f"{_word(msisdn)} {code}" for msisdn, code in rows)


async def sms_status(services: LegacyServices, call: Call) -> str:
    send_id = _required(call, "smsid")
    code = await services.reports.status(call.account.id, send_id, call.lanes)
    if code is None:
        return answers.status_answer(answers.UNKNOWN_SMS, call.language)
    return f"{code} | {describe(code, call.language)}"


async def credit(services: LegacyServices, call: Call) -> str:
    return format_credits(await services.reports.balance(call.account.id))


async def delete_sms(services: LegacyServices, call: Call) -> str:
    send_id = call.params.get("smsid", "").strip() or None
    msisdn = None
    if send_id is None:
        raw = call.params.get("numero", "").strip()
        if not raw:
            raise InvalidParameter("smsID", "missing")
        recipient = parse_recipient(raw)
        if not isinstance(recipient, Recipient):
            raise InvalidParameter("numero", "not a valid phone number")
        msisdn = recipient.msisdn
    cancelled = await services.reports.cancel(call.account.id, send_id, msisdn, call.lanes)
    if cancelled is None:
        return answers.status_answer(answers.UNKNOWN_SMS, call.language)
    done = "SMS deleted" if call.language == "en" else "SMS supprimé"
    return f"{answers.ACCEPTED} | {done}"


async def sms_list(services: LegacyServices, call: Call) -> str:
    start = params.integer(call.params, "start", 0)
    count = params.integer(call.params, "offset", LIST_DEFAULT)
    if start < 0:
        raise InvalidParameter("start", "must not be negative")
    if not 1 <= count <= LIST_MAX:
        raise InvalidParameter("offset", f"must be between 1 and {LIST_MAX}")
    tz = call.account.timezone
    lines = [
        " | ".join(
            [
                s.id,
                params.format_list_date(s.scheduled_at or s.created_at, tz),
                _one_line(s.text),
                _one_line(s.first_recipient),
                format_credits(s.cost),
                str(s.recipient_count),
                "",
            ]
        ).rstrip()
        for s in await services.reports.history(call.account.id, start, count, call.lanes)
    ]
    return "\n".join(lines)


async def response_list(services: LegacyServices, call: Call) -> str:
    """Replies (MO) received by the account, newest first: a page, or a date range (both dates, no paging)."""
    tz = call.account.timezone
    since, until = params.date(call.params, "startDate", tz), params.date(call.params, "endDate", tz)
    if (since is None) != (until is None):
        raise InvalidParameter("endDate" if until is None else "startDate", "startDate and endDate go together")
    # An empty value is no value, as for every integer parameter (PHP's http_build_query sends every key).
    paging = [name for name in ("start", "offset") if call.params.get(name, "").strip()]
    if since is not None and paging:
        raise InvalidParameter(paging[0], "not with startDate/endDate")
    start = params.integer(call.params, "start", 0)
    count = params.integer(call.params, "offset", LIST_DEFAULT)
    if start < 0:
        raise InvalidParameter("start", "must not be negative")
    if not 1 <= count <= LIST_MAX:
        raise InvalidParameter("offset", f"must be between 1 and {LIST_MAX}")
    if since is not None and until is not None:  # the whole range, the end's minute included
        replies = await services.replies.page(call.account.id, since=since, until=until + 59_999, limit=None)
    else:
        replies = await services.replies.page(call.account.id, offset=start, limit=count)
    return "\n".join(
        " | ".join(
            [
                str(r.id),
                params.format_reply_date(r.received_at, tz),
                _one_line(r.source),
                _one_line(r.text),
                _one_line(r.destination),
                r.send_id or "",
            ]
        )
        for r in replies
    )


#: Every character a client's line splitting may break a record at (`str.splitlines` splits at ten: \v, \f, the
#: file separators, NEL, U+2028 and U+2029 besides CR and LF), and the other control characters (a NUL ends the
#: text for a client in C), as a space; the field separator's bar as a slash.
_ONE_LINE = str.maketrans({**{chr(c): " " for c in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]}, "|": "/"})
#: A recipient as `compteRendu.do` pairs it with its code (`<msisdn> <code>`): an entry refused at acceptance is
#: kept as it was written, spaces and all, and shown without them.
_WORD = str.maketrans({**{chr(c): None for c in [*range(0x21), *range(0x7F, 0xA1), 0x2028, 0x2029]}, "|": None})


def _one_line(text: str) -> str:
    """One record per line, its fields apart: no line break nor bar inside a text (a reply, a recipient)."""
    return text.replace("\r\n", "\n").translate(_ONE_LINE)


def _word(text: str) -> str:
    """One word, without the spaces, breaks or bars that would split `compteRendu.do`'s pairs."""
    return text.translate(_WORD) or "?"


def _required(call: Call, name: str) -> str:
    value = call.params.get(name, "").strip()
    if not value:
        raise InvalidParameter("smsID" if name == "smsid" else name, "missing")
    return value


#: The endpoints that change nothing: the only ones a `HEAD` is answered on (a link checker, a monitor or a proxy
#: sends HEAD expecting no effect; on sendSMS.do it would send, on createAuthorisation.do make a key).
READ_ONLY: frozenset[str] = frozenset({"compteRendu", "smsStatus", "credit", "smsList", "responseList"})

ENDPOINTS: dict[str, Endpoint] = {
    "sendSMS": send_sms,
    "compteRendu": delivery_report,
    "smsStatus": sms_status,
    "credit": credit,
    "deleteSMS": delete_sms,
    "smsList": sms_list,
    "responseList": response_list,
}
