"""A workbook whose formulas were never calculated, through the shipped school-export mappings.

openpyxl writes formulas without their values, as programs that do not calculate do. Each
workbook is ingested with ``service.ingest`` (read ahead in a second process) on SQLite and
PostgreSQL. A row whose required value comes from such a cell is rejected with a message
that names the cell, and a field that may be empty is stored without the value, with a
warning per column. All names and codes are synthetic.
"""

from __future__ import annotations

import json
from pathlib import Path

from openpyxl import Workbook

from gateway.i18n import translate
from gateway.ingest import service
from gateway.store.models import Quarantine
from tests.acceptance.test_school_export_values import stored
from tests.support.store import StoreHandle

ADAPTER = "school-export"
HEADER = ["STT", "Mã trường", "Tên trường", "Lớp", "Mã học sinh", "Họ và tên", "Ngày sinh",
          "Giới tính"]
SCHOOL = ["092003", "Trường THCS Thử"]


def pupil(number: int, **cells: object) -> list[object]:
    row: dict[str, object] = {
        "STT": number, "Mã trường": SCHOOL[0], "Tên trường": SCHOOL[1], "Lớp": "6A1",
        "Mã học sinh": f"092003{number:04d}", "Họ và tên": f"Học Sinh Số {number}",
        "Ngày sinh": "04/03/2012", "Giới tính": "Nam",
    }
    row.update(cells)
    return [row[name] for name in HEADER]


def write_workbook(path: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    """Write ``rows`` under ``header`` into sheet "6A1"; formulas are stored without values."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "6A1"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def rejections(run_id: int, entity: str) -> dict[int, Quarantine]:
    rows = Quarantine.select().where((Quarantine.run == run_id) & (Quarantine.entity == entity))
    return {q.row: q for q in rows}


def test_required_formula_cell_named(store: StoreHandle, tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "ds.xlsx", [
        pupil(1),
        pupil(2, **{"Họ và tên": '="Học Sinh "&"Hai"'}),
        pupil(3, **{"Mã học sinh": '="092003"&"0003"'}),
    ])

    report = service.ingest(store.db, store.settings, path, ADAPTER, "formulas")

    assert sorted(stored("formulas")) == ["0920030001"]
    students = rejections(report.run_id, "student")
    assert {row: (q.reason, q.column) for row, q in students.items()} == {
        3: ("mapping.formula_not_calculated", "Họ và tên"),
        4: ("mapping.formula_not_calculated", "Mã học sinh"),
    }
    params = json.loads(students[3].params)
    assert (params["cell"], params["table"], params["field"]) == ("F3", "ds.xlsx [6A1]", "full_name")
    # The given name is built from the same cell, and its problem names the cell too.
    assert [(p["reason"], p["params"]["cell"]) for p in params["problems"]] == [
        ("mapping.formula_not_calculated", "F3"), ("mapping.formula_not_calculated", "F3"),
    ]
    message = translate(students[3].reason, lang="en", **params)
    assert message.startswith('Cell F3 of ds.xlsx [6A1] (column "Họ và tên") holds a formula '
                              "that was never calculated, so field full name (full_name) has no "
                              "value although the cell is not blank.")
    assert "LibreOffice" in message


def test_required_formula_cell_vietnamese(store: StoreHandle, tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "ds.xlsx", [pupil(1, **{"Mã học sinh": "=A2"})])

    report = service.ingest(store.db, store.settings, path, ADAPTER, "formulas_vi")

    student = rejections(report.run_id, "student")[2]
    message = translate(student.reason, lang="vi", **json.loads(student.params))
    assert message.startswith('Ô E2 của ds.xlsx [6A1] (cột "Mã học sinh") chứa công thức chưa '
                              "từng được tính")


def test_enrollment_of_formula_code_named(store: StoreHandle, tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "ds.xlsx", [pupil(1), pupil(2, **{"Mã học sinh": "=A3"})])

    report = service.ingest(store.db, store.settings, path, ADAPTER, "formula_enrol")

    enrollment = rejections(report.run_id, "enrollment")[3]
    assert (enrollment.reason, enrollment.column) == ("mapping.formula_not_calculated",
                                                      "Mã học sinh")
    assert len(stored("formula_enrol", "enrollment")) == 1


def test_school_formula_cell_named(store: StoreHandle, tmp_path: Path) -> None:
    # The student mapping leaves the school optional; the school export needs it per row.
    path = write_workbook(tmp_path / "ds.xlsx", [pupil(1), pupil(2, **{"Mã trường": "=B2"})])

    report = service.ingest(store.db, store.settings, path, ADAPTER, "formula_school")

    student = rejections(report.run_id, "student")[3]
    assert (student.reason, student.column) == ("mapping.formula_not_calculated", "Mã trường")
    assert json.loads(student.params)["field"] == "school_ref"


def test_optional_formula_cell_warned(store: StoreHandle, tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "ds.xlsx", [
        pupil(1), pupil(2, **{"Ngày sinh": "=DATE(2012,3,4)"}),
        pupil(3, **{"Ngày sinh": "=DATE(2012,5,6)"}),
    ])

    report = service.ingest(store.db, store.settings, path, ADAPTER, "formula_birth")

    students = stored("formula_birth")
    assert sorted(students) == ["0920030001", "0920030002", "0920030003"]
    assert "birth_date" not in students["0920030002"]
    assert rejections(report.run_id, "student") == {}
    (warning,) = [n for n in report.notices if n["error"] == "table.formula_not_calculated_column"]
    assert warning["level"] == "warning"
    assert (warning["params"]["column"], warning["params"]["count"]) == ("Ngày sinh", 2)
    assert warning["params"]["cell"] == "G3"
    assert warning["place"] == {"file": "ds.xlsx", "sheet": "6A1", "row": 3, "column": "Ngày sinh"}


def test_calculated_workbook_has_no_formula_notice(store: StoreHandle, tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "ds.xlsx", [pupil(1), pupil(2)])

    report = service.ingest(store.db, store.settings, path, ADAPTER, "plain")

    assert not [n for n in report.notices if n["error"].startswith("table.formula")]
    assert len(stored("plain")) == 2
