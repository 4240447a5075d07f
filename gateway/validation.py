"""Validation of canonical records against the JSON Schemas under ``mappings/schemas``.

Each schema is ``mappings/schemas/<entity>/v<version>.json`` with ``$id``
``https://schemas.edu-gateway.invalid/<entity>/v<version>.json``; shared
definitions live in ``common/v1.json``. All of them are loaded from the
folder found from this module's path and served from an in-memory registry, so
a ``$ref`` never reaches the network and the working directory does not matter.

Two engines check a record, and they must agree on valid or invalid:

- ``jsonschema_rs`` (compiled) checks every record first, because most records
  are valid and it is fast;
- ``jsonschema`` (Draft 2020-12) is the reference. It runs only on records the
  fast engine rejects, and its errors become ``RecordInvalid`` problems with
  catalogue keys (``validation.required``, ``validation.enum``, ...).

Where the engines differ by default, this module makes them agree:

- formats: both use the same Python checks for ``date`` and ``email``
  (``FORMAT_CHECKS``). jsonschema's own email check accepts any text with an
  "@", and jsonschema_rs accepts the year 0000, which Python dates do not have;
- ``multipleOf``: the reference divides in decimal, because float division
  makes jsonschema reject scores such as 0.29 against ``multipleOf: 0.01``;
- ``pattern``: the reference reads a trailing ``$`` as the end of the text, as
  ECMA-262 and jsonschema_rs do, where Python's ``$`` also matches before a
  final newline.

``tests/gateway/test_validation.py`` contains the table of records on which the
two engines are compared.

Rules that a schema cannot express run after the schema check, on every
record: a ``school_year`` field must name two consecutive years, an end date
must not come before its start date, and a date field listed under
``date_limits`` in ``mappings/entities.yaml`` (a birth date) must lie within
its range, where ``today`` is read from the clock (``gateway.clock``).
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError, ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from gateway import PROJECT_ROOT
from gateway.clock import utcnow
from gateway.errors import ConfigurationError, Place, Problems, RecordInvalid
from gateway.logs import fields

log = logging.getLogger(__name__)

SCHEMA_DIR = PROJECT_ROOT / "mappings" / "schemas"
SCHEMA_BASE_URI = "https://schemas.edu-gateway.invalid/"
COMMON = "common"
"""The folder of shared definitions: not an entity, but loaded like one."""

MAX_VALUE_CHARS = 80
"""Values quoted in messages are cut to this many characters."""

_SCHEMA_FILE = re.compile(r"v([1-9][0-9]*)\.json")

# --- format checks shared by both engines ---------------------------------

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_EMAIL_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


def is_date(value: object) -> bool:
    """Return whether ``value`` is a day that exists, written YYYY-MM-DD.

    Values that are not strings pass: their type is the ``type`` keyword's concern.
    """
    if not isinstance(value, str):
        return True
    if not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_email(value: object) -> bool:
    """Return whether ``value`` is a plain ASCII address ``local@domain.tld``.

    The local part is a dot-atom (RFC 5321) and the domain has at least two
    labels. Quoted local parts, IP-address domains, display names and
    non-ASCII addresses are rejected: schools use none of them, and a
    destination may not accept them. Values that are not strings pass.
    """
    if not isinstance(value, str):
        return True
    local, at, domain = value.rpartition("@")
    if not at or len(value) > 254 or len(local) > 64:
        return False
    return bool(_EMAIL_LOCAL.fullmatch(local) and _EMAIL_DOMAIN.fullmatch(domain))


FORMAT_CHECKS: dict[str, Callable[[object], bool]] = {"date": is_date, "email": is_email}
"""The formats the schemas use, checked by the same function in both engines."""


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, check in FORMAT_CHECKS.items():
        checker.checks(name)(check)
    return checker


# --- the reference engine --------------------------------------------------


def _multiple_of(
    validator: Any, divisor: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    # Divide the numbers as written in decimal, because in floats
    # 0.29 / 0.01 is 28.999999999999996.
    if not validator.is_type(instance, "number"):
        return
    quotient = Decimal(repr(instance)) / Decimal(repr(divisor))
    if quotient != quotient.to_integral_value():
        yield ValidationError(f"{instance!r} is not a multiple of {divisor!r}")


@cache
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    # NOTE: only a trailing `$` is translated. Our schemas put `$` nowhere else.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


ReferenceValidator = validators.extend(
    Draft202012Validator, {"multipleOf": _multiple_of, "pattern": _pattern}
)
"""Draft 2020-12 with decimal ``multipleOf`` and ECMA-262 end anchors."""

FORMAT_CHECKER = _format_checker()


# --- loading the schema files ----------------------------------------------


def schema_uri(entity: str, version: int) -> str:
    """Return the ``$id`` that the schema of ``entity`` at ``version`` must have."""
    return f"{SCHEMA_BASE_URI}{entity}/v{version}.json"


def read_schema_file(path: Path, problems: Problems,
                     unreadable: str = "cannot be read") -> dict[str, Any] | None:
    """Read one schema file as a JSON object; add a problem and return ``None`` if it is not one.

    ``unreadable`` words the problem when the file cannot be opened.
    """
    try:
        with path.open(encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as exc:
        problems.add(f"{path}: {unreadable}: {exc.strerror}")
        return None
    except json.JSONDecodeError as exc:
        problems.add(f"{path}: not valid JSON: {exc}")
        return None
    if not isinstance(document, dict):
        problems.add(f"{path}: the schema must be a JSON object")
        return None
    return document


def _check_schema(
    path: Path, entity: str, version: int, document: dict[str, Any], problems: Problems
) -> None:
    expected = schema_uri(entity, version)
    if document.get("$id") != expected:
        problems.add(f"{path}: $id is {document.get('$id')!r}, expected {expected!r}")
    try:
        ReferenceValidator.check_schema(document)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        problems.add(f"{path}: {where}: {exc.message}")


def load_schema_files(root: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """Read and check every ``<entity>/v<version>.json`` under ``root``.

    Raises ``ConfigurationError`` listing every problem: unreadable files,
    a ``$id`` that does not match the file's place, a schema that breaks the
    Draft 2020-12 meta-schema, a missing ``common/v1.json``.
    """
    problems = Problems()
    documents: dict[tuple[str, int], dict[str, Any]] = {}
    for path in sorted(root.glob("*/*.json")):
        match = _SCHEMA_FILE.fullmatch(path.name)
        if match is None:
            problems.add(f"{path}: a schema file must be named v<version>.json")
            continue
        entity, version = path.parent.name, int(match[1])
        document = read_schema_file(path, problems)
        if document is None:
            continue
        _check_schema(path, entity, version, document, problems)
        documents[(entity, version)] = document
    if (COMMON, 1) not in documents:
        problems.add(f"{root / COMMON / 'v1.json'}: missing, the shared definitions are required")
    problems.raise_if_any("validation.schemas_invalid", root=str(root))
    return documents


# --- the registry ----------------------------------------------------------


class SchemaRegistry:
    """The schemas under one folder, and a validator per (entity, version), built once.

    Every file is read and checked when the registry is created, so a problem
    raises ``ConfigurationError`` then, not at the first record.
    """

    def __init__(self, root: Path = SCHEMA_DIR) -> None:
        self.root = root
        self._documents = load_schema_files(root)
        self._reference_registry: Registry[Any] = Registry().with_resources(
            (schema_uri(*key), DRAFT202012.create_resource(document))
            for key, document in self._documents.items()
        )
        self._fast_registry = self._build_fast_registry()
        self._validators: dict[tuple[str, int], RecordValidator] = {}
        self._lock = threading.Lock()

    def entities(self) -> list[str]:
        """Return the names of the entities that have a schema, without ``common``."""
        return sorted({entity for entity, _ in self._documents if entity != COMMON})

    def versions(self, entity: str) -> list[int]:
        """Return the schema versions of ``entity`` in ascending order, or ``[]`` if it has none."""
        return sorted(version for name, version in self._documents if name == entity)

    def schema(self, entity: str, version: int) -> dict[str, Any]:
        """Return a copy of the schema, or raise ``ConfigurationError`` if there is none."""
        return copy.deepcopy(self._document(entity, version))

    def validator(self, entity: str, version: int) -> RecordValidator:
        """Return the validator of ``entity`` at ``version``, built at the first request.

        Raises ``ConfigurationError`` when the schema is unknown or
        jsonschema_rs cannot compile it.
        """
        key = (entity, version)
        with self._lock:
            if key not in self._validators:
                self._validators[key] = self._build(entity, version)
            return self._validators[key]

    def _build_fast_registry(self) -> jsonschema_rs.Registry:
        # jsonschema_rs resolves every $ref when the registry is built: a
        # reference outside the loaded files fails here, and is never fetched.
        try:
            return jsonschema_rs.Registry(
                [(schema_uri(*key), document) for key, document in self._documents.items()],
                draft=jsonschema_rs.Draft202012,
                retriever=_reject_retrieval,
            )
        except (jsonschema_rs.ReferencingError, ValueError) as exc:
            raise ConfigurationError(
                "validation.schemas_invalid", problems=[str(exc)], root=str(self.root)
            ) from exc

    def _document(self, entity: str, version: int) -> dict[str, Any]:
        document = self._documents.get((entity, version))
        if document is None:
            known = ", ".join(f"{name}@{number}" for name, number in sorted(self._documents))
            raise ConfigurationError(
                "validation.schema_unknown", entity=entity, version=version, known=known
            )
        return document

    def _build(self, entity: str, version: int) -> RecordValidator:
        document = self._document(entity, version)
        try:
            fast = jsonschema_rs.validator_for(
                document,
                registry=self._fast_registry,
                validate_formats=True,
                formats=FORMAT_CHECKS,
                offline=True,
            )
        except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as exc:
            raise ConfigurationError(
                "validation.schemas_invalid",
                problems=[f"{entity}@{version}: {exc}"],
                root=str(self.root),
            ) from exc
        reference = ReferenceValidator(
            document, registry=self._reference_registry, format_checker=FORMAT_CHECKER
        )
        log.debug("schema validator built", extra=fields(entity=entity, version=version))
        common = [doc for (name, _), doc in sorted(self._documents.items()) if name == COMMON]
        return RecordValidator(entity, version, document, fast, reference, common,
                               date_limits=_date_limits(entity))


def _date_limits(entity: str) -> dict[str, Any]:
    """Return the ``date_limits`` that ``mappings/entities.yaml`` sets for ``entity``."""
    # Imported here because gateway.entities reads schema files with this module.
    from gateway.entities import load_entities

    found = load_entities().get(entity)
    return dict(found.date_limits) if found else {}


def _reject_retrieval(uri: str) -> Any:
    raise ValueError(f"{uri} is not among the schema files, and schemas are never fetched")


@cache
def get_registry() -> SchemaRegistry:
    """Return the process-wide registry of the schemas under ``SCHEMA_DIR``."""
    return SchemaRegistry()


# --- one validator -----------------------------------------------------------

# Common definitions whose pattern has its own message, `validation.pattern.<name>`.
PATTERN_MESSAGE_DEFS = frozenset(
    {"identifier", "name", "code", "personal_id", "school_year", "phone"}
)
TYPE_MESSAGE_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object"})
# Keywords whose error names a limit, and the catalogue key of each.
_LIMIT_KEYS = {
    "minimum": "validation.minimum",
    "maximum": "validation.maximum",
    "exclusiveMinimum": "validation.exclusive_minimum",
    "exclusiveMaximum": "validation.exclusive_maximum",
    "minLength": "validation.min_length",
    "maxLength": "validation.max_length",
    "minItems": "validation.min_items",
    "maxItems": "validation.max_items",
}
# Pairs of (start, end) date fields; the end must not come before the start.
DATE_RANGES = (("start_date", "end_date"), ("begin_date", "end_date"))
# The time zone furthest ahead (Kiribati, UTC+14): its date is the latest date anywhere, so
# a date limit of "today" never rejects a date that has already begun somewhere.
_LATEST_ZONE_OFFSET = timedelta(hours=14)
_SCHOOL_YEAR = re.compile(r"([0-9]{4})-([0-9]{4})")


def shorten(value: Any) -> str:
    """Return ``value`` as JSON text, cut to ``MAX_VALUE_CHARS`` for a message."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= MAX_VALUE_CHARS:
        return text
    return text[: MAX_VALUE_CHARS - 1] + "…"


