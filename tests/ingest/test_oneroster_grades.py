"""OneRoster grades become canonical grades "1" to "12" through the grade code list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.ingest import service
from gateway.mapping.registry import list_versions, set_state
from gateway.store.models import Quarantine, Record
from tests.support import oneroster as pkg
from tests.support.store import StoreHandle


def ingest(store: StoreHandle, folder: Path, source: str = "school-a",
           **overrides: object) -> service.RunReport:
    settings = store.settings.with_overrides(overrides) if overrides else store.settings
    return service.ingest(store.db, settings, folder, "oneroster", source)


def stored(entity: str, local_id: str) -> dict[str, object]:
    record = Record.get((Record.entity == entity) & (Record.local_id == local_id))
    return json.loads(record.data)


def test_two_digit_grades_become_canonical(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    tables["users"][0]["grades"] = "07"
    tables["users"][1]["grades"] = "7"
    tables["users"][2]["grades"] = "12,11"
    tables["classes"][0]["grades"] = "09, 10,KG"
    report = ingest(store, pkg.write_package(tmp_path / "p", tables))
    assert report.state == "succeeded"
    assert stored("student", "u1")["grade"] == "7"
    assert stored("student", "u2")["grade"] == "7"
    assert stored("student", "u3")["grade"] == "12"
    assert stored("class", "c1")["grades"] == ["9", "10"]


@pytest.mark.parametrize("value", ["KG", "PK", "IT", "PR", "TK", "UG", "Other", "other"])
def test_grade_without_school_grade_left_out(store: StoreHandle, tmp_path: Path, value: str) -> None:
    tables = pkg.city(students=1)
    tables["users"][0]["grades"] = value
    tables["classes"][0]["grades"] = value
    report = ingest(store, pkg.write_package(tmp_path / "p", tables))
    assert report.state == "succeeded"
    assert "grade" not in stored("student", "u1")
    assert "grades" not in stored("class", "c1")


@pytest.mark.parametrize("value", ["13", "PS", "007", "Lớp 7A"])
def test_grade_outside_list_dropped(store: StoreHandle, tmp_path: Path, value: str) -> None:
    """Since oneroster/student/v3 the student is stored without the grade, with a warning."""
    tables = pkg.city(students=2)
    tables["users"][0]["grades"] = value
    report = ingest(store, pkg.write_package(tmp_path / "p", tables))
    assert report.state == "succeeded"
    assert Quarantine.select().where((Quarantine.run == report.run_id)
                                     & (Quarantine.entity == "student")).count() == 0
    assert "grade" not in stored("student", "u1")
    assert stored("student", "u1")["given_name"] == "An1"
    (warning,) = [n for n in report.notices if n["error"] == "ingest.field_dropped"]
    assert (warning["params"]["field"], warning["params"]["column"]) == ("grade", "grades")
    # The grade list is short enough for the message to list the accepted grades.
    problem = warning["params"]["problem"]
    assert problem["reason"] == "mapping.code_not_accepted"
    assert (problem["params"]["codelist"], problem["params"]["column"]) == ("grade@1", "grades")
    assert report.counts["stage"]["dropped"] == {"student.grade": 1}
    assert stored("student", "u2")["grade"] == "6"


def _retire_after_first(adapter: str, entity: str) -> list[str]:
    """Retire every version of ``entity`` but version 1; return their ids."""
    later = [v.id for v in list_versions(adapter) if v.entity == entity and v.number > 1]
    for version_id in later:
        set_state(version_id, "retired")
    return later


def test_mapping_upgrade_explains_grade_updates(store: StoreHandle, tmp_path: Path) -> None:
    """A store written by version 1 ("06") is updated by the newest version ("6"), which the summary names."""
    retired = [*_retire_after_first("oneroster", "student"), *_retire_after_first("oneroster", "class")]
    folder = pkg.write_package(tmp_path / "p", pkg.city(students=6))
    ingest(store, folder)
    assert stored("student", "u1")["grade"] == "06"
    for version_id in retired:
        set_state(version_id, "active")

    report = ingest(store, folder, guard={"min_existing": 5, "max_change_ratio": 0.25})
    assert report.state == "held"
    assert report.guard["entities"]["student"]["changed"] == 6
    updates = report.counts["updates"]["student"]
    assert updates["fields"] == {"grade": 6}
    assert updates["mapping_changes"] == [
        {"from": "oneroster/student/v1", "to": "oneroster/student/v3", "count": 6}]
    assert report.counts["updates"]["class"]["mapping_changes"] == [
        {"from": "oneroster/class/v1", "to": "oneroster/class/v2", "count": 1}]

    approved = service.approve(store.db, store.settings, report.run_id, "admin")
    assert approved.state == "succeeded"
    assert stored("student", "u1")["grade"] == "6"
    assert stored("class", "c1")["grades"] == ["6"]


def test_same_mapping_update_has_no_mapping_change(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=2)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    tables["users"][0]["givenName"] = "Bình"
    report = ingest(store, pkg.write_package(tmp_path / "b", tables))
    assert report.counts["updates"]["student"]["mapping_changes"] == []
