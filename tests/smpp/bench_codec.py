"""Micro-benchmark of the SMPP codec: ``.venv/bin/python -m tests.smpp.bench_codec``.

Not collected by pytest (timings on shared CI machines are too noisy to assert on); run it by
hand after touching the hot path.  Reports the best of several timeit repeats, in µs per call.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

from martinet.smpp import TLV, DeliverSm, PDUReader, SubmitSm, SubmitSmResp, Tag, decode, encode

SUBMIT = SubmitSm(
    sequence_number=12345,
    source_addr_ton=5,
    source_addr="Martinet",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="33612345678",
    registered_delivery=1,
    short_message=b"Your verification code is 123456. It expires in 10 minutes.",
)
RESP = SubmitSmResp(sequence_number=12345, message_id="7f3a9c2e-1b4d-4e8a-9c1f-2d3e4f5a6b7c")
RECEIPT = DeliverSm(
    sequence_number=9,
    esm_class=4,
    source_addr="33612345678",
    destination_addr="Martinet",
    short_message=b"id:7f3a9c2e sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:",
    tlvs=(TLV(Tag.RECEIPTED_MESSAGE_ID, "7f3a9c2e"), TLV(Tag.MESSAGE_STATE, 2)),
)


def best(fn: Callable[[], object], number: int, per: int = 1) -> float:
    return min(timeit.repeat(fn, number=number, repeat=7)) / number / per * 1e6


def main() -> None:
    submit, resp, receipt = encode(SUBMIT), encode(RESP), encode(RECEIPT)
    stream = submit * 100
    reader = PDUReader()
    rows = [
        ("encode submit_sm", best(lambda: encode(SUBMIT), 100_000)),
        ("decode submit_sm", best(lambda: decode(submit), 100_000)),
        ("encode submit_sm_resp", best(lambda: encode(RESP), 100_000)),
        ("decode submit_sm_resp", best(lambda: decode(resp), 100_000)),
        ("encode deliver_sm receipt (2 TLVs)", best(lambda: encode(RECEIPT), 100_000)),
        ("decode deliver_sm receipt (2 TLVs)", best(lambda: decode(receipt), 100_000)),
        ("PDUReader.feed, 100 submit_sm per chunk", best(lambda: reader.feed(stream), 1_000, per=100)),
    ]
    for label, micros in rows:
        print(f"{label:42s} {micros:6.2f} µs")
    server = rows[1][1] + rows[2][1]
    print(f"{'SMSC side: decode submit_sm + encode resp':42s} {server:6.2f} µs -> {1e6 / server:,.0f}/s/core")


if __name__ == "__main__":
    main()
