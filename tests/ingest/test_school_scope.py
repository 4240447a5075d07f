"""School exports: rows without a school code.

Every list here is synthetic: made-up pupils of made-up schools, written as CSV files.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from gateway.ingest import service, stage
from gateway.store.models import Quarantine, Record
from tests.support.store import StoreHandle

HEADER = ["STT", "Mã trường", "Tên trường", "Lớp", "Mã học sinh", "Họ và tên", "Ngày sinh",
          "Giới tính"]
CLASSES = ("6A1", "6A2", "6A3", "6A4")


def pupil_rows(school: str, classes: tuple[str, ...] = CLASSES, per_class: int = 8) -> list[list[str]]:
    """Return one list row per made-up pupil, ``per_class`` pupils in each class, numbered from 1."""
    rows = []
    for class_name in classes:
        for day in range(1, per_class + 1):
            number = len(rows) + 1
            rows.append([str(number), school, f"Trường Thử {school}", class_name,
                         f"{school}{number:04d}", f"Học Sinh Thử {number}", f"{day:02d}/09/2013",
                         "Nam" if number % 2 else "Nữ"])
    return rows


def write_lists(folder: Path, lists: dict[str, list[list[str]]],
                header: list[str] = HEADER) -> Path:
    """Write each list as ``<name>.csv`` in ``folder`` and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in lists.items():
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerows(rows)
    return folder


def ingest(store: StoreHandle, folder: Path) -> service.RunReport:
    return service.ingest(store.db, store.settings, folder, "school-export", "lists")


def active(entity: str, school: str | None = None) -> int:
    condition = (Record.entity == entity) & (Record.state == "active")
    if school is not None:
        condition &= Record.scope_school == school
    return Record.select().where(condition).count()


# -- rows without a school code ---------------------------------------------------


def test_pupil_without_school_rejected(store: StoreHandle, tmp_path: Path) -> None:
    rows = pupil_rows("099001")
    rows[20][1] = ""
    report = ingest(store, write_lists(tmp_path / "a", {"099001": rows}))
    assert report.counts["stage"]["rejected"]["ingest.school_missing"] == 1
    assert Record.select().where((Record.entity == "student") & Record.scope_school.is_null()).count() == 0
    rejected = Quarantine.get(Quarantine.reason == "ingest.school_missing")
    assert (rejected.file, rejected.row, rejected.column, rejected.field) \
        == ("099001.csv", 22, "Mã trường", "school_ref")
    assert json.loads(rejected.params) == {"column": "Mã trường", "field": "school_ref"}


def test_pupil_without_school_keeps_record(store: StoreHandle, tmp_path: Path) -> None:
    rows = pupil_rows("099001")
    ingest(store, write_lists(tmp_path / "a", {"099001": rows}))
    blank = [list(row) for row in rows]
    blank[20][1] = ""
    report = ingest(store, write_lists(tmp_path / "b", {"099001": blank}))
    assert report.state == "succeeded"
    assert active("student", "099001") == 32
    assert report.counts["decisions"]["student"].get("end", 0) == 0
    # The enrollment's id joins the empty school code, so the row cannot name its enrollment.
    assert active("enrollment", "099001") == 32
    assert "ingest.absent_not_ended_rows" in {n["error"] for n in report.notices}


def test_list_without_school_column_reads_no_pupils(store: StoreHandle, tmp_path: Path) -> None:
    header = [name for name in HEADER if name != "Mã trường"]
    rows = [[cell for index, cell in enumerate(row) if index != 1] for row in pupil_rows("099001")]
    report = ingest(store, write_lists(tmp_path / "a", {"list": rows}, header))
    missing = [n for n in report.notices if n["error"] == "ingest.columns_missing"]
    assert "school-export/student/v5" in {n["params"]["mapping"] for n in missing}
    assert all(n["level"] == "error" for n in missing)
    assert active("student") == 0


def test_later_list_ends_pupil_once_coded(store: StoreHandle, tmp_path: Path) -> None:
    rows = pupil_rows("099001")
    ingest(store, write_lists(tmp_path / "a", {"099001": rows}))
    without = [row for row in rows if row[4] != "0990010021"]
    report = ingest(store, write_lists(tmp_path / "b", {"099001": without}))
    assert report.state == "succeeded"
    left = Record.get((Record.entity == "student") & (Record.local_id == "0990010021"))
    assert left.state == "ended"


def test_unscoped_pupil_stored_earlier_rejected(store: StoreHandle, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    rows = pupil_rows("099001")
    rows[20][1] = ""
    folder = write_lists(tmp_path / "a", {"099001": rows})
    with monkeypatch.context() as before_rule:
        # As stored before rows without a school were rejected: the pupil has no school.
        before_rule.setattr(stage, "required_school_field", lambda *args: None)
        ingest(store, folder)
    assert Record.select().where((Record.entity == "student") & Record.scope_school.is_null()).count() == 1
    report = ingest(store, folder)
    assert report.counts["stage"]["rejected"]["ingest.school_missing"] == 1
    assert active("student") == 32
