"""Judging Martinet against Kannel over alternated pairs of runs: each target on its median over the pairs, the
detail rows from the pair with the median end-to-end ratio, and every pair's figures shown."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from bench.__main__ import _kannel_rows

from bench import kannel

pytestmark = pytest.mark.unit


def _run(
    e2e: float, accepted_per_second: float, p50_ms: float, cpu_s: dict[str, float], lost: int = 0
) -> dict[str, Any]:
    return {
        "end_to_end_per_second": e2e,
        "load": {"accepted": 1000, "accepted_per_second": accepted_per_second},
        "latency_p50_ms": p50_ms,
        "latency_p99_ms": p50_ms * 1.2,
        "final": 1000 - lost,
        "lost": lost,
        "cpu_s": cpu_s,
    }


def _pair(
    m_e2e: float, k_e2e: float, m_acc: float, k_acc: float, m_p50: float, k_p50: float, m_cpu: float
) -> dict[str, Any]:
    return {
        "martinet": _run(m_e2e, m_acc, m_p50, {"martinet engine": m_cpu / 2, "martinet http-0": m_cpu / 2}),
        "kannel": _run(k_e2e, k_acc, k_p50, {"bearerbox": 0.4, "smsbox": 0.6}),
    }


# End-to-end ratios 0.90, 1.20, 1.05 in the order they ran: the median pair is the third one, whose other
# figures are none of their medians (accepts 0.9, p50 1.2, CPU 0.75 against medians 1.1, 0.95, 0.85).
PAIRS = [
    _pair(900, 1000, 2200, 2000, 4500, 5000, 0.85),
    _pair(1200, 1000, 2400, 2000, 4750, 5000, 0.95),
    _pair(1050, 1000, 1800, 2000, 6000, 5000, 0.75),
]


def test_the_pair_with_the_median_ratio_is_chosen_and_each_target_takes_its_own_median() -> None:
    assert kannel.median_pair(PAIRS) is PAIRS[2]
    summary = kannel.pair_summary(PAIRS)

    expected = {
        "ratio": ([0.9, 1.2, 1.05], 1.05),
        "accepts_ratio": ([1.1, 1.2, 0.9], 1.1),
        "p50_ratio": ([0.9, 0.95, 1.2], 0.95),
        "cpu_ms": ([0.85, 0.95, 0.75], 0.85),
    }
    for name, (each, median) in expected.items():
        assert summary[name]["each"] == pytest.approx(each), name
        assert summary[name]["median"] == pytest.approx(median), name


def test_a_figure_just_below_kannel_is_not_rounded_up_to_it() -> None:
    pair = _pair(1000, 1000, 2490, 2500, 5000, 4990, 0.80)  # accepts 0.996, p50 1.002: both below the bar
    figures = {"count": 1000, "pairs": [pair], **pair, "pair_summary": kannel.pair_summary([pair])}
    rows = {label.strip(): verdict for label, _value, _target, verdict in _kannel_rows(figures)}

    assert rows["accepted per second at the HTTP side, Martinet / Kannel in each pair; median ratio (each pair's)"] == (
        "**not met**"
    )
    assert (
        rows["send → final callback p50, Martinet / Kannel in each pair; median ratio (each pair's)"] == "**not met**"
    )


def test_the_rows_show_every_pair_and_judge_each_target_on_its_median() -> None:
    figures = {
        "count": 1000,
        "pairs": PAIRS,
        **kannel.median_pair(PAIRS),
        "pair_summary": kannel.pair_summary(PAIRS),
    }
    rows = {label.strip(): (value, target, verdict) for label, value, target, verdict in _kannel_rows(figures)}

    each = rows["end to end per second in each pair, in the order they ran, Martinet / Kannel"]
    assert each[0] == "900 / 1,000; 1,200 / 1,000; 1,050 / 1,000"
    assert rows["ratio Martinet / Kannel end to end: median of the pairs (each pair)"] == (
        "1.05 (0.90, 1.20, 1.05)",
        "≥ 1",
        "met",
    )
    accepts = rows["accepted per second at the HTTP side, Martinet / Kannel in each pair; median ratio (each pair's)"]
    assert accepts == ("2,200 / 2,000; 2,400 / 2,000; 1,800 / 2,000; 1.10 (1.10, 1.20, 0.90)", "≥ Kannel's", "met")
    p50 = rows["send → final callback p50, Martinet / Kannel in each pair; median ratio (each pair's)"]
    assert p50 == ("4.5 / 5.0 s; 4.8 / 5.0 s; 6.0 / 5.0 s; 0.95 (0.90, 0.95, 1.20)", "p50 ≤ Kannel's", "met")
    cpu = rows["CPU per message, summed over the gateway's processes, Martinet: median of the pairs (each pair)"]
    assert cpu == ("0.85 ms (0.85, 0.95, 0.75)", "≤ 0.8 ms", "**not met**")
    lost = rows["accepted / final callbacks / lost, every pair, Martinet; Kannel"]
    assert lost == ("3,000 / 3,000 / 0; 3,000 / 3,000 / 0", "0 lost", "met")


def test_a_message_lost_in_any_pair_fails_the_pairs() -> None:
    pairs = copy.deepcopy(PAIRS)
    pairs[0]["kannel"]["lost"] = 3
    figures = {"count": 1000, "pairs": pairs, **kannel.median_pair(pairs), "pair_summary": kannel.pair_summary(pairs)}
    rows = {label.strip(): verdict for label, _value, _target, verdict in _kannel_rows(figures)}

    assert rows["accepted / final callbacks / lost, every pair, Martinet; Kannel"] == "**not met**"


def test_each_gateway_process_s_time_running_and_waiting_for_a_core_is_shown_not_the_benchmark_s() -> None:
    pairs = copy.deepcopy(PAIRS)
    load_generator = {"load generator": {"running": 0.1, "waiting_for_a_core": 0.6}}
    pairs[2]["martinet"]["at_load_end"] = {
        "cores": {
            "engine": {"running": 0.52, "waiting_for_a_core": 0.43},
            "http-0": {"running": 0.48, "waiting_for_a_core": 0.45},
            **load_generator,
        }
    }
    pairs[2]["kannel"]["at_load_end"] = {
        "cores": {"smsbox": {"running": 1.05, "waiting_for_a_core": 1.14}, **load_generator}
    }
    figures = {"count": 1000, "pairs": pairs, **kannel.median_pair(pairs), "pair_summary": kannel.pair_summary(pairs)}
    rows = {label.strip(): value for label, value, _target, _verdict in _kannel_rows(figures)}

    label = next(label for label in rows if label.startswith("while the load ran (the median pair)"))
    assert rows[label] == "engine 0.52 / 0.43, http-0 0.48 / 0.45; smsbox 1.05 / 1.14"

    without = {label.strip() for label, *_ in _kannel_rows({**figures, **kannel.median_pair(PAIRS)})}
    assert label not in without  # runs that did not read the scheduler's figures have no such row
