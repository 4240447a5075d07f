"""The canonical JSON Schemas under mappings/schemas, checked as documents."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from jsonschema import Draft202012Validator

from gateway.entities import get_entity
from gateway.validation import COMMON, FORMAT_CHECKS, PATTERN_MESSAGE_DEFS, SCHEMA_DIR, get_registry

SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*/v*.json"))
COMMON_URI = "https://schemas.edu-gateway.invalid/common/v1.json"

# The fields of each entity at version 1: required first, then optional.
FIELDS = {
    "organization": (
        {"local_id", "name", "org_type"},
        {"ministry_id", "parent_ref", "school_levels", "code", "address", "phone", "email"},
    ),
    "academic_session": (
        {"local_id", "title", "session_type", "school_year"},
        {"start_date", "end_date", "parent_ref"},
    ),
    "class": (
        {"local_id", "name", "class_type", "school_ref"},
        {
            "school_year",
            "session_refs",
            "grades",
            "course_ref",
            "class_code",
            "subjects",
            "subject_codes",
            "periods",
            "location",
            "sessions_per_day",
            "combined",
        },
    ),
    "student": (
        {"local_id", "given_name", "full_name"},
        {
            "ministry_id",
            "personal_id",
            "family_name",
            "middle_name",
            "birth_date",
            "gender",
            "ethnicity_code",
            "school_ref",
            "school_refs",
            "grade",
            "local_code",
            "email",
            "phone",
            "enabled",
            "learner_status",
            "address",
        },
    ),
    "staff": (
        {"local_id", "given_name", "full_name"},
        {
            "ministry_id",
            "personal_id",
            "family_name",
            "middle_name",
            "birth_date",
            "gender",
            "ethnicity_code",
            "school_ref",
            "school_refs",
            "local_code",
            "email",
            "phone",
            "enabled",
            "position",
            "roles",
        },
    ),
    "enrollment": (
        {"local_id", "person_ref", "class_ref", "role"},
        {
            "school_ref",
            "primary",
            "begin_date",
            "end_date",
            "school_year",
            "status",
            "status_history",
        },
    ),
    "result": (
        {"local_id", "student_ref", "school_year", "result_type"},
        {
            "class_ref",
            "term",
            "subject_code",
            "subject_name",
            "score",
            "achievement_level",
            "outcome",
            "comment",
        },
    ),
}
# Fields that hold identifiers or codes: they must be text, never numbers.
IDENTIFIER_FIELD = re.compile(
    r"(^|_)(id|ref|refs|code|codes)$|^(grade|grades|personal_id|local_code)$"
)


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def common_defs() -> dict[str, Any]:
    return load(SCHEMA_DIR / COMMON / "v1.json")["$defs"]


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Yield every schema object inside ``node``, ``node`` included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` chains into the common definitions."""
    while "$ref" in schema:
        ref = schema["$ref"]
        name = ref.rsplit("/", 1)[-1]
        assert ref in (f"{COMMON_URI}#/$defs/{name}", f"#/$defs/{name}"), ref
        schema = defs[name]
    return schema


def test_schema_files_cover_every_entity():
    assert {path.parent.name for path in SCHEMA_FILES} == set(FIELDS) | {COMMON}


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_schema_passes_meta_schema(path):
    schema = load(path)

    Draft202012Validator.check_schema(schema)
    assert jsonschema_rs.meta.is_valid(schema)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_schema_header(path):
    schema = load(path)
    vi, _, en = schema["title"].partition(" / ")

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert (
        schema["$id"] == f"https://schemas.edu-gateway.invalid/{path.parent.name}/{path.stem}.json"
    )
    assert vi and en, "title is 'Vietnamese / English'"
    assert not vi.isascii(), "the Vietnamese title has Vietnamese letters"
    assert " / " in schema["description"]


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_object_closed(path):
    for node in walk(load(path)):
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, sorted(node.get("properties", {}))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_formats_are_the_checked_ones(path):
    formats = {node["format"] for node in walk(load(path)) if "format" in node}

    assert formats <= set(FORMAT_CHECKS)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_patterns_portable(path):
    # ECMA-262 and Python differ on \d (Unicode digits in Python) and on `$`
    # before a final newline, which the reference validator handles only at the end.
    for node in walk(load(path)):
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            assert "\\d" not in pattern, pattern
            assert "$" not in pattern[:-1], pattern


