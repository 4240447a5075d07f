"""Read a package in a second process while the caller stages it.

Reading (decoding, parsing, cleaning, the OneRoster join) and staging (mapping,
hashing, writing) each keep one core busy. ``read_ahead`` opens the package
in a forked child process that sends the streams and their rows through a
pipe in batches, and returns a ``Package`` whose streams read from that pipe.
The child pickles each batch and queues it for a sending thread, so it can read
up to ``QUEUE_BATCHES`` batches ahead of the caller (about 7 MB of pickled rows)
before it waits. Memory therefore has a fixed bound and does not grow with the
input.

The child sends what the adapter gives, unchanged: rows, row errors, notices,
and an ``InputError`` raised by ``open`` or while reading. The caller sees the
same package as from ``adapter.open``. Without ``fork`` (Windows), or when the
setting ``runs.read_ahead`` is false, the package is read in the caller's process.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import signal
import threading
import traceback
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

from adapters.base import Adapter, Limits, Notice, Package, ReadHints, SourceRow, Stream
from gateway.errors import GatewayError

log = logging.getLogger(__name__)

BATCH_ROWS = 1000
# Pickled batches the child may hold before it waits for the caller: enough to keep
# reading while the caller writes a chunk. A batch of OneRoster users pickles to about 290 KB.
QUEUE_BATCHES = 24
# How long the caller waits for the child to finish after the last message.
JOIN_SECONDS = 10.0
# A SourceRow as sent through the pipe: line, cells, error, origins, uncalculated.
_RowFields = tuple[int, list[str] | None, Any, Any, Any]


def read_ahead(adapter: Adapter, path: Path, limits: Limits, hints: ReadHints | None,
               enabled: bool = True) -> AbstractContextManager[Package]:
    """Open ``path`` with ``adapter``, read by a child process when ``enabled`` and possible."""
    if not enabled or "fork" not in multiprocessing.get_all_start_methods():
        return adapter.open(path, limits, hints)
    return _remote(adapter, path, limits, hints)


class ReaderFailed(RuntimeError):
    """Failure of the reading process with an error that is not a ``GatewayError``."""


@contextmanager
def _remote(adapter: Adapter, path: Path, limits: Limits,
            hints: ReadHints | None) -> Iterator[Package]:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_read, args=(receiver, sender, adapter, path, limits, hints),
                            name="gateway-reader", daemon=True)
    child.start()
    sender.close()
    try:
        package = _RemotePackage(receiver)
        package.start()
        yield package
    finally:
        receiver.close()
        child.join(JOIN_SECONDS)
        if child.is_alive():
            # The caller stopped early (an error while staging): the child is blocked
            # writing to the closed pipe or still reading; stop it.
            child.terminate()
            child.join(JOIN_SECONDS)
        log.debug("reader stopped", extra={"gateway_fields": {"exit_code": child.exitcode}})


# -- the child ------------------------------------------------------------------------------


def _read(receiver: Connection, sender: Connection, adapter: Adapter, path: Path, limits: Limits,
          hints: ReadHints | None) -> None:
    # Only the caller may hold the read end: when it closes it, a send here fails at once.
    receiver.close()
    # SIGTERM from the caller runs the adapter's clean-up (temporary folders) on the way out.
    signal.signal(signal.SIGTERM, _exit_on_term)
    # Ctrl-C reaches the whole process group: the caller decides, and closes the pipe or
    # sends SIGTERM, so that the reader never reports an interrupt of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbox = _Outbox(sender)
    batch: list[_RowFields] = []
    try:
        with adapter.open(path, limits, hints) as package:
            outbox.put(("package", package.description))
            for stream in package.streams():
                outbox.put(("stream", _StreamHead.of(stream)))
                for row in stream.rows:
                    batch.append((row.line, row.cells, row.error, row.origins, row.uncalculated))
                    if len(batch) >= BATCH_ROWS:
                        outbox.put(("rows", batch))
                        batch = []
                outbox.put(("rows", batch))
                batch = []
                outbox.put(("stream_end", None))
            outbox.put(("done", package.notices))
        outbox.close()
    except BrokenPipeError:
        pass  # the caller has gone away, so there is no one to tell
    except GatewayError as error:
        # The rows read before the error still go through, as they do in one process.
        _send_quietly(outbox, *_pending(batch), ("raise", error))
    except BaseException:  # noqa: BLE001 (the caller gets the traceback text)
        _send_quietly(outbox, *_pending(batch), ("crash", traceback.format_exc()))
    finally:
        sender.close()


class _Outbox:
    """The child's messages, pickled at once and written to the pipe by a thread.

    The reading thread waits only when ``QUEUE_BATCHES`` messages are queued. A
    failed write (the caller closed the pipe) is raised by the next ``put``.
    """

    def __init__(self, sender: Connection):
        self._sender = sender
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_BATCHES)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._write, name="gateway-reader-send", daemon=True)
        self._thread.start()

    def put(self, message: tuple[str, Any]) -> None:
        self._put(bytes(ForkingPickler.dumps(message)))

    def close(self) -> None:
        """Wait until every queued message is written, and raise the error of a failed write."""
        self._put(None)
        self._thread.join()
        if self._failure is not None:
            raise self._failure

    def _put(self, item: bytes | None) -> None:
        while True:
            if self._failure is not None:
                raise self._failure
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _write(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self._sender.send_bytes(item)
            except BaseException as exc:  # noqa: BLE001 (raised again in the reading thread)
                self._failure = exc
                return


def _pending(batch: list[_RowFields]) -> list[tuple[str, Any]]:
    """Return the message with the rows read before an error, if any (only inside a stream)."""
    return [("rows", batch)] if batch else []


def _exit_on_term(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _send_quietly(outbox: _Outbox, *messages: tuple[str, Any]) -> None:
    try:
        for message in messages:
            outbox.put(message)
        outbox.close()
    except OSError:
        pass


@dataclass
class _StreamHead:
    """Everything of a ``Stream`` but its rows."""

    name: str
    file: str
    headers: list[str]
    mode: Any
    sheet: str | None
    scope: Any
    key_column: str | None
    properties: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, stream: Stream) -> _StreamHead:
        return cls(stream.name, stream.file, list(stream.headers), stream.mode, stream.sheet,
                   stream.scope, stream.key_column, dict(stream.properties))


# -- the caller's side ----------------------------------------------------------------------


class _RemotePackage(Package):
    """The package as the child reads it; streams must be read in order, as from any package."""

    def __init__(self, receiver: Connection):
        self._receiver = receiver
        self.notices: list[Notice] = []
        self.description: dict[str, Any] = {}
        self._in_stream = False

    def start(self) -> None:
        """Wait for the package to open in the child; raise what ``open`` raised."""
        kind, value = self._receive()
        if kind != "package":
            raise ReaderFailed(f"reader sent {kind} before the package")
        self.description = value

    def streams(self) -> Iterator[Stream]:
        while True:
            if self._in_stream:
                # The previous stream was not read to its end: skip its rest.
                for _ in self._rows():
                    pass
            kind, value = self._receive()
            if kind == "done":
                self.notices.extend(value)
                return
            if kind != "stream":
                raise ReaderFailed(f"reader sent {kind} where a stream was due")
            head: _StreamHead = value
            self._in_stream = True
            yield Stream(head.name, head.file, head.headers, self._rows(), head.mode, head.sheet,
                         head.scope, head.key_column, head.properties)

    def _rows(self) -> Iterator[SourceRow]:
        while self._in_stream:
            kind, value = self._receive()
            if kind == "stream_end":
                self._in_stream = False
                return
            if kind != "rows":
                raise ReaderFailed(f"reader sent {kind} inside a stream")
            for line, cells, error, origins, uncalculated in value:
                yield SourceRow(line, cells, error, origins, uncalculated)

    def _receive(self) -> tuple[str, Any]:
        try:
            kind, value = self._receiver.recv()
        except EOFError as exc:
            raise ReaderFailed("the reading process ended without a result") from exc
        if kind == "raise":
            raise value
        if kind == "crash":
            raise ReaderFailed(f"reader failed:\n{value}")
        return kind, value