def _dotted(path: Any) -> str:
    return ".".join(str(part) for part in path)


class RecordValidator:
    """Checks records of one entity at one schema version.

    ``fast`` (jsonschema_rs) and ``reference`` (jsonschema) are the two
    engines, public so that tests and benchmarks can compare them.
    """

    def __init__(
        self,
        entity: str,
        version: int,
        schema: dict[str, Any],
        fast: jsonschema_rs.Validator,
        reference: Any,
        common: list[dict[str, Any]],
        date_limits: Mapping[str, Any] | None = None,
    ) -> None:
        self.entity = entity
        self.version = version
        self.label = f"{entity}@{version}"
        self._schema = schema
        self.fast = fast
        self.reference = reference
        self._pattern_defs = [
            (name, definition)
            for document in common
            for name, definition in document.get("$defs", {}).items()
            if "pattern" in definition
        ]
        properties = schema.get("properties", {})
        self._school_year_fields = tuple(
            name
            for name, prop in properties.items()
            if str(prop.get("$ref", "")).startswith(SCHEMA_BASE_URI + COMMON + "/")
            and str(prop.get("$ref", "")).endswith("#/$defs/school_year")
        )
        self._date_ranges = tuple(
            (start, end) for start, end in DATE_RANGES if start in properties and end in properties
        )
        # (field, not_before, not_after) for the limited date fields this version has.
        self._date_limits = tuple(
            (name, limit.not_before, limit.not_after)
            for name, limit in (date_limits or {}).items()
            if name in properties
        )

    def is_valid(self, record: Any) -> bool:
        """Return whether ``record`` has no problems."""
        return not self.problems(record)

    def problems(self, record: Any) -> list[RecordInvalid]:
        """Return every problem of ``record`` as ``RecordInvalid`` errors, ``[]`` if it is valid.

        ``place.field`` of each is the dotted path of the field
        (``status_history.0.date``), or ``None`` for the record as a whole.
        """
        found = [] if self.fast.is_valid(record) else self._explain(record)
        if isinstance(record, Mapping):
            found.extend(self._school_year_problems(record))
            found.extend(self._date_range_problems(record))
            found.extend(self._date_limit_problems(record))
        return found

    # --- schema errors -----------------------------------------------------

    def _explain(self, record: Any) -> list[RecordInvalid]:
        errors = sorted(self.reference.iter_errors(record), key=_error_order)
        if not errors:
            # The reference engine decides. The engine-agreement test checks that
            # both engines return the same result.
            log.warning("validation engines disagree", extra=fields(schema=self.label))
            return []
        found: list[RecordInvalid] = []
        seen: set[tuple[str, str | None]] = set()
        for error in errors:
            for problem in self._describe(error):
                if (problem.key, problem.place.field) not in seen:
                    seen.add((problem.key, problem.place.field))
                    found.append(problem)
        return found

    def _problem(self, key: str, path: str, **params: Any) -> RecordInvalid:
        return RecordInvalid(
            key, place=Place(field=path or None), field=path or "$", schema=self.label, **params
        )

    def _describe(self, error: ValidationError) -> list[RecordInvalid]:
        keyword = str(error.validator)
        path = _dotted(error.absolute_path)
        if keyword == "required":
            return self._required(error, path)
        if keyword == "additionalProperties":
            return self._additional(error, path)
        if keyword == "type" and not path:
            return [
                RecordInvalid(
                    "validation.record_not_object", schema=self.label, value=shorten(error.instance)
                )
            ]
        return [self._value_problem(keyword, error, path)]

    def _value_problem(self, keyword: str, error: ValidationError, path: str) -> RecordInvalid:
        value = shorten(error.instance)
        rule = error.validator_value
        if keyword == "type":
            if isinstance(rule, str) and rule in TYPE_MESSAGE_TYPES:
                return self._problem(f"validation.type.{rule}", path, value=value)
            expected = ", ".join(rule) if isinstance(rule, list) else str(rule)
            return self._problem("validation.type", path, value=value, expected=expected)
        if keyword in ("enum", "const"):
            allowed = ", ".join(str(v) for v in rule) if keyword == "enum" else str(rule)
            return self._problem(f"validation.{keyword}", path, value=value, allowed=allowed)
        if keyword == "format":
            if rule in FORMAT_CHECKS:
                return self._problem(f"validation.format.{rule}", path, value=value)
            return self._problem("validation.format", path, value=value, format=rule)
        if keyword == "pattern":
            return self._pattern_problem(error, path, value)
        if keyword in _LIMIT_KEYS:
            return self._problem(_LIMIT_KEYS[keyword], path, value=value, limit=rule)
        if keyword == "multipleOf":
            return self._problem("validation.multiple_of", path, value=value, step=rule)
        if keyword == "uniqueItems":
            return self._problem("validation.unique_items", path, value=value)
        return self._problem("validation.generic", path, value=value, keyword=keyword)

    def _pattern_problem(self, error: ValidationError, path: str, value: str) -> RecordInvalid:
        # A common definition with a pattern has its own message, which describes
        # the expected value in words instead of quoting a regular expression.
        for name, definition in self._pattern_defs:
            if name in PATTERN_MESSAGE_DEFS and (
                error.schema is definition or error.schema == definition
            ):
                return self._problem(f"validation.pattern.{name}", path, value=value)
        return self._problem("validation.pattern", path, value=value, pattern=error.validator_value)

    def _required(self, error: ValidationError, path: str) -> list[RecordInvalid]:
        if not isinstance(error.instance, Mapping):
            return []
        condition = _condition(self._schema, list(error.relative_schema_path))
        found = []
        for name in error.validator_value:
            if name in error.instance:
                continue
            field = f"{path}.{name}" if path else name
            if condition is None:
                found.append(self._problem("validation.required", field))
            else:
                found.append(
                    self._problem(
                        "validation.required_when",
                        field,
                        condition_field=condition[0],
                        condition_value=shorten(condition[1]),
                    )
                )
        return found

    def _additional(self, error: ValidationError, path: str) -> list[RecordInvalid]:
        if not isinstance(error.instance, Mapping):
            return []
        allowed = list(error.schema.get("properties", {}))
        found = []
        for name, value in error.instance.items():
            if name in allowed:
                continue
            field = f"{path}.{name}" if path else str(name)
            found.append(
                self._problem(
                    "validation.additional_property",
                    field,
                    value=shorten(value),
                    allowed=", ".join(allowed),
                )
            )
        return found

    # --- rules outside the schema ----------------------------------------------

    def _school_year_problems(self, record: Mapping[str, Any]) -> Iterator[RecordInvalid]:
        for name in self._school_year_fields:
            value = record.get(name)
            match = _SCHOOL_YEAR.fullmatch(value) if isinstance(value, str) else None
            if match is None:
                continue  # missing or malformed: the schema reports it
            first, second = int(match[1]), int(match[2])
            if second != first + 1:
                yield self._problem(
                    "validation.school_year_sequence",
                    name,
                    value=shorten(value),
                    expected=f"{first}-{first + 1}",
                )

    def _date_range_problems(self, record: Mapping[str, Any]) -> Iterator[RecordInvalid]:
        for start_name, end_name in self._date_ranges:
            start, end = record.get(start_name), record.get(end_name)
            if not (
                isinstance(start, str) and isinstance(end, str) and is_date(start) and is_date(end)
            ):
                continue
            # YYYY-MM-DD texts sort in date order.
            if end < start:
                yield self._problem(
                    "validation.date_order",
                    end_name,
                    value=shorten(end),
                    start_field=start_name,
                    start_value=shorten(start),
                )


    def _date_limit_problems(self, record: Mapping[str, Any]) -> Iterator[RecordInvalid]:
        for name, not_before, not_after in self._date_limits:
            value = record.get(name)
            if not (isinstance(value, str) and is_date(value)):
                continue  # missing or malformed: the schema reports it
            day = date.fromisoformat(value)
            latest = latest_date(not_after)
            shown = {
                "not_before": not_before.isoformat() if not_before else "-",
                "not_after": latest.isoformat() if latest else "-",
            }
            if not_before is not None and day < not_before:
                yield self._problem("validation.date_too_early", name, value=shorten(value), **shown)
            elif latest is not None and day > latest:
                yield self._problem("validation.date_too_late", name, value=shorten(value), **shown)


def latest_date(not_after: date | str | None) -> date | None:
    """Return the last date a ``not_after`` limit allows, reading ``today`` from the clock."""
    if not_after == "today":
        return (utcnow() + _LATEST_ZONE_OFFSET).date()
    return not_after if isinstance(not_after, date) else None


def _error_order(error: ValidationError) -> tuple[str, str]:
    return (_dotted(error.absolute_path), str(error.validator))


def _condition(schema: Mapping[str, Any], schema_path: list[Any]) -> tuple[str, Any] | None:
    """Return (field, value) of the ``if`` whose ``then`` made a field required, if any.

    Follows ``schema_path`` from the root of the entity's schema; a path
    through a ``$ref`` is not followed, and gives ``None``.
    """
    if "then" not in schema_path:
        return None
    node: Any = schema
    for part in schema_path[: schema_path.index("then")]:
        if part == "$ref":
            return None
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    condition = node.get("if", {}) if isinstance(node, Mapping) else {}
    for name, rule in condition.get("properties", {}).items():
        if isinstance(rule, Mapping) and "const" in rule:
            return name, rule["const"]
    return None
