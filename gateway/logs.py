"""Logging set-up: a fixed event text per line with the data in fields.

Call sites write ``log.info("run staged", extra=fields(run_id=7, rows=1200))``.
The formatter appends the fields as ``key=value`` (text) or emits one JSON
object per line. Field names that would carry personal data or secrets are
dropped by ``RedactingFilter`` as a last line of defence: log ids and counts.

Log lines are for operators, in English. The ``gateway`` command writes them to
a log file and copies to standard error only those at ``console_level`` and
above, so that they do not interleave with the translated output that people
read. Without a usable file, every line goes to standard error, so none is lost.
"""

from __future__ import annotations

import json
import logging
import sys
from logging.handlers import WatchedFileHandler
from pathlib import Path
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


def configure(level: str = "WARNING", fmt: str = "text", stream: Any = None, file: Path | None = None,
              console_level: str | None = None) -> Path | None:
    """Install the gateway's handlers on the root logger; safe to call more than once.

    Records at ``level`` and above go to ``file`` when it is given, and those at
    ``console_level`` (default: ``level``) and above also to ``stream`` (default:
    standard error). When ``file`` cannot be opened, every record at ``level`` goes
    to the stream instead. Returns the path of the log file in use, or ``None``.
    """
    formatter = _formatter(fmt)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_gateway", False):
            root.removeHandler(old)
            old.close()
    file_handler, file_problem = _file_handler(file) if file is not None else (None, None)
    console_threshold = _level(console_level or level) if file_handler else _level(level)
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    handlers[0].setLevel(console_threshold)
    if file_handler is not None:
        file_handler.setLevel(_level(level))
        handlers.append(file_handler)
    for handler in handlers:
        handler.addFilter(RedactingFilter())
        handler.setFormatter(formatter)
        handler._gateway = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(min(_level(level), console_threshold))
    # peewee logs every SQL statement with its values at DEBUG, and those values
    # hold names and birth dates, so its logger never goes below INFO.
    logging.getLogger("peewee").setLevel(max(logging.INFO, root.level))
    if file_problem is not None:
        logging.getLogger(__name__).warning("log file not writable, logging to standard error",
                                            extra=fields(path=str(file), error=file_problem))
    return file if file_handler is not None else None


def _formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    return TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def _level(name: str) -> int:
    return logging.getLevelNamesMapping()[name.upper()]


def _file_handler(path: Path) -> tuple[logging.Handler | None, str | None]:
    """Open ``path`` for appending, creating its folder; return the handler or the error's name.

    ``WatchedFileHandler`` reopens the file when logrotate (or a person) moves it away.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return WatchedFileHandler(path, encoding="utf-8"), None
    except OSError as exc:
        return None, type(exc).__name__
