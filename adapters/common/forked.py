"""Run one function in a forked process while the caller goes on, and collect its result.

An adapter uses this for work that would otherwise leave a core idle, such as
spooling one join file while it spools another. The child is forked with
``os.fork``, not ``multiprocessing.Process``, because the read-ahead process
that calls it is a daemon, and multiprocessing gives daemons no children.

The function's result, or the ``GatewayError`` it raises, comes back through
a pipe, pickled. Any other exception comes back as its traceback text and is
raised by ``Forked.result`` as ``ForkedFailed``. The child ignores Ctrl-C, as
the read-ahead process does, and never returns into the caller's code: it
leaves with ``os._exit``, so no clean-up of the caller runs twice.
"""

from __future__ import annotations

import os
import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, Pipe
from typing import Any

from gateway.errors import GatewayError


def fork_available() -> bool:
    return hasattr(os, "fork")


class ForkedFailed(RuntimeError):
    """Failure of a forked function with an error that is not a ``GatewayError``."""


class Forked:
    """A function running in a forked process; ``result`` waits for it and returns its value."""

    def __init__(self, work: Callable[[], Any]):
        receiver, sender = Pipe(duplex=False)
        self._pid = os.fork()
        if self._pid == 0:  # the child
            receiver.close()
            _run_child(work, sender)
        sender.close()
        self._receiver: Connection = receiver

    def result(self) -> Any:
        """Wait for the child; return its value, or raise its ``GatewayError`` or ``ForkedFailed``."""
        try:
            kind, value = self._receiver.recv()
        except EOFError:
            kind, value = "crash", "the forked process ended without sending a result"
        finally:
            self._receiver.close()
            os.waitpid(self._pid, 0)
        if kind == "error":
            raise value
        if kind == "crash":
            raise ForkedFailed(value)
        return value


def _run_child(work: Callable[[], Any], sender: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    code = 0
    try:
        try:
            message: tuple[str, Any] = ("value", work())
        except GatewayError as error:
            message = ("error", error)
        except BaseException:  # noqa: BLE001 (the parent gets the traceback text)
            message = ("crash", traceback.format_exc())
        sender.send(message)
    except BaseException:  # noqa: BLE001 (the parent sees the closed pipe)
        code = 1
    finally:
        os._exit(code)
