"""Each connector's figures from the metrics every process of this gateway writes: breaker state, parts by the
carrier's answer, throttling answers and receipt latency, for the console's operator pages.

They are read the way a `/metrics` scrape reads them (the files of every process under `martinet serve`, this
process's memory otherwise), so the console shows the engine's counters without asking the engine process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from martinet.metrics import MULTIPROC_ENV

BREAKER_STATES = {0: "closed", 1: "half-open", 2: "open"}


@dataclass
class ConnectorFigures:
    breaker: str | None = None
    parts: dict[str, float] = field(default_factory=dict)  # by result: accepted, refused_temporary, ...
    throttled: float = 0.0
    receipts: int = 0  # final receipts observed
    receipt_mean: float | None = None  # seconds
    receipt_median: float | None = None  # seconds, the upper bound of the bucket holding the median


def connector_figures() -> dict[str, ConnectorFigures]:
    registry: CollectorRegistry = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    figures: dict[str, ConnectorFigures] = {}
    buckets: dict[str, list[tuple[float, float]]] = {}
    sums: dict[str, float] = {}
    for family in registry.collect():
        if family.name not in (
            "martinet_breaker_state",
            "martinet_parts_submitted",
            "martinet_throttled",
            "martinet_receipt_latency_seconds",
        ):
            continue
        for sample in family.samples:
            name = sample.labels.get("connector")
            if not name:
                continue
            entry = figures.setdefault(name, ConnectorFigures())
            if family.name == "martinet_breaker_state":
                entry.breaker = BREAKER_STATES.get(int(sample.value), str(sample.value))
            elif family.name == "martinet_parts_submitted" and sample.name.endswith("_total"):
                result = sample.labels.get("result", "")
                entry.parts[result] = entry.parts.get(result, 0.0) + sample.value
            elif family.name == "martinet_throttled" and sample.name.endswith("_total"):
                entry.throttled += sample.value
            elif sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                buckets.setdefault(name, []).append((bound, sample.value))
            elif sample.name.endswith("_sum"):
                sums[name] = sums.get(name, 0.0) + sample.value
            elif sample.name.endswith("_count"):
                entry.receipts += int(sample.value)
    for name, entry in figures.items():
        if entry.receipts:
            entry.receipt_mean = sums.get(name, 0.0) / entry.receipts
            entry.receipt_median = _median_bound(buckets.get(name, []), entry.receipts)
    return figures


def _median_bound(buckets: list[tuple[float, float]], count: int) -> float | None:
    """The upper bound of the first cumulative bucket holding half the observations (buckets of several
    processes are added up by bound first)."""
    totals: dict[float, float] = {}
    for bound, value in buckets:
        totals[bound] = totals.get(bound, 0.0) + value
    for bound in sorted(totals):
        if totals[bound] >= count / 2:
            return bound
    return None
