"""Rewriting docs/benchmarks.md after a partial rerun replaces only that benchmark's parts and keeps the rest,
hand-written paragraphs included, byte for byte."""

from __future__ import annotations

import pytest

from bench import page

pytestmark = pytest.mark.unit

PAGE = """# Benchmarks

Measured by `make bench` (`python -m bench`) on 2026-11-26, on 2 cores. Rerun with `--only kannel` on 2026-12-03, on 2 cores.
Everything runs on this one machine: old accept setup.

The SMPP rows (`bench/smpp.py`): old smpp setup.

A paragraph written by hand about the setups.

The Kannel rows (`bench/kannel.py`): old kannel setup.

| measure | figure | target | |
|---|---|---|---|
| sendSMS.do accept only (`serve --no-engine`, 1 worker), accepted/s | 4,100 | ≥ 4,000 | met |
|   latency p50 / p99 | 1.0 / 2.0 ms |  |  |
| Martinet vs Kannel end to end, per second | 800 |  |  |
|   ratio Martinet / Kannel end to end | 0.45 | ≥ 1 | **not met** |
| voice calls at once, jitter | 1.4 ms | ≤ 5 ms | met |

Non-2xx answers during the accept run: 0.

Kannel run: old kannel note.

CPU per message end to end, written by hand after the Kannel run.

Voice run (`python -m bench.voice`, by hand): a note edited by hand.

Figures move by ±20 % between runs on a shared 2-core machine; rerun `make bench` to refresh this page.
"""

INTRO = "Measured by `make bench` (`python -m bench`) on 2026-11-26, on 2 cores. Rerun with `--only kannel` today."


def test_the_page_rewritten_with_its_own_parts_is_unchanged() -> None:
    names = list(page.ORDER)
    line = PAGE.split("\n")[2]
    assert page.render(PAGE, line, page.kept_parts(PAGE, names)) == PAGE


def test_a_rerun_replaces_its_rows_setup_and_note_in_place_and_keeps_hand_written_text() -> None:
    fresh = {
        "kannel": page.Part(
            rows=[("Martinet vs Kannel end to end, per second", "1,900", "", ""), ("  new row", "1", "", "")],
            setup="The Kannel rows (`bench/kannel.py`): new kannel setup.",
            note="Kannel run: new kannel note.",
        )
    }
    expected = (
        PAGE.replace(PAGE.split("\n")[2], INTRO)
        .replace("old kannel setup", "new kannel setup")
        .replace("old kannel note", "new kannel note")
        .replace(
            "| Martinet vs Kannel end to end, per second | 800 |  |  |\n"
            "|   ratio Martinet / Kannel end to end | 0.45 | ≥ 1 | **not met** |\n",
            "| Martinet vs Kannel end to end, per second | 1,900 |  |  |\n|   new row | 1 |  |  |\n",
        )
    )
    assert page.render(PAGE, INTRO, fresh) == expected


def test_a_note_after_two_blank_lines_is_replaced_by_its_rerun_not_kept_beside_it() -> None:
    """A hand edit can leave two blank lines before a note: the note is still its benchmark's, so a rerun
    replaces it, and the page comes back with one blank line there."""
    spaced = PAGE.replace("\n\nKannel run: old kannel note.", "\n\n\nKannel run: old kannel note.")
    fresh = {"kannel": page.Part(note="Kannel run: new kannel note.")}

    rewritten = page.render(spaced, INTRO, fresh)

    assert "old kannel note" not in rewritten
    assert rewritten.count("Kannel run:") == 1
    assert rewritten == page.render(PAGE, INTRO, fresh)


def test_parts_the_page_lacks_go_before_those_of_later_benchmarks() -> None:
    fresh = {
        "callbacks": page.Part(
            rows=[("callbacks delivered per second", "3,500", "≥ 3,000", "met")],
            setup="The callback rows (`bench/callbacks.py`): callbacks setup.",
        ),
        "contacts": page.Part(note="Contacts run: contacts note."),
        "accept": page.Part(setup="Everything runs on this one machine: new accept setup."),
    }
    text = page.render(PAGE, INTRO, fresh)
    paragraphs = text.split("\n\n")
    assert paragraphs[1] == INTRO + "\nEverything runs on this one machine: new accept setup."
    assert paragraphs[4] == "The callback rows (`bench/callbacks.py`): callbacks setup."
    assert paragraphs[5].startswith("The Kannel rows")
    table = paragraphs[6].split("\n")
    assert table[4] == "| callbacks delivered per second | 3,500 | ≥ 3,000 | met |"
    assert table[5].startswith("| Martinet vs Kannel")
    assert paragraphs[-2] == "Contacts run: contacts note."
    assert paragraphs[-3].startswith("Voice run (`python -m bench.voice`, by hand)")
    for kept in ("A paragraph written by hand", "CPU per message end to end, written by hand", "Kannel run: old"):
        assert kept in text


def test_a_new_page_holds_the_parts_in_order() -> None:
    fresh = {
        "voice": page.Part(rows=[("voice calls at once", "1", "", "")], note="Voice run: v."),
        "accept": page.Part(rows=[("sendSMS.do accept only (x)", "2", "", "")], setup="Everything runs: a."),
    }
    text = page.render(None, "Measured by `make bench` now.", fresh)
    assert text == (
        "# Benchmarks\n\nMeasured by `make bench` now.\nEverything runs: a.\n\n"
        f"{page.HEADER}\n| sendSMS.do accept only (x) | 2 |  |  |\n| voice calls at once | 1 |  |  |\n\n"
        f"Voice run: v.\n\n{page.FOOTER}\n"
    )


def test_the_intro_drops_earlier_reruns_entirely_redone() -> None:
    assert (
        page.measured_line(PAGE, ["kannel"])
        == "Measured by `make bench` (`python -m bench`) on 2026-11-26, on 2 cores."
    )
    assert page.measured_line(PAGE, ["voice"]) == PAGE.split("\n")[2]
