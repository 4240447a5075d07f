"""Logging: fields appended, personal-data field names redacted, JSON lines parse."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.logs import configure, fields


@pytest.fixture(autouse=True)
def restore_root_handlers() -> Iterator[None]:
    """Remove and close the handlers a test installed, so that no later test writes to its file."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def _capture(fmt: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    configure("INFO", fmt, stream=stream)
    return logging.getLogger("gateway.test"), stream


def test_text_line_carries_fields() -> None:
    log, stream = _capture("text")
    log.info("run staged", extra=fields(run_id=7, rows=12))
    assert "run staged run_id=7 rows=12" in stream.getvalue()


def test_personal_fields_redacted() -> None:
    log, stream = _capture("json")
    log.info("row seen", extra=fields(run_id=1, full_name="Nguyễn Văn A", birth_date="2010-01-01",
                                      password="x", token="t"))
    document = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert document["run_id"] == 1
    for name in ("full_name", "birth_date", "password", "token"):
        assert document[name] == "[redacted]"
    assert "Nguyễn" not in stream.getvalue()


def test_peewee_sql_never_logged_at_debug() -> None:
    configure("DEBUG", "text", stream=io.StringIO())
    assert logging.getLogger("peewee").getEffectiveLevel() == logging.INFO


def flush_handlers() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def test_file_keeps_what_console_skips(tmp_path: Path) -> None:
    stream = io.StringIO()
    path = tmp_path / "var" / "log" / "gateway.log"

    in_use = configure("WARNING", "text", stream=stream, file=path, console_level="ERROR")
    log = logging.getLogger("gateway.test")
    log.info("run staged", extra=fields(run_id=1))
    log.warning("run held by guard", extra=fields(run_id=2))
    log.error("run failed", extra=fields(run_id=3))
    flush_handlers()

    written = path.read_text(encoding="utf-8")
    assert in_use == path
    assert "run staged" not in written
    assert "WARNING gateway.test: run held by guard run_id=2" in written
    assert "ERROR gateway.test: run failed run_id=3" in written
    assert "run held by guard" not in stream.getvalue()
    assert "run failed run_id=3" in stream.getvalue()


def test_unwritable_file_logs_to_stream(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    stream = io.StringIO()

    in_use = configure("WARNING", "text", stream=stream, file=blocker / "gateway.log",
                       console_level="ERROR")
    logging.getLogger("gateway.test").warning("run held by guard", extra=fields(run_id=2))

    assert in_use is None
    assert "log file not writable" in stream.getvalue()
    assert "run held by guard run_id=2" in stream.getvalue()


def test_configure_twice_keeps_one_file_handler(tmp_path: Path) -> None:
    path = tmp_path / "gateway.log"
    configure("WARNING", "text", stream=io.StringIO(), file=path, console_level="ERROR")
    configure("WARNING", "text", stream=io.StringIO(), file=path, console_level="ERROR")

    logging.getLogger("gateway.test").warning("run held by guard")
    flush_handlers()

    assert path.read_text(encoding="utf-8").count("run held by guard") == 1
