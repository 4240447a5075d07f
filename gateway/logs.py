"""Logging set-up: a fixed event text per line with the data in fields.

Call sites write ``log.info("run staged", extra=fields(run_id=7, rows=1200))``.
The formatter appends the fields as ``key=value`` (text) or emits one JSON
object per line. Field names that would carry personal data or secrets are
dropped by ``RedactingFilter`` as a last line of defence: log ids and counts.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

FIELDS_ATTRIBUTE = "gateway_fields"

# Field names that must never reach a log line, whatever a call site passes.
REDACTED_FIELD_NAMES = frozenset(
    {
        "name", "full_name", "family_name", "given_name", "middle_name", "birth_date",
        "birthdate", "personal_id", "identity_number", "password", "token", "secret",
        "key", "private_key", "email", "phone", "address", "payload", "row", "values",
    }
)


def fields(**values: Any) -> dict[str, Any]:
    """Wrap structured fields for the ``extra`` argument of a logging call."""
    return {FIELDS_ATTRIBUTE: values}


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        values = getattr(record, FIELDS_ATTRIBUTE, None)
        if values:
            setattr(
                record,
                FIELDS_ATTRIBUTE,
                {k: ("[redacted]" if k.lower() in REDACTED_FIELD_NAMES else v) for k, v in values.items()},
            )
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        values = getattr(record, FIELDS_ATTRIBUTE, None) or {}
        if values:
            line += " " + " ".join(f"{k}={_text(v)}" for k, v in values.items())
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        document.update(getattr(record, FIELDS_ATTRIBUTE, None) or {})
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)


def _text(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


def configure(level: str = "WARNING", fmt: str = "text", stream: Any = None) -> None:
    """Install one handler on the root logger; safe to call more than once."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_gateway", False):
            root.removeHandler(old)
    handler._gateway = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # peewee logs every SQL statement with its values at DEBUG, and those values
    # hold names and birth dates, so its logger never goes below INFO.
    logging.getLogger("peewee").setLevel(max(logging.INFO, root.level))
