"""Entity definitions in mappings/entities.yaml, and their agreement with the schemas."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from gateway.entities import ENTITIES_FILE, TODAY, Entity, get_entity, load_entities
from gateway.errors import ConfigurationError
from gateway.validation import SCHEMA_DIR, get_registry

# (aliases, scope school field, scope period field) of each entity.
IDENTITY_AND_SCOPE = {
    "organization": (("ministry_id",), None, None),
    "academic_session": ((), None, "school_year"),
    "class": ((), "school_ref", "school_year"),
    "student": (("ministry_id", "personal_id"), "school_ref", None),
    "staff": (("ministry_id", "personal_id"), "school_ref", None),
    "enrollment": ((), "school_ref", "school_year"),
    "result": ((), None, "school_year"),
}


def test_every_schema_has_an_entity():
    assert set(load_entities()) == set(get_registry().entities())


@pytest.mark.parametrize("name", sorted(IDENTITY_AND_SCOPE))
def test_entity_identity_and_scope(name):
    aliases, school, period = IDENTITY_AND_SCOPE[name]
    entity = get_entity(name)

    assert entity.natural_key == "local_id"
    assert entity.aliases == aliases
    assert entity.scope_school == school
    assert entity.scope_period == period


@pytest.mark.parametrize("name", sorted(IDENTITY_AND_SCOPE))
def test_entity_current_version_has_schema(name):
    entity = get_entity(name)

    assert entity.current_version in get_registry().versions(name)
    assert entity.title["vi"] and entity.title["en"]


def test_references():
    assert get_entity("class").reference_target("school_ref") == "organization"
    assert get_entity("class").reference_target("session_refs") == "academic_session"
    assert get_entity("result").reference_target("student_ref") == "student"
    assert get_entity("enrollment").reference_target("class_ref") == "class"
    assert get_entity("organization").reference_target("name") is None


def test_person_reference_follows_role():
    enrollment = get_entity("enrollment")

    assert enrollment.reference_target("person_ref", "student") == "student"
    assert enrollment.reference_target("person_ref", "teacher") == "staff"
    assert enrollment.reference_target("person_ref") is None


def test_unknown_entity_is_configuration_error():
    with pytest.raises(ConfigurationError) as caught:
        get_entity("school")

    assert caught.value.key == "entities.unknown"
    assert "organization" in caught.value.message("en")


def test_load_is_cached_and_returns_copy():
    first = load_entities()
    first.pop("student")

    assert "student" in load_entities()
    assert load_entities()["class"] is load_entities(ENTITIES_FILE)["class"]


def test_entity_is_frozen():
    with pytest.raises(AttributeError):
        get_entity("student").current_version = 2  # type: ignore[misc]


def write_definitions(tmp_path: Path, document: object) -> Path:
    shutil.copytree(SCHEMA_DIR, tmp_path / "schemas")
    path = tmp_path / "entities.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def default_document() -> dict:
    with ENTITIES_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_copy_of_default_file_loads(tmp_path):
    entities = load_entities(write_definitions(tmp_path, default_document()))

    assert entities == load_entities()
    assert all(isinstance(entity, Entity) for entity in entities.values())


def test_every_problem_listed_together(tmp_path):
    document = default_document()
    entities = document["entities"]
    entities["student"]["current_version"] = "1"
    entities["staff"]["title"] = {"vi": "Cán bộ"}
    entities["class"]["scope"] = {"school": "school_id", "period": "school_year"}
    entities["result"]["references"]["student_ref"] = "pupil"
    entities["enrollment"]["references_by_role"]["person_ref"].pop("proctor")
    entities["organization"]["aliases"] = ["ministry_id", "tax_code"]
    entities["academic_session"]["colour"] = "blue"
    path = write_definitions(tmp_path, document)

    with pytest.raises(ConfigurationError) as caught:
        load_entities(path)

    text = "\n".join(caught.value.problems)
    assert caught.value.key == "entities.invalid"
    assert "student.current_version" in text
    assert "staff.title.en" in text
    assert "class.scope.school: 'school_id' is not a field of class@1" in text
    assert "'pupil', which is not a defined entity" in text
    assert "enrollment.references_by_role.person_ref" in text
    assert "organization.aliases: 'tax_code'" in text
    assert "academic_session: unknown key 'colour'" in text
    assert "schema folder without an entity definition" not in text
    assert len(caught.value.problems) == 7
    assert str(path) in caught.value.message("en")


def test_birth_date_limits_of_people():
    for name in ("student", "staff"):
        limit = get_entity(name).date_limits["birth_date"]

        assert limit.not_before == date(1900, 1, 1), name
        assert limit.not_after == TODAY, name


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"birth_date": {"not_before": "1900-13-01"}}, "date_limits.birth_date.not_before"),
        ({"birth_date": {"not_after": "tomorrow"}}, "a date YYYY-MM-DD or 'today'"),
        ({"birth_date": {"earliest": "1900-01-01"}}, "one or both of the keys"),
        ({"birth_day": {"not_before": "1900-01-01"}}, "'birth_day' is not a field of student@2"),
        (["birth_date"], "student.date_limits: expected a mapping"),
    ],
)
def test_invalid_date_limits_reported(tmp_path, limits, expected):
    document = default_document()
    document["entities"]["student"]["date_limits"] = limits

    with pytest.raises(ConfigurationError) as caught:
        load_entities(write_definitions(tmp_path, document))

    assert expected in "\n".join(caught.value.problems)


def test_schema_folder_without_entity_reported(tmp_path):
    document = default_document()
    del document["entities"]["result"]
    path = write_definitions(tmp_path, document)

    with pytest.raises(ConfigurationError) as caught:
        load_entities(path)

    folder = tmp_path / "schemas" / "result"
    assert caught.value.problems == [f"{folder}: a schema folder without an entity definition"]


def test_missing_schema_version_reported(tmp_path):
    document = default_document()
    document["entities"]["student"]["current_version"] = 3
    path = write_definitions(tmp_path, document)

    with pytest.raises(ConfigurationError) as caught:
        load_entities(path)

    assert "student/v3.json: the current schema version cannot be read" in "\n".join(
        caught.value.problems
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("entities: [", "not valid YAML"),
        ("other: {}", "top-level key 'entities'"),
        ("", "top-level key 'entities'"),
    ],
    ids=["broken-yaml", "no-entities-key", "empty-file"],
)
def test_unreadable_file_reported(tmp_path, content, expected):
    path = tmp_path / "entities.yaml"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(ConfigurationError) as caught:
        load_entities(path)

    assert expected in "\n".join(caught.value.problems)
