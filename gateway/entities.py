"""Canonical entity definitions, read from ``mappings/entities.yaml``.

An entity definition names the current schema version, how a record is
identified (``natural_key`` within a source, ``aliases`` across sources),
which fields bound a bulk snapshot (``scope``), which fields refer to
records of other entities (``references``, ``references_by_role``), and the
range of dates a date field may hold (``date_limits``).

The file is checked against the schemas beside it
(``<folder of the file>/schemas/<entity>/v<current_version>.json``): every
field it names must exist in that schema. Every problem is reported at once as
a ``ConfigurationError``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from gateway import PROJECT_ROOT
from gateway.errors import ConfigurationError, Problems
from gateway.logs import fields
from gateway.validation import read_schema_file

log = logging.getLogger(__name__)

ENTITIES_FILE = PROJECT_ROOT / "mappings" / "entities.yaml"
LANGUAGES = ("vi", "en")
SHARED_SCHEMA_FOLDER = "common"

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_REQUIRED_KEYS = ("current_version", "title", "natural_key", "aliases", "scope", "references")
_ROLE_FIELD = "role"


TODAY = "today"


@dataclass(frozen=True)
class DateLimit:
    """The dates a date field may hold, both inclusive; ``None`` is no limit.

    ``not_after`` is ``TODAY`` for a date that cannot lie in the future, such as a birth date.
    """

    not_before: date | None = None
    not_after: date | str | None = None


@dataclass(frozen=True)
class Entity:
    """One canonical entity as defined in ``entities.yaml``.

    ``scope_school`` and ``scope_period`` name the fields that bound a bulk
    snapshot of this entity, or are ``None`` when it has no such bound.
    ``references`` maps a field to the entity whose ``local_id`` it holds;
    ``references_by_role`` maps a field to {value of ``role`` -> entity}.
    """

    name: str
    current_version: int
    title: dict[str, str]
    aliases: tuple[str, ...]
    scope_school: str | None
    scope_period: str | None
    references: dict[str, str]
    natural_key: str = "local_id"
    references_by_role: dict[str, dict[str, str]] = field(default_factory=dict)
    date_limits: dict[str, DateLimit] = field(default_factory=dict)

    @property
    def identifier_fields(self) -> frozenset[str]:
        """Return the identifier fields: the natural key, the aliases and the references."""
        return frozenset({self.natural_key, *self.aliases, *self.references,
                          *self.references_by_role})

    def reference_target(self, field_name: str, role: str | None = None) -> str | None:
        """Return the entity that ``field_name`` refers to, or ``None`` if it is no reference.

        For a field in ``references_by_role`` the target depends on ``role``,
        and without a known role the result is ``None``.
        """
        if field_name in self.references:
            return self.references[field_name]
        return self.references_by_role.get(field_name, {}).get(role or "")


def load_entities(path: Path | None = None) -> dict[str, Entity]:
    """Return the entities defined in ``path`` (default ``mappings/entities.yaml``) by name.

    The file is read once per path and cached. Raises ``ConfigurationError``
    listing every problem of the file and of its agreement with the schemas.
    """
    return dict(_load((path or ENTITIES_FILE).resolve()))


def get_entity(name: str) -> Entity:
    """Return the entity ``name`` from the default file; raise ``ConfigurationError`` if unknown."""
    entities = load_entities()
    if name not in entities:
        raise ConfigurationError("entities.unknown", entity=name, known=", ".join(sorted(entities)))
    return entities[name]


@cache
def _load(path: Path) -> dict[str, Entity]:
    problems = Problems()
    section = _read_section(path, problems)
    entities: dict[str, Entity] = {}
    for name, raw in section.items():
        entity = _parse_entity(str(name), raw, problems)
        if entity is not None:
            entities[entity.name] = entity
    _check_against_schemas(
        entities, {str(name) for name in section}, path.parent / "schemas", problems
    )
    problems.raise_if_any("entities.invalid", path=str(path))
    log.debug("entity definitions loaded", extra=fields(entities=len(entities)))
    return entities


def _read_section(path: Path, problems: Problems) -> dict[Any, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except OSError as exc:
        problems.add(f"{path}: {exc.strerror}")
        return {}
    except yaml.YAMLError as exc:
        problems.add(f"{path}: not valid YAML: {exc}")
        return {}
    section = document.get("entities") if isinstance(document, dict) else None
    if not isinstance(section, dict) or not section:
        problems.add(f"{path}: expected a non-empty mapping under the top-level key 'entities'")
        return {}
    return section


# --- one entity ------------------------------------------------------------------


def _parse_entity(name: str, raw: Any, problems: Problems) -> Entity | None:
    if not _NAME.fullmatch(name) or name == SHARED_SCHEMA_FOLDER:
        problems.add(
            f"{name}: an entity name is lower-case snake_case and not '{SHARED_SCHEMA_FOLDER}'"
        )
        return None
    if not isinstance(raw, dict):
        problems.add(f"{name}: expected a mapping of {', '.join(_REQUIRED_KEYS)}")
        return None

    count = len(problems.items)
    for key in _REQUIRED_KEYS:
        if key not in raw:
            problems.add(f"{name}: '{key}' is missing")
    for key in sorted(set(raw) - set(_PARSERS), key=str):
        problems.add(f"{name}: unknown key '{key}'")
    parsed = {key: parse(name, raw[key], problems) for key, parse in _PARSERS.items() if key in raw}
    if len(problems.items) > count:
        return None

    return Entity(
        name=name,
        current_version=parsed["current_version"],
        title=parsed["title"],
        aliases=parsed["aliases"],
        scope_school=parsed["scope"][0],
        scope_period=parsed["scope"][1],
        references=parsed["references"],
        natural_key=parsed["natural_key"],
        references_by_role=parsed.get("references_by_role", {}),
        date_limits=parsed.get("date_limits", {}),
    )


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _version(name: str, raw: Any, problems: Problems) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        problems.add(f"{name}.current_version: expected an integer of at least 1, got {raw!r}")
        return 0
    return raw


def _title(name: str, raw: Any, problems: Problems) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.add(f"{name}.title: expected a mapping with {' and '.join(LANGUAGES)}")
        return {}
    for lang in LANGUAGES:
        if not _is_text(raw.get(lang)):
            problems.add(f"{name}.title.{lang}: expected a non-empty text")
    for lang in sorted(set(raw) - set(LANGUAGES), key=str):
        problems.add(f"{name}.title: unknown language '{lang}'")
    return {str(k): str(v) for k, v in raw.items()}


def _natural_key(name: str, raw: Any, problems: Problems) -> str:
    if not _is_text(raw):
        problems.add(f"{name}.natural_key: expected a field name, got {raw!r}")
        return ""
    return str(raw)


def _aliases(name: str, raw: Any, problems: Problems) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(_is_text(item) for item in raw):
        problems.add(f"{name}.aliases: expected a list of field names, got {raw!r}")
        return ()
    if len(set(raw)) != len(raw):
        problems.add(f"{name}.aliases: a field is listed twice")
    return tuple(raw)


def _scope(name: str, raw: Any, problems: Problems) -> tuple[str | None, str | None]:
    if not isinstance(raw, dict) or set(raw) != {"school", "period"}:
        problems.add(f"{name}.scope: expected exactly the keys school and period, got {raw!r}")
        return None, None
    for key in ("school", "period"):
        if raw[key] is not None and not _is_text(raw[key]):
            problems.add(f"{name}.scope.{key}: expected a field name or null, got {raw[key]!r}")
    return raw["school"], raw["period"]


def _references(name: str, raw: Any, problems: Problems) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.add(f"{name}.references: expected a mapping of field to entity, got {raw!r}")
        return {}
    for field_name, target in raw.items():
        if not _is_text(field_name) or not _is_text(target):
            problems.add(
                f"{name}.references: expected field: entity, got {field_name!r}: {target!r}"
            )
    return {str(k): str(v) for k, v in raw.items()}


def _references_by_role(name: str, raw: Any, problems: Problems) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict):
        problems.add(f"{name}.references_by_role: expected a mapping of field to {{role: entity}}")
        return {}
    parsed: dict[str, dict[str, str]] = {}
    for field_name, targets in raw.items():
        if not isinstance(targets, dict) or not all(
            _is_text(k) and _is_text(v) for k, v in targets.items()
        ):
            problems.add(
                f"{name}.references_by_role.{field_name}: expected a mapping of role to entity"
            )
            continue
        parsed[str(field_name)] = {str(k): str(v) for k, v in targets.items()}
    return parsed


def _limit_date(where: str, raw: Any, problems: Problems, today: bool) -> date | str | None:
    if raw is None or type(raw) is date:
        return raw
    if today and raw == TODAY:
        return TODAY
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        expected = f"a date YYYY-MM-DD or '{TODAY}'" if today else "a date YYYY-MM-DD"
        problems.add(f"{where}: expected {expected}, got {raw!r}")
        return None


def _date_limits(name: str, raw: Any, problems: Problems) -> dict[str, DateLimit]:
    if not isinstance(raw, dict):
        problems.add(f"{name}.date_limits: expected a mapping of field to "
                     "{not_before: YYYY-MM-DD, not_after: YYYY-MM-DD | today}")
        return {}
    parsed: dict[str, DateLimit] = {}
    for field_name, limits in raw.items():
        where = f"{name}.date_limits.{field_name}"
        if not isinstance(limits, dict) or not limits or set(limits) - {"not_before", "not_after"}:
            problems.add(f"{where}: expected one or both of the keys not_before and not_after")
            continue
        not_before = _limit_date(f"{where}.not_before", limits.get("not_before"), problems, False)
        not_after = _limit_date(f"{where}.not_after", limits.get("not_after"), problems, True)
        parsed[str(field_name)] = DateLimit(
            not_before if isinstance(not_before, date) else None, not_after)
    return parsed


# Each key of an entity definition, and the function that checks and converts its value.
_PARSERS: dict[str, Callable[[str, Any, Problems], Any]] = {
    "current_version": _version,
    "title": _title,
    "natural_key": _natural_key,
    "aliases": _aliases,
    "scope": _scope,
    "references": _references,
    "references_by_role": _references_by_role,
    "date_limits": _date_limits,
}


# --- agreement with the schemas -----------------------------------------------------


def _check_against_schemas(
    entities: Mapping[str, Entity], defined: set[str], schema_root: Path, problems: Problems
) -> None:
    # `defined` contains every name in the file, valid or not, so that one broken
    # definition does not also show up as a missing entity.
    for entity in entities.values():
        schema = _read_schema(
            schema_root / entity.name / f"v{entity.current_version}.json", problems
        )
        if schema is not None:
            _check_fields(entity, schema, defined, problems)
    if schema_root.is_dir():
        for folder in sorted(p for p in schema_root.iterdir() if p.is_dir()):
            if folder.name != SHARED_SCHEMA_FOLDER and folder.name not in defined:
                problems.add(f"{folder}: a schema folder without an entity definition")


def _read_schema(path: Path, problems: Problems) -> dict[str, Any] | None:
    schema = read_schema_file(path, problems, "the current schema version cannot be read")
    if schema is not None and not isinstance(schema.get("properties"), dict):
        problems.add(f"{path}: expected a schema object with properties")
        return None
    return schema


def _check_fields(
    entity: Entity, schema: dict[str, Any], defined: set[str], problems: Problems
) -> None:
    properties = schema["properties"]
    where = f"{entity.name}@{entity.current_version}"
    if entity.natural_key not in schema.get("required", []):
        problems.add(
            f"{entity.name}.natural_key: '{entity.natural_key}' is not a required field of {where}"
        )
    named: list[tuple[str, str | None]] = [("aliases", alias) for alias in entity.aliases]
    named += [("scope.school", entity.scope_school), ("scope.period", entity.scope_period)]
    named += [("references", f) for f in entity.references]
    named += [("references_by_role", f) for f in entity.references_by_role]
    named += [("date_limits", f) for f in entity.date_limits]
    for key, field_name in named:
        if field_name is not None and field_name not in properties:
            problems.add(f"{entity.name}.{key}: '{field_name}' is not a field of {where}")
    targets = list(entity.references.values())
    targets += [t for by_role in entity.references_by_role.values() for t in by_role.values()]
    for target in targets:
        if target not in defined:
            problems.add(f"{entity.name}: refers to '{target}', which is not a defined entity")
    if entity.references_by_role:
        _check_roles(entity, properties, where, problems)


def _check_roles(
    entity: Entity, properties: dict[str, Any], where: str, problems: Problems
) -> None:
    # Every value of the role field needs a target, or a reference could not be resolved.
    roles = properties.get(_ROLE_FIELD, {}).get("enum")
    if not isinstance(roles, list):
        problems.add(
            f"{entity.name}.references_by_role: {where} has no '{_ROLE_FIELD}' field with an enum"
        )
        return
    for field_name, by_role in entity.references_by_role.items():
        if set(by_role) != set(roles):
            problems.add(
                f"{entity.name}.references_by_role.{field_name}: expected exactly the roles "
                f"{', '.join(roles)}, got {', '.join(by_role)}"
            )
