"""The smsmode address book endpoint, `addContact.do`: a contact added (or merged into the one with the same
mobile), its groups created when the account does not have them yet."""

from __future__ import annotations

from martinet.api.legacy import answers
from martinet.api.legacy.endpoints import Call, Endpoint, LegacyServices
from martinet.domain.contacts import ContactError, split_groups
from martinet.services.accept import InvalidParameter
from martinet.services.contacts import contact_data


async def add_contact(services: LegacyServices, call: Call) -> str:
    if services.contacts is None:
        return answers.status_answer(answers.UNAVAILABLE, call.language)
    p = call.params
    for name in ("nom", "mobile"):
        if not p.get(name, "").strip():
            raise InvalidParameter(name, "missing")
    try:
        data = contact_data(
            mobile=p["mobile"],
            last_name=p["nom"],
            first_name=p.get("prenom"),
            company=p.get("societe"),
            birth_date=p.get("date"),
            other=p.get("other"),
            groups=split_groups(p.get("groupes")),
        )
        await services.contacts.add(call.account.id, data)
    except ContactError as exc:
        raise InvalidParameter(exc.name, exc.problem) from None
    return f"{answers.ACCEPTED} | {'Contact added' if call.language == 'en' else 'Contact ajouté'}"


#: Served beside `endpoints.ENDPOINTS` (names as smsmode writes them).
CONTACT_ENDPOINTS: dict[str, Endpoint] = {"addContact": add_contact}
