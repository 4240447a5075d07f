"""Every real OneRoster package, ingested as the documented decisions imply.

The expected figures follow docs/oneroster.md: guardians are skipped, a
"tobedeleted" row asks for an end, the non-spec status "inactive" is rejected,
an enrollment naming a class or person the package does not hold is rejected,
dateLastModified is not kept (so the non-ISO dates of the 1.2 users.csv reject
nothing), 1.2 roles and demographics are joined to users, and passwords are
never stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.ingest import service
from gateway.mapping.registry import list_versions, set_state
from gateway.store.changelog import horizon
from gateway.store.models import Quarantine, Record, StagedRecord
from tests.support.store import StoreHandle

PACKAGES = "oneroster-moodle-catalyst"
INACTIVE_SESSION = [("mapping.status_invalid", "academicSessions.csv", 4, "status", "inactive")]
REFERENCE = "ingest.reference_unknown"
# Enrollment rows 3 and 6 give the teacher usr-222-987654 the student role, and
# rows 5 to 7 name class cls-222-123478, which the same package marks tobedeleted.
FULL_SET_REJECTED = INACTIVE_SESSION + [
    (REFERENCE, "enrollments.csv", 3, "userSourcedId", "usr-222-987654"),
    (REFERENCE, "enrollments.csv", 5, "classSourcedId", "cls-222-123478"),
    (REFERENCE, "enrollments.csv", 6, "classSourcedId", "cls-222-123478"),
    (REFERENCE, "enrollments.csv", 7, "classSourcedId", "cls-222-123478"),
]

EXPECTED = {
    "Test_full_data_set": {
        "records": {"organization": 1, "academic_session": 3, "class": 1, "student": 3,
                    "staff": 2, "enrollment": 2},
        "rejected": FULL_SET_REJECTED,
        "skipped": {"users: parent": 1},
        "notices": [],
    },
    "Test_minimal_data_set": {
        "records": {"organization": 1, "academic_session": 5, "class": 2, "student": 3,
                    "staff": 2, "enrollment": 4},
        "rejected": [(REFERENCE, "enrollments.csv", 3, "userSourcedId", "usr-222-987654"),
                     (REFERENCE, "enrollments.csv", 6, "userSourcedId", "usr-222-987654")],
        "skipped": {"users: parent": 1},
        "notices": [],
    },
    "v1p2_full_dataset": {
        "records": {"organization": 1, "academic_session": 3, "class": 1, "student": 3,
                    "staff": 3, "enrollment": 2},
        "rejected": FULL_SET_REJECTED,
        "skipped": {},
        "notices": [("warning", "oneroster.manifest_value_empty")] * 3
        + [("warning", "oneroster.file_declared_absent")],
    },
    "oneroster_test_data": {
        "records": {"organization": 1, "academic_session": 1, "class": 1, "student": 1,
                    "enrollment": 1},
        "rejected": [],
        "skipped": {},
        "notices": [("warning", "oneroster.file_not_mapped")] * 2,
    },
}
CASES = [(name, f"{name}{suffix}") for name in EXPECTED for suffix in ("", ".zip")]
PASSWORDS = ("Password1-", "Batman.Ru1ez")


def _path(realdata_dir: Path, name: str) -> Path:
    if name.endswith(".zip"):
        return realdata_dir / PACKAGES / "zips" / name
    return realdata_dir / PACKAGES / name


def _active_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in Record.select().where(Record.state == "active"):
        counts[record.entity] = counts.get(record.entity, 0) + 1
    return counts


def _rejections(run_id: int) -> list[tuple[str, str, int, str, str]]:
    rows = Quarantine.select().where(Quarantine.run == run_id).order_by(Quarantine.id)
    return [(q.reason, q.file, q.row, q.column, json.loads(q.params).get("value")) for q in rows]


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "path_name"), CASES, ids=[c[1] for c in CASES])
def test_package_ingests_as_documented(store: StoreHandle, realdata_dir: Path, name: str,
                                       path_name: str) -> None:
    expected = EXPECTED[name]
    report = service.ingest(store.db, store.settings, _path(realdata_dir, path_name), "oneroster", name)
    assert report.state == "succeeded"
    assert _active_counts() == expected["records"]
    assert _rejections(report.run_id) == expected["rejected"]
    assert report.counts["stage"]["skipped"] == expected["skipped"]
    assert [(n["level"], n["error"]) for n in report.notices] == expected["notices"]


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "path_name"), CASES, ids=[c[1] for c in CASES])
def test_second_ingest_changes_nothing(store: StoreHandle, realdata_dir: Path, name: str,
                                       path_name: str) -> None:
    path = _path(realdata_dir, path_name)
    first = service.ingest(store.db, store.settings, path, "oneroster", name)
    assert first.changes == sum(EXPECTED[name]["records"].values())
    before = horizon()
    second = service.ingest(store.db, store.settings, path, "oneroster", name)
    assert second.state == "succeeded"
    assert second.changes == 0
    assert horizon() == before


@pytest.mark.realdata
def test_all_packages_leave_no_password(store: StoreHandle, realdata_dir: Path) -> None:
    for name in EXPECTED:
        service.ingest(store.db, store.settings, _path(realdata_dir, name), "oneroster", name)
    stored = [r.data for r in Record.select()] + [q.cells or "" for q in Quarantine.select()]
    stored += [s.data or "" for s in StagedRecord.select()]
    for password in PASSWORDS:
        assert not [text for text in stored if password in text]


@pytest.mark.realdata
def test_demographics_joined_to_student(store: StoreHandle, realdata_dir: Path) -> None:
    service.ingest(store.db, store.settings, _path(realdata_dir, "oneroster_test_data"),
                   "oneroster", "delta")
    student = json.loads(Record.get(Record.entity == "student").data)
    assert student["birth_date"] == "2010-04-17"
    assert student["full_name"] == "Wayne Bruce"


@pytest.mark.realdata
def test_v1p2_roles_choose_entity(store: StoreHandle, realdata_dir: Path) -> None:
    service.ingest(store.db, store.settings, _path(realdata_dir, "v1p2_full_dataset"),
                   "oneroster", "v1p2")
    staff = {r.local_id: json.loads(r.data) for r in Record.select().where(Record.entity == "staff")}
    assert sorted(staff) == ["usr-222-123456", "usr-222-1234561", "usr-222-987654"]
    assert staff["usr-222-1234561"]["position"] == "administrator"
    assert staff["usr-222-123456"]["roles"] == ["teacher"]


# Records whose grades change when a store written by version 1 of the student and class
# mappings ingests the same package with version 2: only the class "09,10,11" has a leading zero.
GRADE_UPDATES = {"Test_full_data_set": {"class": 1}, "Test_minimal_data_set": {},
                 "v1p2_full_dataset": {"class": 1}, "oneroster_test_data": {}}


@pytest.mark.realdata
@pytest.mark.parametrize("name", list(EXPECTED))
def test_grade_mapping_upgrade_counts(store: StoreHandle, realdata_dir: Path, name: str) -> None:
    newest = {entity: max((v for v in list_versions("oneroster") if v.entity == entity),
                          key=lambda v: v.number) for entity in ("student", "class")}
    for version in newest.values():
        set_state(version.id, "retired")
    path = _path(realdata_dir, name)
    service.ingest(store.db, store.settings, path, "oneroster", name)
    for version in newest.values():
        set_state(version.id, "active")

    report = service.ingest(store.db, store.settings, path, "oneroster", name)
    assert report.state == "succeeded"
    updated = {entity: counts["update"] for entity, counts in report.counts["decisions"].items()
               if counts.get("update")}
    assert updated == GRADE_UPDATES[name]
    if name.endswith("full_data_set") or name == "v1p2_full_dataset":
        klass = json.loads(Record.get(Record.local_id == "cls-222-123456").data)
        assert klass["grades"] == ["9", "10", "11"]
