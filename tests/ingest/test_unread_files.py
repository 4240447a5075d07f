"""A OneRoster file that cannot be read is one file error, and the rows that name its records name it."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.cli.render import rejection_lines
from gateway.i18n import set_language
from gateway.ingest import service
from gateway.store.models import Quarantine
from tests.support import oneroster as pkg
from tests.support.store import StoreHandle


def ingest(store: StoreHandle, folder: Path) -> service.RunReport:
    return service.ingest(store.db, store.settings, folder, "oneroster", "school-a")


def excel_users(folder: Path, separator: str = ";", codec: str = "utf-8") -> None:
    """Save users.csv again as Excel on a Vietnamese Windows does."""
    text = (folder / "users.csv").read_text("utf-8").replace(",", separator)
    data = pkg.cp1258(text) if codec == "cp1258" else text.encode(codec)
    (folder / "users.csv").write_bytes(data)


def test_semicolon_users_one_cause(store: StoreHandle, tmp_path: Path) -> None:
    folder = pkg.write_package(tmp_path / "p", pkg.city(students=6))
    excel_users(folder)
    report = ingest(store, folder)

    assert report.file_errors == 1
    assert [(n["level"], n["error"]) for n in report.notices][0] == ("error", "csv.wrong_separator")
    assert report.counts["stage"]["rejected"] == {"ingest.reference_file_unread": 6}
    rows = list(Quarantine.select().where(Quarantine.run == report.run_id))
    assert {json.loads(row.params)["target_file"] for row in rows} == {"users.csv"}
    set_language("en")
    try:
        lines = rejection_lines(report.run_id)
    finally:
        set_language(None)
    assert len(lines) == 3  # the header, one group and its first place
    assert lines[1].startswith("  6 × Enrollment: Field student or staff member enrolled in the "
                               'class (person_ref) names the student "u1", '
                               "but file users.csv could not be read")


def test_cp1258_users_is_file_error(store: StoreHandle, tmp_path: Path) -> None:
    folder = pkg.write_package(tmp_path / "p", pkg.city(students=3))
    excel_users(folder, separator=",", codec="cp1258")
    report = ingest(store, folder)

    assert report.file_errors == 1
    notice = report.notices[0]
    assert (notice["level"], notice["error"]) == ("error", "csv.not_utf8")
    assert notice["params"] == {"file": "users.csv", "encoding": "Windows-1258"}
    assert report.counts["stage"]["rejected"] == {"ingest.reference_file_unread": 3}


def test_stored_students_still_satisfy_references(store: StoreHandle, tmp_path: Path) -> None:
    """A second package whose users.csv is unreadable keeps the enrollments of stored pupils."""
    tables = pkg.city(students=3)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    folder = pkg.write_package(tmp_path / "b", tables)
    excel_users(folder)
    report = ingest(store, folder)

    assert report.file_errors == 1
    assert report.counts["stage"]["rejected"] == {}


def test_unreadable_row_labelled_with_entities(store: StoreHandle, tmp_path: Path) -> None:
    folder = pkg.write_package(tmp_path / "p", pkg.city(students=3))
    users = (folder / "users.csv").read_bytes()
    bad = pkg.cp1258("u9,,,TRUE,s1,student,,,Hương,Phạm,,,,,,,06,\r\n")
    (folder / "users.csv").write_bytes(users + bad)
    report = ingest(store, folder)

    rejected = Quarantine.get((Quarantine.run == report.run_id)
                              & (Quarantine.reason == "csv.invalid_encoding"))
    assert json.loads(rejected.params)["row_entities"] == ["staff", "student"]
    set_language("en")
    try:
        lines = rejection_lines(report.run_id)
    finally:
        set_language(None)
    assert lines[1].startswith("  1 × Staff / Student: Line 5 has bytes")
