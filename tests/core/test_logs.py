"""Logging: fields appended, personal-data field names redacted, JSON lines parse."""

from __future__ import annotations

import io
import json
import logging

from gateway.logs import configure, fields


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
