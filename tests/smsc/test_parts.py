"""The simulator's building blocks without a network: configuration files, MO encoding and
splitting, receipt excerpts, the token bucket."""

from __future__ import annotations

from pathlib import Path

import pytest

from martinet.smpp import TLV, DataSm, MessageState, SubmitSm, Tag
from martinet.smsc import Credential, FinalStatus, SimulatorConfigError, load_config
from martinet.smsc.messages import message_text, mo_deliver_sms, split_gsm, split_ucs2
from martinet.smsc.throttle import TokenBucket

# --------------------------------------------------------------------------- configuration


def test_full_config_file(tmp_path: Path) -> None:
    path = tmp_path / "smsc.toml"
    path.write_text(
        """
listen = "0.0.0.0:12775"
control = false
system_id = "Carrier"
max_per_second = 50
burst = 5
latency = 0.25
intermediate_receipt = "ACCEPTED"
intermediate_delay = 0.5
receipt_delay = 2
retry_delay = 30
test_prefix = "99"
message_id_format = "decimal"
message_id_start = 1
message_id_width = 6
receipt_text_id = "hex"
receipt_tlv_id = "none"
receipt_before_response = true
bind_failure_delay = 0.5
seed = 3

[[credentials]]
system_id = "acme"
password = "secret"

[[credentials]]
system_id = "beta"
password = "pw"

[outcomes]
delivrd = 1
UNDELIV = 1

[session]
window = 10
enquire_link_interval = 15
dead_peer_timeout = 45
""",
        encoding="utf-8",
    )
    config = load_config(path, latency=0.5)
    assert (config.host, config.port, config.control_port) == ("0.0.0.0", 12775, None)
    assert config.credentials == (Credential("acme", "secret"), Credential("beta", "pw"))
    assert (config.max_per_second, config.burst, config.latency) == (50, 5, 0.5)
    assert config.intermediate_receipt is MessageState.ACCEPTED
    assert dict(config.outcomes) == {FinalStatus.DELIVRD: 1.0, FinalStatus.UNDELIV: 1.0}
    assert (config.session.window, config.session.enquire_link_interval) == (10, 15)
    assert config.message_id_format == "decimal" and config.seed == 3
    assert (config.message_id_start, config.message_id_width) == (1, 6)
    assert (config.receipt_text_id, config.receipt_tlv_id, config.receipt_before_response) == ("hex", "none", True)
    assert config.bind_failure_delay == 0.5
    assert "secret" not in repr(config)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('listen = "nowhere"', "HOST:PORT"),
        ("latency = -1", "latency"),
        ("max_per_second = true", "expected int or float"),
        ("colour = 3", "unknown key"),
        ("[outcomes]\nLOST = 3", "unknown status"),
        ("[session]\nwindow = 0", "window"),
        ("[session]\nwindw = 3", "unknown key"),
        ('[[credentials]]\nsystem_id = "a"\npassword = "much-too-long"', "8 characters"),
        ('[[credentials]]\nsystem_id = "a"\npassword = "x"\n[[credentials]]\nsystem_id = "a"\npassword = "y"', "twice"),
        ('intermediate_receipt = "MAYBE"', "ENROUTE"),
        ('message_id_start = "1"', "message_id_start: expected int"),
        ("message_id_width = 2.5", "message_id_width: expected int"),
        ('receipt_before_response = "yes"', "receipt_before_response: expected bool"),
        ("receipt_tlv_id = false", "receipt_tlv_id: expected str"),
        ('message_id_format = "uuid"\nreceipt_text_id = "decimal"', "uuid message IDs have no decimal form"),
        ('receipt_text_id = "none"\nreceipt_tlv_id = "none"', "cannot both be none"),
        ('bind_failure_delay = "1"', "bind_failure_delay: expected int or float"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_config_mistakes_are_explained(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "smsc.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SimulatorConfigError, match=message):
        load_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(SimulatorConfigError, match=r"smsc\.toml"):
        load_config(tmp_path / "smsc.toml")


# --------------------------------------------------------------------------- MO


def test_short_gsm_mo_is_one_plain_deliver_sm() -> None:
    (pdu,) = mo_deliver_sms("33612345678", "36180", "Oui €", reference=1)
    assert (pdu.esm_class, pdu.data_coding) == (0, 0)
    assert pdu.short_message == b"Oui \x1be"
    assert (pdu.source_addr_ton, pdu.source_addr_npi, pdu.dest_addr_ton) == (1, 1, 1)


def test_long_gsm_mo_never_splits_an_escape() -> None:
    text = "a" * 152 + "€" + "b" * 20  # the escape would be the 153rd septet
    parts = mo_deliver_sms("336", "Shop", text, reference=300)
    assert len(parts) == 2
    assert all(p.esm_class == 0x40 for p in parts)
    assert parts[0].short_message[:6] == bytes((5, 0, 3, 300 & 0xFF, 2, 1))
    assert parts[0].short_message[6:] == b"a" * 152
    assert parts[1].short_message[6:8] == b"\x1be"
    assert (parts[1].dest_addr_ton, parts[1].source_addr_ton) == (0, 1)


def test_long_ucs2_mo_never_splits_a_surrogate_pair() -> None:
    text = "é" * 66 + "😀" + "ü" * 10  # the emoji straddles the 134-octet boundary
    parts = mo_deliver_sms("336", "36180", text, reference=9)
    assert [p.data_coding for p in parts] == [8, 8]
    bodies = [p.short_message[6:] for p in parts]
    assert len(bodies[0]) == 132
    assert b"".join(bodies).decode("utf-16-be") == text


def test_split_limits() -> None:
    assert split_gsm(b"x" * 160) == [b"x" * 160]
    assert [len(p) for p in split_gsm(b"x" * 161)] == [153, 8]
    assert split_ucs2(b"\0x" * 70) == [b"\0x" * 70]
    with pytest.raises(ValueError, match="255"):
        mo_deliver_sms("1", "2", "x" * (153 * 256), reference=0)


def test_message_text_reads_every_place_a_text_can_be() -> None:
    udh = SubmitSm(esm_class=0x40, short_message=bytes((5, 0, 3, 1, 2, 1)) + b"Hello")
    assert message_text(udh) == "Hello"
    payload = SubmitSm(tlvs=(TLV(Tag.MESSAGE_PAYLOAD, "Привет".encode("utf-16-be")),), data_coding=8)
    assert message_text(payload) == "Привет"
    assert message_text(DataSm(tlvs=(TLV(Tag.MESSAGE_PAYLOAD, b"latin \xe9"),), data_coding=3)) == "latin é"
    assert message_text(SubmitSm(short_message=b"\x01\x02", data_coding=4)) == "0102"


# --------------------------------------------------------------------------- token bucket


def test_token_bucket() -> None:
    bucket = TokenBucket(rate=10, capacity=2, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
    assert bucket.take(0.05) is False  # half a token
    assert bucket.take(0.1) is True
    assert [bucket.take(100.0) for _ in range(3)] == [True, True, False]  # capped at capacity
    with pytest.raises(ValueError):
        TokenBucket(rate=0, capacity=1, now=0)
