"""What an API key may do: the lanes it may send on and the networks it may be used from.

Stored as plain comma-separated text beside the key (`api_keys.lanes`, `api_keys.networks`) so an operator can
read them in the database; parsed once per authentication (the result is cached with the key).
"""

from __future__ import annotations

import ipaddress

from martinet.domain.lanes import Lane
from martinet.domain.valueclass import valueclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class InvalidKeyLimit(ValueError):
    """A lane or network the key cannot be limited to; the message says which and why."""


@valueclass
class KeyLimits:
    """`lanes` None: every lane; `networks` None: from anywhere."""

    lanes: tuple[str, ...] | None = None
    networks: tuple[Network, ...] | None = None

    def allows_address(self, address: str | None) -> bool:
        if self.networks is None:
            return True
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == network.version and ip in network for network in self.networks)

    def allows_lane(self, lane: str) -> bool:
        return self.lanes is None or lane in self.lanes

    def default_lane(self, account_lane: str) -> str:
        """The lane of a send that names none: the account's when the key allows it, else the key's first."""
        if not self.lanes or account_lane in self.lanes:
            return account_lane  # unlimited, or locked (no lane at all: every send is refused)
        return self.lanes[0]


UNLIMITED = KeyLimits()


def parse_lanes(text: str | None) -> tuple[str, ...] | None:
    if text is None or not text.strip():
        return None
    lanes: list[str] = []
    for item in text.split(","):
        name = item.strip().lower()
        if name not in {lane.value for lane in Lane}:
            raise InvalidKeyLimit(f"unknown lane {item.strip()!r} (otp, notification or marketing)")
        if name not in lanes:
            lanes.append(name)
    return tuple(lanes)


def parse_networks(text: str | None) -> tuple[Network, ...] | None:
    if text is None or not text.strip():
        return None
    networks: list[Network] = []
    for item in text.split(","):
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise InvalidKeyLimit(f"not an address or CIDR range: {item.strip()!r}") from None
    return tuple(networks)


def limits_from_text(lanes: str | None, networks: str | None) -> KeyLimits:
    """The limits as stored; text that no longer parses (edited by hand) locks the key rather than opening it."""
    try:
        return KeyLimits(parse_lanes(lanes), parse_networks(networks))
    except InvalidKeyLimit:
        return KeyLimits((), ())


def lanes_text(lanes: tuple[str, ...] | None) -> str | None:
    return None if lanes is None else ",".join(lanes)


def networks_text(networks: tuple[Network, ...] | None) -> str | None:
    return None if networks is None else ",".join(str(n) for n in networks)
