"""Hypothesis strategies that build *valid* SMPP 3.4 PDUs.

Field limits are written here from the spec tables rather than imported from the codec, so
the property tests check the codec against an independent statement of the limits.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st

from martinet.smpp import (
    PDU,
    PDU_CLASSES,
    TLV,
    TLV_SPECS,
    AlertNotification,
    CommandStatus,
    DataSm,
    DistributionList,
    SmeAddress,
    TLVKind,
    TLVSpec,
    UnsuccessSme,
)

u8 = st.integers(0, 0xFF)
u32 = st.integers(0, 0xFFFF_FFFF)
statuses = st.one_of(st.just(0), st.sampled_from(list(CommandStatus)), u32)


def cstr(max_chars: int) -> st.SearchStrategy[str]:
    """C-octet string content: any Latin-1 character except NUL, up to ``max_chars``."""
    return st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0xFF), max_size=max_chars)


# Spec 7.1: absolute/relative time is empty or exactly 16 characters.
time_str = st.one_of(st.just(""), st.text(alphabet="0123456789+-R", min_size=16, max_size=16))


def _tlv_value(spec: TLVSpec) -> st.SearchStrategy[Any]:
    if spec.kind is TLVKind.INT1:
        return u8
    if spec.kind is TLVKind.INT2:
        return st.integers(0, 0xFFFF)
    if spec.kind is TLVKind.INT4:
        return u32
    if spec.kind is TLVKind.CSTRING:
        return cstr(spec.max_size - 1)
    if spec.kind is TLVKind.EMPTY:
        return st.just(b"")
    return st.binary(min_size=spec.min_size, max_size=min(spec.max_size, 300))


known_tlv = st.sampled_from(list(TLV_SPECS.values())).flatmap(
    lambda spec: _tlv_value(spec).map(lambda value: TLV(spec.tag, value))
)
raw_tlv = st.builds(
    TLV,
    st.integers(0, 0xFFFF).filter(lambda tag: tag not in TLV_SPECS),
    st.binary(max_size=64),
)
tlv_tuples = st.lists(st.one_of(known_tlv, raw_tlv), max_size=4).map(tuple)

dest_addresses = st.lists(
    st.one_of(
        st.builds(SmeAddress, u8, u8, cstr(20)),
        st.builds(DistributionList, cstr(20)),
    ),
    max_size=5,
).map(tuple)
unsuccess_smes = st.lists(st.builds(UnsuccessSme, u8, u8, cstr(20), u32), max_size=5).map(tuple)

_BY_NAME: dict[str, st.SearchStrategy[Any]] = {
    "sequence_number": u32,
    "command_status": statuses,
    "tlvs": tlv_tuples,
    "system_id": cstr(15),
    "password": cstr(8),
    "system_type": cstr(12),
    "address_range": cstr(40),
    "service_type": cstr(5),
    "source_addr": cstr(20),
    "destination_addr": cstr(20),
    "esme_addr": cstr(64),
    "message_id": cstr(64),
    "schedule_delivery_time": time_str,
    "validity_period": time_str,
    "final_date": time_str,
    "short_message": st.binary(max_size=254),
    "dest_address": dest_addresses,
    "unsuccess_sme": unsuccess_smes,
}
# data_sm and alert_notification addresses are "Var. max 65" (spec 4.7.1, 4.12.1).
_OVERRIDES: dict[type[PDU], dict[str, st.SearchStrategy[Any]]] = {
    DataSm: {"source_addr": cstr(64), "destination_addr": cstr(64)},
    AlertNotification: {"source_addr": cstr(64)},
}
# Responses whose body may be absent (message_id/system_id None): that is only representable
# when the status is an error and every other body field is at its default -- otherwise the
# encoder must write the body and None comes back as "".
_ABSENT_BODY_FIELD = {"message_id", "system_id"}
_HEADER = {"sequence_number", "command_status"}


def _normalise(pdu: PDU) -> PDU:
    for name in _ABSENT_BODY_FIELD:
        if getattr(pdu, name, "") is None:
            others = [f for f in dataclasses.fields(pdu) if f.name not in _HEADER | {name}]
            if pdu.command_status == 0 or any(getattr(pdu, f.name) != f.default for f in others):
                changes: dict[str, Any] = {name: ""}
                return dataclasses.replace(pdu, **changes)
    return pdu


def pdus_of(cls: type[PDU]) -> st.SearchStrategy[PDU]:
    """Valid instances of one PDU class, every field drawn."""
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for field in dataclasses.fields(cls):
        strategy = _OVERRIDES.get(cls, {}).get(field.name)
        if strategy is None:
            strategy = _BY_NAME.get(field.name)
        if strategy is None:
            assert field.type == "int", f"no strategy for {cls.__name__}.{field.name}"
            strategy = u8
        if field.type == "str | None":
            strategy = st.one_of(st.none(), strategy)
        kwargs[field.name] = strategy
    return st.builds(cls, **kwargs).map(_normalise)


any_pdu: st.SearchStrategy[PDU] = st.sampled_from(sorted(PDU_CLASSES.values(), key=lambda c: c.command_id)).flatmap(
    pdus_of
)
