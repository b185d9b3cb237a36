"""The spool a campaign's messages wait in: rows read back in order and in chunks, as often as asked, and the
file removed by `close`."""

from __future__ import annotations

from pathlib import Path

from martinet.store.spool import Spool


def test_rows_come_back_in_order_chunk_by_chunk_and_the_file_goes(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), chunk=3)
    rows = [(f"3360000000{i}", i, None, "Café à Noël" * i) for i in range(7)]
    for row in rows:
        spool.append(row)
    assert [len(chunk) for chunk in spool.chunks()] == [3, 3, 1]
    assert [row for chunk in spool.chunks() for row in chunk] == rows  # read twice: the same rows
    spool.append(("33699999999", 7, 1, ""))  # after a reading, appended at the end
    assert [row for chunk in spool.chunks() for row in chunk] == [*rows, ("33699999999", 7, 1, "")]
    assert spool.count == 8 and Path(spool.path).parent == tmp_path
    assert Path(spool.path).stat().st_mode & 0o077 == 0  # the worker's own
    spool.close()
    spool.close()
    assert list(tmp_path.iterdir()) == []
