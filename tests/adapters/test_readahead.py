"""The read-ahead process gives the same package as reading in place, errors included."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from adapters.base import Adapter, Limits, Notice, Package, ReadHints, SourceRow, Stream
from adapters.readahead import BATCH_ROWS, QUEUE_BATCHES, ReaderFailed, _Outbox, read_ahead
from adapters.registry import get_adapter
from gateway.errors import GatewayError, InputError, Place, RowError
from tests.support import oneroster as pkg


def contents(package: Package) -> tuple[list[Any], list[Any]]:
    """Return every stream with its rows, and the notices, as plain values."""
    streams = []
    for stream in package.streams():
        rows = [(row.line, row.cells, row.error.as_dict() if row.error else None)
                for row in stream.rows]
        streams.append((stream.name, stream.file, stream.headers, stream.mode, stream.sheet,
                        stream.scope, stream.key_column, stream.properties, rows))
    notices = [(n.level, n.error.as_dict()) for n in package.notices]
    return streams, notices


def test_readahead_oneroster_package_unchanged(tmp_path: Path) -> None:
    tables = pkg.city(students=2 * BATCH_ROWS + 7)
    tables["users"][3]["sourcedId"] = ""
    tables["enrollments"].append({"sourcedId": "e-x", "classSourcedId": "c-none"})
    folder = pkg.write_package(tmp_path / "p", tables)
    (folder / "users.csv").write_bytes((folder / "users.csv").read_bytes() + b'"u-broken,\r\n')
    adapter = get_adapter("oneroster")
    with read_ahead(adapter, folder, Limits(), None, enabled=False) as package:
        in_process = contents(package)
    with read_ahead(adapter, folder, Limits(), None, enabled=True) as package:
        assert type(package).__name__ == "_RemotePackage"
        in_reader = contents(package)
    assert in_reader == in_process
    assert sum(len(stream[-1]) for stream in in_process[0]) > 2 * BATCH_ROWS
    assert any(row[2] for stream in in_process[0] for row in stream[-1])


class _Scripted(Adapter):
    """Adapter whose package gives the rows, notice and error that a test sets."""

    key = "scripted"

    def __init__(self, fail_open: bool = False, fail_after: int | None = None,
                 crash_after: int | None = None, rows: int = 10, folder: Path | None = None):
        self.fail_open, self.fail_after, self.crash_after = fail_open, fail_after, crash_after
        self.rows, self.folder = rows, folder

    @contextmanager
    def open(self, path: Path, limits: Limits,
             hints: ReadHints | None = None) -> Iterator[Package]:
        if self.fail_open:
            raise InputError("error.input_missing", place=Place(file=str(path)), path=str(path))
        marker = self.folder / f"open-{os.getpid()}" if self.folder else None
        if marker:
            marker.write_text("open")
        try:
            yield _ScriptedPackage(self)
        finally:
            if marker:
                marker.unlink()


class _ScriptedPackage(Package):
    def __init__(self, adapter: _Scripted):
        self.adapter = adapter
        self.notices = [Notice("warning", InputError("csv.duplicate_header",
                                                     place=Place(file="a.csv", column="x"),
                                                     file="a.csv", header="x", columns="1, 2"))]
        self.description = {"kind": "scripted"}

    def streams(self) -> Iterator[Stream]:
        yield Stream("things", "a.csv", ["id"], self._rows())

    def _rows(self) -> Iterator[SourceRow]:
        for line in range(2, self.adapter.rows + 2):
            if self.adapter.fail_after is not None and line > self.adapter.fail_after:
                raise InputError("csv.unreadable", place=Place(file="a.csv", row=line), file="a.csv")
            if self.adapter.crash_after is not None and line > self.adapter.crash_after:
                raise KeyError("a bug in an adapter")
            if line == 5:
                yield SourceRow(line, error=RowError("csv.malformed", place=Place(file="a.csv", row=5),
                                                     line=5))
            else:
                yield SourceRow(line, [f"id-{line}"])


def test_readahead_open_error_raised(tmp_path: Path) -> None:
    with (pytest.raises(InputError) as raised,
          read_ahead(_Scripted(fail_open=True), tmp_path / "nothing", Limits(), None)):
        pass
    assert raised.value.key == "error.input_missing"
    assert raised.value.place.file == str(tmp_path / "nothing")


def test_readahead_rows_errors_notices_whole(tmp_path: Path) -> None:
    with read_ahead(_Scripted(), tmp_path, Limits(), None) as package:
        streams, notices = contents(package)
        assert package.description == {"kind": "scripted"}
    rows = streams[0][-1]
    assert len(rows) == 10
    assert rows[3] == (5, None, RowError("csv.malformed", place=Place(file="a.csv", row=5),
                                         line=5).as_dict())
    assert notices[0][1]["error"] == "csv.duplicate_header"
    assert notices[0][1]["place"] == {"file": "a.csv", "column": "x"}


def test_readahead_read_error_after_good_rows(tmp_path: Path) -> None:
    seen = []
    with (pytest.raises(GatewayError) as raised,
          read_ahead(_Scripted(fail_after=7), tmp_path, Limits(), None) as package):
        for stream in package.streams():
            seen.extend(row.line for row in stream.rows)
    assert raised.value.key == "csv.unreadable"
    assert raised.value.place.row == 8
    assert seen == [2, 3, 4, 5, 6, 7]


def test_readahead_crash_gives_traceback(tmp_path: Path) -> None:
    with (pytest.raises(ReaderFailed) as raised,
          read_ahead(_Scripted(crash_after=3), tmp_path, Limits(), None) as package):
        for stream in package.streams():
            list(stream.rows)
    assert "KeyError" in str(raised.value)


def test_readahead_early_stop_ends_reader(tmp_path: Path) -> None:
    adapter = _Scripted(rows=100 * BATCH_ROWS, folder=tmp_path)
    with (pytest.raises(RuntimeError, match="staging failed"),
          read_ahead(adapter, tmp_path, Limits(), None) as package):
        stream = next(package.streams())
        next(stream.rows)
        raise RuntimeError("staging failed")
    # The reader ran its adapter's clean-up on the way out.
    assert list(tmp_path.glob("open-*")) == []


def test_readahead_reader_ignores_ctrl_c(tmp_path: Path) -> None:
    adapter = _Scripted(rows=100 * BATCH_ROWS, folder=tmp_path)
    with read_ahead(adapter, tmp_path, Limits(), None) as package:
        stream = next(package.streams())
        next(stream.rows)
        reader = int(next(tmp_path.glob("open-*")).name.removeprefix("open-"))
        # As Ctrl-C in a terminal: the signal reaches the reader too, which ignores it
        # and goes on sending rows until the caller stops it.
        os.kill(reader, signal.SIGINT)
        assert sum(1 for _ in stream.rows) == 100 * BATCH_ROWS - 1
    assert list(tmp_path.glob("open-*")) == []


def test_outbox_closed_pipe_raises() -> None:
    receiver, sender = multiprocessing.Pipe(duplex=False)
    outbox = _Outbox(sender)
    receiver.close()
    with pytest.raises(BrokenPipeError):
        # The writes fail in the sending thread; the reading thread gets the error within a few puts.
        for _ in range(QUEUE_BATCHES * 4):
            outbox.put(("rows", [(1, ["x" * 1000], None, None)] * 100))
        outbox.close()


def test_outbox_keeps_message_order() -> None:
    receiver, sender = multiprocessing.Pipe(duplex=False)
    outbox = _Outbox(sender)
    messages = [("rows", [(line, [str(line)], None, None)]) for line in range(QUEUE_BATCHES // 2)]
    for message in messages:
        outbox.put(message)
    outbox.close()
    received = [receiver.recv() for _ in messages]
    assert received == messages
