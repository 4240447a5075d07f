"""OneRoster values that an optional field cannot read cost the person that field only.

oneroster/student/v3 drops an unknown sex or grade and oneroster/staff/v2 an unknown sex or
role, with a warning (``ingest.field_dropped``), where the earlier versions rejected the row.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from gateway.ingest import service
from gateway.store.models import Quarantine, Record
from tests.support.store import StoreHandle

MANIFEST = [["propertyName", "value"], ["manifest.version", "1.0"], ["oneroster.version", "1.1"],
            ["file.orgs", "bulk"], ["file.users", "bulk"], ["file.demographics", "bulk"]]
USERS = ["sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role",
         "username", "givenName", "familyName", "grades"]
DEMOGRAPHICS = ["sourcedId", "status", "dateLastModified", "birthDate", "sex"]


def write(folder: Path, name: str, rows: list[list[str]]) -> None:
    with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)


def package(folder: Path, users: list[list[str]], demographics: list[list[str]]) -> Path:
    folder.mkdir()
    write(folder, "manifest", MANIFEST)
    write(folder, "orgs", [["sourcedId", "status", "dateLastModified", "name", "type"],
                           ["s1", "active", "", "Trường A", "school"]])
    write(folder, "users", [USERS, *users])
    write(folder, "demographics", [DEMOGRAPHICS, *demographics])
    return folder


def user(sourced_id: str, role: str, grade: str = "") -> list[str]:
    return [sourced_id, "active", "", "true", "s1", role, sourced_id, "An", "Lê", grade]


def born(sourced_id: str, sex: str) -> list[str]:
    return [sourced_id, "active", "", "2012-05-01", sex]


def stored(entity: str) -> dict[str, dict[str, Any]]:
    records = Record.select().where(Record.entity == entity)
    return {record.local_id: json.loads(record.data) for record in records}


def ingest_without_rejections(store: StoreHandle, folder: Path, users: list[list[str]],
                              demographics: list[list[str]]) -> Any:
    """Ingest the package of ``users``; return the run's report after checking that it rejected no row."""
    report = service.ingest(store.db, store.settings, package(folder, users, demographics),
                            "oneroster", "roster")
    assert list(Quarantine.select().where(Quarantine.run == report.run_id)) == []
    return report


def dropped_counts(report: Any) -> dict[tuple[str, str, str], int]:
    return {(n["params"]["entities"], n["params"]["field"], n["params"]["problem"]["reason"]):
            n["params"]["count"] for n in report.notices if n["error"] == "ingest.field_dropped"}


def test_student_unknown_sex_and_grade_dropped(store: StoreHandle, tmp_path: Path) -> None:
    users = [user("u1", "student", "07"), user("u2", "student", "07"), user("u3", "student", "13")]
    demographics = [born("u1", "female"), born("u2", "x"), born("u3", "male")]

    report = ingest_without_rejections(store, tmp_path / "p", users, demographics)

    students = stored("student")
    assert sorted(students) == ["u1", "u2", "u3"]
    assert (students["u1"]["gender"], students["u1"]["grade"]) == ("female", "7")
    assert "gender" not in students["u2"]
    assert students["u2"]["grade"] == "7"
    assert "grade" not in students["u3"]
    assert students["u3"]["gender"] == "male"
    for record in students.values():
        assert record["birth_date"] == "2012-05-01"
        assert record["full_name"] == "Lê An"
    assert report.counts["stage"]["dropped"] == {"student.gender": 1, "student.grade": 1}
    counts = dropped_counts(report)
    assert [count for (_, field, _), count in sorted(counts.items())] == [1, 1]
    assert {field for (_, field, _) in counts} == {"gender", "grade"}


def test_staff_unknown_sex_and_role_dropped(store: StoreHandle, tmp_path: Path) -> None:
    users = [user("t1", "teacher"), user("t2", "teacher"), user("t3", "teacher,librarian")]
    demographics = [born("t1", "male"), born("t2", "x"), born("t3", "female")]

    report = ingest_without_rejections(store, tmp_path / "p", users, demographics)

    staff = stored("staff")
    assert sorted(staff) == ["t1", "t2", "t3"]
    assert (staff["t1"]["gender"], staff["t1"]["position"], staff["t1"]["roles"]) == (
        "male", "teacher", ["teacher"])
    assert "gender" not in staff["t2"]
    assert staff["t2"]["position"] == "teacher"
    assert "roles" not in staff["t3"]
    assert "position" not in staff["t3"]
    assert staff["t3"]["gender"] == "female"
    assert report.counts["stage"]["dropped"] == {"staff.gender": 1, "staff.roles": 1,
                                                 "staff.position": 1}
