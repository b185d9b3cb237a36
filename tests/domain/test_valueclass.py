"""`valueclass`: value objects as a frozen dataclass would make them, but for the check of each assignment at run
time, which the type checker makes instead."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from martinet.domain.valueclass import valueclass


@valueclass
class Point:
    x: int
    y: int = 0


@valueclass(kw_only=True)
class Named:
    name: str
    size: int


def test_a_value_is_equal_to_and_hashed_as_its_fields() -> None:
    assert Point(1, 2) == Point(1, 2) != Point(2, 1)
    assert hash(Point(1, 2)) == hash(Point(1, 2))
    assert {Point(1, 2): "a"}[Point(1, 2)] == "a"
    assert len({Point(1), Point(1, 0), Point(0, 1)}) == 2
    assert repr(Point(1)) == "Point(x=1, y=0)"


def test_a_value_has_slots_and_no_instance_dict() -> None:
    assert Point.__slots__ == ("x", "y")  # type: ignore[attr-defined]
    assert not hasattr(Point(1), "__dict__")


def test_keyword_only_fields_are_refused_by_position() -> None:
    assert Named(name="a", size=1).size == 1
    with pytest.raises(TypeError):
        Named("a", 1)  # type: ignore[misc]


def test_replace_makes_a_new_value_and_leaves_the_first_as_it_was() -> None:
    first = Point(1, 2)
    second = dataclasses.replace(first, y=5)
    assert (first, second) == (Point(1, 2), Point(1, 5))


def test_the_type_checker_refuses_an_assignment_to_a_field(tmp_path: Path) -> None:
    """What `frozen=True` checked at run time: here `mypy --strict` checks it, as `make test`'s lint step runs it on
    `src/`."""
    program = tmp_path / "assigns.py"
    program.write_text(
        textwrap.dedent(
            """
            from martinet.domain.valueclass import valueclass

            @valueclass
            class Point:
                x: int

            point = Point(1)
            print(point.x + 1)
            point.x = 2
            """
        )
    )
    found = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=silent", str(program)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 1, found.stdout + found.stderr
    errors = [line for line in found.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "assigns.py:10:" in errors[0] and "read-only" in errors[0], found.stdout
