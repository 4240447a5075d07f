"""Settings: committed defaults, a git-ignored local file, environment overrides.

Order of precedence, lowest first:

1. ``config/defaults.toml`` (committed);
2. ``config/local.toml`` or the file named by ``GATEWAY_CONFIG`` (git-ignored,
   the place for secrets);
3. environment variables ``GATEWAY_<SECTION>__<KEY>``, and
   ``GATEWAY_<SECTION>__<KEY>_FILE`` naming a file whose content is the value.

The merged document is checked against ``config/settings.schema.json``; every
problem is collected and reported at once as a ``ConfigurationError``.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema

from gateway import PROJECT_ROOT
from gateway.errors import ConfigurationError, Problems

CONFIG_DIR = PROJECT_ROOT / "config"
ENV_PREFIX = "GATEWAY_"
# Variables that configure where things are, not settings values.
RESERVED_ENV = {"GATEWAY_HOME", "GATEWAY_CONFIG"}


@dataclass(frozen=True)
class Settings:
    """The checked settings document, with typed accessors for common values."""

    data: Mapping[str, Any]
    home: Path

    def section(self, name: str) -> Mapping[str, Any]:
        return self.data[name]

    @cached_property
    def store_url(self) -> str:
        return resolve_store_url(self.data["store"]["url"], self.home)

    @property
    def lang(self) -> str:
        return str(self.data["locale"]["lang"])

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        """Return a new checked ``Settings`` with nested ``overrides`` merged in."""
        return build(merge(self.data, overrides), self.home)


def resolve_store_url(url: str, home: Path) -> str:
    """Make a relative SQLite path absolute against ``home``."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((home / url[len(prefix):]).resolve())
    return url


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path, problems: Problems) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        problems.add(f"{path}: {exc.strerror}")
    except tomllib.TOMLDecodeError as exc:
        problems.add(f"{path}: {exc}")
    return {}


def _parse_env_value(raw: str) -> Any:
    """Read an environment value as TOML where it parses (numbers, booleans, lists)."""
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


def _env_overrides(environ: Mapping[str, str], problems: Problems) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV or "__" not in name:
            continue
        path = name[len(ENV_PREFIX):].lower()
        if path.endswith("_file"):
            path = path[: -len("_file")]
            try:
                raw = Path(raw).read_text(encoding="utf-8").strip()
            except OSError as exc:
                problems.add(f"{name}: {raw}: {exc.strerror}")
                continue
        keys = path.split("__")
        target = overrides
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = _parse_env_value(raw)
    return overrides


def _schema() -> dict[str, Any]:
    with (CONFIG_DIR / "settings.schema.json").open(encoding="utf-8") as handle:
        return json.load(handle)


def build(document: Mapping[str, Any], home: Path) -> Settings:
    """Check ``document`` against the settings schema and wrap it."""
    problems = Problems()
    validator = jsonschema.Draft202012Validator(_schema())
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path)):
        where = ".".join(str(p) for p in error.path) or "(top level)"
        problems.add(f"{where}: {error.message}")
    problems.raise_if_any("error.settings_invalid")
    return Settings(data=document, home=home)


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build the settings of this process; raise ``ConfigurationError`` listing every problem."""
    environ = os.environ if environ is None else environ
    home = Path(environ.get("GATEWAY_HOME") or os.getcwd()).resolve()
    problems = Problems()
    document = _read_toml(CONFIG_DIR / "defaults.toml", problems)
    local = Path(environ["GATEWAY_CONFIG"]) if environ.get("GATEWAY_CONFIG") else CONFIG_DIR / "local.toml"
    if local.exists() or environ.get("GATEWAY_CONFIG"):
        document = merge(document, _read_toml(local, problems))
    document = merge(document, _env_overrides(environ, problems))
    if overrides:
        document = merge(document, overrides)
    try:
        settings = build(document, home)
    except ConfigurationError as exc:
        problems.items.extend(exc.problems)
    problems.raise_if_any("error.settings_invalid")
    return settings
