"""`valueclass`: the decorator of the project's value objects, immutable to the type checker and cheap to build.

A `@dataclass(frozen=True)` sets each field in its `__init__` through `object.__setattr__`, a call through a slot
wrapper that costs about 57 ns more a field than a plain assignment (Python 3.11: 727 ns against 155 ns for ten
fields). The hot paths build several such objects per message (a send's request, a receipt, a claimed callback):
building them the plain way took 6 to 10 % off the instructions of an accepted send, of a message through the
SMPP connector and of one through the store's stages (callgrind, docs/benchmarks-history.md). A `@valueclass` class is a
slotted dataclass whose `__init__` assigns its fields plainly, and which `mypy --strict` treats as frozen
(`dataclass_transform(frozen_default=True)`): an assignment to a field is refused where the code is checked, not
each time an object is built. Equality and the hash are those of a frozen dataclass (`unsafe_hash`: the fields'
values), so a value still serves as a dict key or in a set.

The packages that are libraries of their own (`smpp`, `sip`, `voice`) and the SDK (`client`, whose users may rely
on `FrozenInstanceError`) keep `@dataclass(frozen=True, slots=True)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")


@overload
def valueclass(cls: type[T], /) -> type[T]: ...


@overload
def valueclass(*, kw_only: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True)
def valueclass(cls: type[T] | None = None, /, *, kw_only: bool = False) -> Any:
    """`@valueclass` or `@valueclass(kw_only=True)` on a class whose fields are annotated, as `@dataclass` would be."""

    def make(target: type[T]) -> type[T]:
        return dataclasses.dataclass(target, slots=True, unsafe_hash=True, kw_only=kw_only)

    return make if cls is None else make(cls)