@pytest.mark.parametrize("entity", sorted(FIELDS))
def test_entity_fields(entity):
    required, optional = FIELDS[entity]
    schema = load(SCHEMA_DIR / entity / "v1.json")

    assert schema["type"] == "object"
    assert set(schema["required"]) == required
    assert set(schema["properties"]) == required | optional


ENTITY_SCHEMA_FILES = [path for path in SCHEMA_FILES if path.parent.name != COMMON]


@pytest.mark.parametrize("path", ENTITY_SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_entity_refs_point_to_common(path):
    defs = common_defs()
    for node in walk(load(path)):
        if "$ref" in node:
            assert node["$ref"].startswith(f"{COMMON_URI}#/$defs/"), node["$ref"]
            assert node["$ref"].rsplit("/", 1)[-1] in defs, node["$ref"]


@pytest.mark.parametrize("path", ENTITY_SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_identifiers_are_text(path):
    defs = common_defs()
    properties = load(path)["properties"]
    for name, prop in properties.items():
        if not IDENTIFIER_FIELD.search(name):
            continue
        schema = resolve(prop, defs)
        if schema.get("type") == "array":
            schema = resolve(schema["items"], defs)
        assert schema.get("type") == "string", name


def test_person_fields_shared_by_student_and_staff():
    student = load(SCHEMA_DIR / "student" / "v1.json")["properties"]
    staff = load(SCHEMA_DIR / "staff" / "v1.json")["properties"]

    for name in set(student) & set(staff):
        assert student[name].get("$ref") == staff[name].get("$ref"), name


def test_result_requires_field_by_type():
    schema = load(SCHEMA_DIR / "result" / "v1.json")
    rules = {
        rule["if"]["properties"]["result_type"]["const"]: rule["then"]["required"]
        for rule in schema["allOf"]
    }

    assert rules == {"subject_term": ["subject_code"], "year_end_outcome": ["outcome"]}


def test_pattern_definitions_have_messages():
    with_pattern = {name for name, definition in common_defs().items() if "pattern" in definition}

    assert with_pattern == PATTERN_MESSAGE_DEFS


def test_briefed_patterns_unchanged():
    defs = common_defs()

    assert defs["school_year"]["pattern"] == "^[0-9]{4}-[0-9]{4}$"
    assert defs["personal_id"]["pattern"] == "^[0-9]{12}$"


@pytest.mark.parametrize("entity", sorted(FIELDS))
def test_registry_builds_every_validator(entity):
    registry = get_registry()
    versions = list(range(1, get_entity(entity).current_version + 1))

    assert registry.versions(entity) == versions
    for version in versions:
        assert registry.validator(entity, version).label == f"{entity}@{version}"


def test_student_v2_changes_only_address():
    v1 = load(SCHEMA_DIR / "student" / "v1.json")
    v2 = load(SCHEMA_DIR / "student" / "v2.json")
    address_v1 = v1["properties"].pop("address")
    address_v2 = v2["properties"].pop("address")

    assert v1["properties"] == v2["properties"]
    assert v1["required"] == v2["required"]
    assert address_v1["$ref"] == f"{COMMON_URI}#/$defs/address_pre2025"
    assert address_v2["$ref"] == f"{COMMON_URI}#/$defs/address"


def test_pre2025_address_has_three_levels():
    defs = common_defs()

    assert set(defs["address_pre2025"]["properties"]) == {
        "province_code", "district_code", "commune_code", "detail"
    }
    assert set(defs["address"]["properties"]) == {"province_code", "commune_code", "detail"}
