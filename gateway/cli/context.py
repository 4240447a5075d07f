"""The state every subcommand shares: settings, the store, the language and the output mode."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import click
import peewee
from tqdm import tqdm

from gateway import settings as settings_module
from gateway.cli.render import set_display_zone
from gateway.i18n import set_language, t
from gateway.logs import configure
from gateway.settings import Settings
from gateway.store.database import open_database
from gateway.store.migrations import require_current


@dataclass
class AppContext:
    """Built once per invocation by the group callback; reached with ``click.pass_obj``."""

    json_output: bool
    lang_option: str | None
    _settings: Settings | None = None
    _db: peewee.Database | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = settings_module.load()
            set_language(self.lang_option or self._settings.lang)
            set_display_zone(self._settings.section("locale")["timezone"])
            logging_section = self._settings.section("logging")
            log_path = logging_section["path"]
            configure(logging_section["level"], logging_section["format"],
                      file=self._settings.home / log_path if log_path else None,
                      console_level=logging_section["console_level"])
        return self._settings

    def database(self, migrated: bool = True) -> peewee.Database:
        """Open the store; with ``migrated`` require it to be at the current version."""
        if self._db is None:
            store = self.settings.section("store")
            self._db = open_database(self.settings.store_url, store["busy_timeout_ms"])
        if migrated:
            require_current(self._db)
        return self._db

    def close(self) -> None:
        if self._db is not None and not self._db.is_closed():
            self._db.close()

    def emit(self, document: Any, lines: list[str]) -> None:
        """Print ``document`` as JSON with ``--json``, else the human ``lines``."""
        if self.json_output:
            click.echo(json.dumps(document, ensure_ascii=False, indent=2, default=_json_value))
        else:
            for line in lines:
                click.echo(line)

    @contextmanager
    def progress(self, description_key: str, total: int | None = None) -> Iterator[Any]:
        """Show a progress bar with rates on standard error, only when it is a terminal."""
        disabled = self.json_output or not sys.stderr.isatty()
        bar = tqdm(total=total, desc=t(description_key), unit=t("progress.unit_rows"),
                   file=sys.stderr, disable=disabled, unit_scale=True, dynamic_ncols=True)
        try:
            yield bar
        finally:
            bar.close()


def _json_value(value: Any) -> Any:
    """Return a JSON form of a value ``json`` cannot write: ISO 8601 for a datetime, else text."""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
