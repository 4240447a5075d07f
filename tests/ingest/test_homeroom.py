"""One homeroom class per pupil and school year, in school lists and OneRoster packages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from gateway.i18n import translate
from gateway.ingest import service
from gateway.store.models import Quarantine, Record
from tests.support import oneroster as pkg
from tests.support.store import StoreHandle

HEADER = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Giới tính", "Mã trường", "Tên trường"]
SCHOOL = ["92001101", "Trường THCS Thử"]
KEY = "ingest.second_homeroom"


def pupil(number: int) -> list[object]:
    return [number, f"92001101{number:04d}", f"Học Sinh {number}", "01/02/2013", "Nam", *SCHOOL]


def write_sheets(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        sheet.append([f"DANH SÁCH HỌC SINH LỚP {title}"])
        sheet.append(HEADER)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def enrollments(source: str) -> dict[str, str]:
    """Return the class of each active enrollment of ``source``, by pupil."""
    records = Record.select().where((Record.source == source) & (Record.entity == "enrollment")
                                    & (Record.state == "active"))
    classes: dict[str, list[str]] = {}
    for record in records:
        data = json.loads(record.data)
        classes.setdefault(data["person_ref"], []).append(data["class_ref"])
    return {person: ", ".join(sorted(refs)) for person, refs in classes.items()}


def homeroom_rejections(run_id: int) -> list[tuple[Any, ...]]:
    rows = Quarantine.select().where((Quarantine.run == run_id) & (Quarantine.reason == KEY))
    return [(q.entity, q.sheet, q.row, q.field, json.loads(q.params)) for q in rows]


def test_pupil_in_two_class_sheets(store: StoreHandle, tmp_path: Path) -> None:
    # Pupil 3 is the last of 8A1 (row 5) and the first of 8A2 (row 3).
    path = write_sheets(tmp_path / "lists.xlsx", {"8A1": [pupil(1), pupil(2), pupil(3)],
                                                   "8A2": [pupil(3), pupil(4)]})

    first = service.ingest(store.db, store.settings, path, "school-export", "two")
    second = service.ingest(store.db, store.settings, path, "school-export", "two")

    assert enrollments("two")["920011010003"] == "92001101 8A1"
    assert len(enrollments("two")) == 4
    for report in (first, second):
        assert report.counts["stage"]["rejected"] == {KEY: 1}
        ((entity, sheet, row, field, params),) = homeroom_rejections(report.run_id)
        assert (entity, sheet, row, field) == ("enrollment", "8A2", 3, "class_ref")
        assert params["value"] == "920011010003"
        assert params["class_ref"] == "92001101 8A2"
        assert params["first_class"] == "92001101 8A1"
        assert (params["first_row"], params["first_table"]) == (5, "lists.xlsx [8A1]")
    assert second.counts["decisions"]["enrollment"] == {"unchanged": 4, "seen": 1}
    rejected = Quarantine.get((Quarantine.run == first.run_id) & (Quarantine.reason == KEY))
    message = translate(KEY, "vi", **json.loads(rejected.params))
    assert '"92001101 8A2"' in message
    assert '"92001101 8A1" được giữ' in message
    assert "dòng 5 của lists.xlsx [8A1]" in message


def test_pupil_twice_in_one_list(store: StoreHandle, tmp_path: Path) -> None:
    lines = [";".join([*HEADER, "Lớp"])]
    for number, klass in ((1, "6A1"), (2, "6A1"), (1, "6A2")):
        lines.append(";".join(str(cell) for cell in [*pupil(number), klass]))
    folder = tmp_path / "list"
    folder.mkdir()
    (folder / "ds.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = service.ingest(store.db, store.settings, folder, "school-export", "twice")

    assert enrollments("twice") == {"920011010001": "92001101 6A1", "920011010002": "92001101 6A1"}
    ((_, _, row, _, params),) = homeroom_rejections(report.run_id)
    assert (row, params["first_row"], params["first_class"]) == (4, 2, "92001101 6A1")


def test_pupil_moved_to_other_class(store: StoreHandle, tmp_path: Path) -> None:
    before = write_sheets(tmp_path / "before.xlsx", {"8A1": [pupil(1), pupil(2)], "8A2": [pupil(3)]})
    after = write_sheets(tmp_path / "after.xlsx", {"8A1": [pupil(1)], "8A2": [pupil(2), pupil(3)]})
    service.ingest(store.db, store.settings, before, "school-export", "moved")

    report = service.ingest(store.db, store.settings, after, "school-export", "moved")

    assert homeroom_rejections(report.run_id) == []
    assert enrollments("moved")["920011010002"] == "92001101 8A2"


def test_oneroster_second_homeroom_rejected(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=2)
    tables["classes"].append(pkg.klass("c2", "s1"))
    scheduled = pkg.klass("math", "s1")
    scheduled["classType"] = "scheduled"
    tables["classes"].append(scheduled)
    tables["enrollments"] += [pkg.enrollment("e3", "math", "u1", "s1"),
                              pkg.enrollment("e4", "c2", "u1", "s1")]

    report = service.ingest(store.db, store.settings, pkg.write_package(tmp_path / "p", tables),
                            "oneroster", "roster")

    # The scheduled class is no homeroom class, so only the enrollment in c2 is rejected.
    assert enrollments("roster") == {"u1": "c1, math", "u2": "c1"}
    ((entity, _, row, _, params),) = homeroom_rejections(report.run_id)
    assert (entity, row, params["class_ref"], params["first_class"]) == ("enrollment", 5, "c2", "c1")
