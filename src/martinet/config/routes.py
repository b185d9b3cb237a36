"""Builds the :class:`~martinet.domain.routing.Router` from the configuration.

The routing rules live in ``domain`` and know nothing of pydantic; this is the one place that reads
``[[routes]]`` and ``[[connectors]]`` and turns them into plain values, so the rules can be tested without a
configuration and the configuration can change shape without touching the rules.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from martinet.config import RouteConfig, Settings
from martinet.domain.networks import load_network_dataset
from martinet.domain.routing import (
    OperatorLookup,
    Route,
    RouteEntry,
    Router,
    load_default_operator_table,
    parse_operator_table,
)

__all__ = ["default_connectors", "operator_lookup", "route_from_config", "router_from_settings"]


def route_from_config(config: RouteConfig) -> Route:
    """One ``[[routes]]`` table as a domain route; an entry without a tier ranks by its position (1, 2, …)."""
    return Route(
        name=config.name,
        # Countries are compared with what libphonenumber reports (upper case), prefixes with stored digits.
        countries=frozenset(country.strip().upper() for country in config.countries),
        prefixes=tuple(prefix.strip().removeprefix("+") for prefix in config.prefixes),
        operators=frozenset(operator.strip().lower() for operator in config.operators),
        lanes=frozenset(str(lane) for lane in config.lanes),
        accounts=frozenset(config.accounts),
        entries=tuple(
            RouteEntry(
                connector=entry.name,
                weight=entry.weight,
                price=entry.price,
                tier=entry.tier if entry.tier is not None else position,
            )
            for position, entry in enumerate(config.connectors, start=1)
        ),
        least_cost=config.least_cost,
    )


def default_connectors(settings: Settings) -> tuple[str, ...]:
    """Where a message no route takes goes: every carrier in configured order, else the (first) sandbox.

    A configuration with carriers never falls back to the sandbox: a real message would be reported
    delivered without leaving the gateway.
    """
    # SIP trunks carry voice calls only (the dispatcher gives them voice messages, docs/voice.md).
    carriers = tuple(c.name for c in settings.connectors if c.type not in ("sandbox", "sip"))
    if carriers:
        return carriers
    return (next(c.name for c in settings.connectors if c.type == "sandbox"),)


def operator_lookup(settings: Settings) -> OperatorLookup:
    """The operator table routes, the preview and delivery reports use: the built-in one or ``networks.file``,
    then the MCC/MNC data set when installed. Raises ValueError naming the file and the entry at fault."""
    path = settings.networks.file
    if not path:
        return OperatorLookup(load_default_operator_table(), dataset=load_network_dataset)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        table = parse_operator_table(data)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise ValueError(f"networks.file {path}: {exc}") from None
    return OperatorLookup(table, dataset=load_network_dataset)


def router_from_settings(settings: Settings, operators: OperatorLookup | None = None) -> Router:
    """The router the engine and ``martinet routes explain`` use; pass ``operators`` to share its cache.

    Raises ValueError for a route the configuration accepted but routing cannot use (a connector named twice).
    """
    return Router(
        [route_from_config(route) for route in settings.routes],
        default_connectors(settings),
        operators if operators is not None else operator_lookup(settings),
    )
