"""Settings: committed defaults, a git-ignored local file, environment overrides.

Order of precedence, lowest first:

1. ``config/defaults.toml`` (committed);
2. ``config/local.toml`` or the file named by ``GATEWAY_CONFIG`` (git-ignored,
   the place for secrets);
3. environment variables ``GATEWAY_<SECTION>__<KEY>``, and
   ``GATEWAY_<SECTION>__<KEY>_FILE`` naming a file whose content is the value.

The merged document is checked against ``config/settings.schema.json``; every
problem is collected and reported at once as a ``ConfigurationError``. Each
problem names the setting's dotted path (``runs.chunk_size``) and says in the
catalogue's words (``settings.invalid.*``) what is wrong and what to write
instead, the way ``gateway.validation`` words the schema errors of records. The
texts are in the language set when the settings are loaded.
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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
from jsonschema.exceptions import ValidationError

from gateway import PROJECT_ROOT
from gateway.errors import ConfigurationError, Problems
from gateway.i18n import LANGUAGES, t
from gateway.validation import TYPE_MESSAGE_TYPES, shorten

CONFIG_DIR = PROJECT_ROOT / "config"
ENV_PREFIX = "GATEWAY_"
# Variables that configure where things are, not settings values.
RESERVED_ENV = {"GATEWAY_HOME", "GATEWAY_CONFIG"}
# Settings whose pattern has its own message, `settings.invalid.pattern.<setting>`, which
# describes the expected value in words instead of quoting a regular expression.
PATTERN_MESSAGE_SETTINGS = frozenset({"store.url"})
# Keywords whose error names a limit, and the catalogue key of each.
_LIMIT_KEYS = {
    "minimum": "settings.invalid.minimum",
    "maximum": "settings.invalid.maximum",
    "exclusiveMinimum": "settings.invalid.exclusive_minimum",
    "exclusiveMaximum": "settings.invalid.exclusive_maximum",
}


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
        problems.add(t("settings.file_unreadable", path=path, reason=exc.strerror))
    except tomllib.TOMLDecodeError as exc:
        problems.add(t("settings.toml_invalid", path=path, detail=exc))
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
                problems.add(t("settings.secret_file_unreadable", variable=name, path=raw,
                               reason=exc.strerror))
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
    validator = jsonschema.Draft202012Validator(
        _schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    found = [problem for error in validator.iter_errors(document) for problem in _problems(error)]
    found += _zone_problems(document)
    for _, text in sorted(found):
        problems.add(text)
    problems.raise_if_any("error.settings_invalid")
    return Settings(data=document, home=home)


def _zone_problems(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return the problem of a ``locale.timezone`` that names no time zone this machine has."""
    locale = document.get("locale")
    zone = locale.get("timezone") if isinstance(locale, Mapping) else None
    if not isinstance(zone, str) or not zone:
        return []
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return [("locale.timezone", t("settings.invalid.timezone", setting="locale.timezone",
                                      value=shorten(zone)))]
    return []


def _setting(path: Any, name: str | None = None) -> str:
    """Return the dotted path of a setting (``runs.chunk_size``), with ``name`` appended."""
    parts = [*(str(part) for part in path), *([name] if name is not None else [])]
    return ".".join(parts)


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    """Return each problem of one schema error as (setting, text in the catalogue's words)."""
    setting = _setting(error.absolute_path)
    keyword = str(error.validator)
    if keyword == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return [(path, t("settings.invalid.required", setting=path))
                for path in (_setting(error.absolute_path, name) for name in missing)]
    if keyword == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = list(error.schema.get("properties", {}))
        unknown = [name for name in error.instance if name not in allowed]
        return [(path, t("settings.invalid.unknown", setting=path, allowed=", ".join(allowed)))
                for path in (_setting(error.absolute_path, name) for name in unknown)]
    return [(setting, _value_problem(keyword, error, setting or t("settings.top_level")))]


def _value_problem(keyword: str, error: ValidationError, setting: str) -> str:
    value = shorten(error.instance)
    rule = error.validator_value
    if keyword == "type":
        if isinstance(rule, str) and rule in TYPE_MESSAGE_TYPES:
            return t(f"settings.invalid.type.{rule}", setting=setting, value=value)
        expected = ", ".join(rule) if isinstance(rule, list) else str(rule)
        return t("settings.invalid.type", setting=setting, value=value, expected=expected)
    if keyword in ("enum", "const"):
        allowed = ", ".join(shorten(v) for v in (rule if keyword == "enum" else [rule]))
        return t("settings.invalid.enum", setting=setting, value=value, allowed=allowed)
    if keyword in _LIMIT_KEYS:
        return t(_LIMIT_KEYS[keyword], setting=setting, value=value, limit=rule)
    if keyword == "pattern":
        if setting in PATTERN_MESSAGE_SETTINGS:
            return t(f"settings.invalid.pattern.{setting}", setting=setting, value=value)
        return t("settings.invalid.pattern", setting=setting, value=value, pattern=rule)
    if keyword == "format":
        return t("settings.invalid.format", setting=setting, value=value, format=rule)
    return t("settings.invalid.generic", setting=setting, value=value, keyword=keyword)


def _merged_document(environ: Mapping[str, str], overrides: Mapping[str, Any] | None,
                     problems: Problems) -> dict[str, Any]:
    """Merge the defaults, the local settings file, the environment and ``overrides``, unchecked."""
    document = _read_toml(CONFIG_DIR / "defaults.toml", problems)
    local = Path(environ["GATEWAY_CONFIG"]) if environ.get("GATEWAY_CONFIG") else CONFIG_DIR / "local.toml"
    if local.exists() or environ.get("GATEWAY_CONFIG"):
        document = merge(document, _read_toml(local, problems))
    document = merge(document, _env_overrides(environ, problems))
    if overrides:
        document = merge(document, overrides)
    return document


def declared_language(environ: Mapping[str, str] | None = None) -> str | None:
    """Return the ``locale.lang`` that the settings give, read without checking the other settings.

    Used to report invalid settings in the language that their file sets.
    """
    document = _merged_document(os.environ if environ is None else environ, None, Problems())
    locale = document.get("locale")
    lang = locale.get("lang") if isinstance(locale, Mapping) else None
    return lang if lang in LANGUAGES else None


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build the settings of this process; raise ``ConfigurationError`` listing every problem."""
    environ = os.environ if environ is None else environ
    home = Path(environ.get("GATEWAY_HOME") or os.getcwd()).resolve()
    problems = Problems()
    document = _merged_document(environ, overrides, problems)
    try:
        settings = build(document, home)
    except ConfigurationError as exc:
        problems.items.extend(exc.problems)
    problems.raise_if_any("error.settings_invalid")
    return settings
