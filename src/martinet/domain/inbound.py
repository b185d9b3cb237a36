"""A message received from a handset (MO), as a connector hands it over: already decoded and reassembled."""

from __future__ import annotations

from martinet.domain.valueclass import valueclass


@valueclass
class InboundMessage:
    connector: str
    source: str  # the number that sent it, international digits without "+" when the carrier gives one
    destination: str  # the gateway's number or short code it was sent to
    text: str
    received_at: int  # epoch milliseconds
    parts: int = 1


def digits(address: str) -> str:
    """An address as the messages table writes numbers: digits only, no international prefix `00`/`+`."""
    only = "".join(c for c in address if c.isdigit())
    return only[2:] if only.startswith("00") else only
