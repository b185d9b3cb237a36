"""The SQLite library's process-wide settings, made once at a gateway process's start.

SQLite counts every allocation it makes for `sqlite3_memory_used` and the soft heap limit, and with those
statistics on (SQLite's default, which Debian's build keeps) each `sqlite3_malloc` and `sqlite3_free` takes a global
mutex to update them. Martinet reads neither figure and sets no heap limit, and a message's store work makes about
three hundred such calls: counted by callgrind (`python -m bench.accept_instructions --stages`,
docs/benchmarks-history.md), turning the statistics off saves 3 to 4 % of the instructions of the store's stages.
SQLite's own list of recommended compile-time options turns them off for the same reason (`SQLITE_DEFAULT_MEMSTATUS=0`).

Python's `sqlite3` module offers no way to change it: `sqlite3_config` is called here through `ctypes`, on the
library that `sqlite3` has already loaded (looked up with `RTLD_NOLOAD`, never loading a second copy). The setting
can only change while the library is shut down, which is safe only while the process has nothing of SQLite's open,
so `quiet_memory_statistics` is called first thing in the gateway's processes (`martinet.server`); called with a
connection open, it changes nothing. Where `sqlite3` carries SQLite inside its own module (no shared library to
find), nothing is changed.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sqlite3
import sys

log = logging.getLogger(__name__)

#: `sqlite3_config`'s verb for the memory statistics (sqlite3.h: SQLITE_CONFIG_MEMSTATUS).
SQLITE_CONFIG_MEMSTATUS = 9
#: The names the shared library goes by where `sqlite3` links it, on Linux. Elsewhere nothing is changed:
#: `sqlite3_config` takes variable arguments, which `ctypes` passes the way the platform's fixed ones go, and only
#: some platforms (Linux on x86-64 and ARM64 among them) pass both alike.
LIBRARY_NAMES = ("libsqlite3.so.0", "libsqlite3.so")


def loaded_library() -> ctypes.CDLL | None:
    """The SQLite shared library this process's `sqlite3` module uses, if it uses one (importing `sqlite3`, at
    the top of this module, loaded it)."""
    no_load = getattr(os, "RTLD_NOLOAD", None)
    if no_load is None or not sys.platform.startswith("linux"):
        return None
    for name in LIBRARY_NAMES:
        try:
            return ctypes.CDLL(name, mode=no_load)
        except OSError:
            continue
    return None


def quiet_memory_statistics() -> bool:
    """Turn SQLite's memory statistics off for this process; whether they are off now.

    The library is shut down and started again around the change, which only a process with nothing of SQLite's
    open may do: while the statistics are on they tell, as memory SQLite holds, whether a connection or a
    statement is open, and then nothing is changed. Call it before opening any connection."""
    library = loaded_library()
    if library is None:
        log.debug("SQLite is not a shared library here: its memory statistics stay on")
        return False
    if not _counting(library):
        return True
    if _used(library) != 0:
        log.debug("SQLite has connections open: its memory statistics stay on")
        return False
    if library.sqlite3_shutdown() != sqlite3.SQLITE_OK:
        return False
    changed = int(library.sqlite3_config(SQLITE_CONFIG_MEMSTATUS, ctypes.c_int(0))) == sqlite3.SQLITE_OK
    if library.sqlite3_initialize() != sqlite3.SQLITE_OK:
        raise RuntimeError("SQLite could not be started again after changing its settings")
    return changed


def memory_used() -> int | None:
    """What SQLite counts as allocated now (0 once the statistics are off); None without a shared library."""
    library = loaded_library()
    return None if library is None else _used(library)


def _used(library: ctypes.CDLL) -> int:
    library.sqlite3_memory_used.restype = ctypes.c_int64
    return int(library.sqlite3_memory_used())


def _counting(library: ctypes.CDLL) -> bool:
    """Whether the statistics are on: an allocation of SQLite's own shows in them only then."""
    library.sqlite3_malloc.restype = ctypes.c_void_p
    library.sqlite3_free.argtypes = [ctypes.c_void_p]
    before = _used(library)
    block = library.sqlite3_malloc(ctypes.c_int(64))
    if not block:
        raise MemoryError("SQLite could not allocate 64 bytes")
    try:
        return _used(library) != before
    finally:
        library.sqlite3_free(block)
