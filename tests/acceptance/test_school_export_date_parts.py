"""Birth dates split into "Ngày", "Tháng" and "Năm" columns under a merged "Ngày sinh" header.

Ministry templates and some vnEdu and SMAS exports write the birth date this way, with two
header rows and frozen panes. Each test writes a synthetic list (XLSX with openpyxl, or CSV),
ingests it with ``gateway ingest`` in a fresh store, and reads what is stored from
``gateway --json changes`` and what is rejected from ``gateway --json quarantine list``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from tests.cli.test_cli import home, run  # noqa: F401 (fixture)

SCHOOL = ["092003", "Trường THCS Thử Nghiệm"]
TOP = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", None, None, "Giới tính", "Mã trường",
       "Tên trường"]
BOTTOM = [None, None, None, "Ngày", "Tháng", "Năm", None, None, None]
# Every header cell but "Ngày sinh" is merged down over the two header rows.
MERGED = ["A{0}:A{1}", "B{0}:B{1}", "C{0}:C{1}", "D{0}:F{0}", "G{0}:G{1}", "H{0}:H{1}",
          "I{0}:I{1}"]


def write_list(path: Path, sheets: dict[str, list[tuple[Any, Any, Any]]]) -> Path:
    """Write a workbook with one class sheet per entry: a title, the two-row header, the pupils.

    Pupil ``n`` of sheet ``s`` gets the code ``0920030`` + ``s`` + ``n`` in two digits, and the
    birth date cells given. A ``datetime`` cell is formatted as a date, as Excel shows a typed date.
    """
    workbook = Workbook()
    workbook.remove(workbook.active)
    for number, (title, dates) in enumerate(sheets.items(), 1):
        sheet = workbook.create_sheet(title)
        sheet.append([f"DANH SÁCH HỌC SINH LỚP {title}"])
        sheet.append(TOP)
        sheet.append(BOTTOM)
        for n, (day, month, year) in enumerate(dates, 1):
            sheet.append([n, f"0920030{number}{n:02d}", f"Học Sinh Số {number}{n}", day, month,
                          year, "Nữ" if n % 2 else "Nam", *SCHOOL])
            if isinstance(day, datetime):
                sheet.cell(sheet.max_row, 4).number_format = "DD/MM/YYYY"
        for cells in MERGED:
            sheet.merge_cells(cells.format(2, 3))
        sheet.freeze_panes = "D4"
    workbook.save(path)
    return path


def ingest(home: Path, path: Path, source: str = "ds", lang: str = "en") -> dict[str, Any]:  # noqa: F811
    output = run(home, "--json", "--lang", lang, "ingest", str(path), "--adapter",
                 "school-export", "--source", source).stdout
    report: dict[str, Any] = json.loads(output)
    return report


def birth_dates(home: Path) -> dict[str, str | None]:  # noqa: F811
    """Return the birth date of every stored pupil, ``None`` for a pupil stored without one."""
    feed = json.loads(run(home, "--json", "changes", "--limit", "1000").stdout)
    return {event["data"]["local_id"]: event["data"].get("birth_date")
            for event in feed["events"] if event["entity"] == "student"}


def rejected_students(home: Path, run_id: int) -> dict[int, dict[str, Any]]:  # noqa: F811
    """Return the quarantined pupil rows of a run by sheet row."""
    rows = json.loads(run(home, "--json", "--lang", "en", "quarantine", "list", "--run",
                          str(run_id)).stdout)
    return {row["place"]["row"]: row for row in rows if row["place"].get("field") == "birth_date"}


def notices(report: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [notice for notice in report["notices"] if notice["error"] == key]


def test_split_birth_date_read_from_workbook(home: Path, tmp_path: Path) -> None:  # noqa: F811
    path = write_list(tmp_path / "ds.xlsx", {"6A1": [(22, 7, 2013), (2, 10, 2013), (None, None, None)]})

    report = ingest(home, path)

    assert report["state"] == "succeeded"
    assert report["counts"]["stage"]["rejected"] == {}
    assert birth_dates(home) == {"0920030101": "2013-07-22", "0920030102": "2013-10-02",
                                 "0920030103": None}
    assert notices(report, "table.columns_not_read") == []


def test_split_birth_date_bad_cells_rejected(home: Path, tmp_path: Path) -> None:  # noqa: F811
    path = write_list(tmp_path / "ds.xlsx", {"6A1": [
        (22, 7, 2013),                   # row 4: read
        (31, 2, 2013),                   # row 5: no such day
        (5, 3, 13),                      # row 6: two-digit year
        (5, 3, 1850),                    # row 7: before the birth date limit
        (5, "Bảy", 2013),                # row 8: a month name
        (datetime(2013, 7, 22), 7, 2013),  # row 9: a date cell in the day column
        (22, 7, 41477),                  # row 10: an Excel serial number in the year column
        (5, None, 2013),                 # row 11: the month left empty
        (None, None, None),              # row 12: no birth date at all
    ]})

    report = ingest(home, path)

    assert birth_dates(home) == {"0920030101": "2013-07-22", "0920030109": None}
    rejected = rejected_students(home, report["run_id"])
    assert {row: (entry["reason"], entry["place"]["sheet"], entry["place"]["column"])
            for row, entry in rejected.items()} == {
        5: ("mapping.date_parts_invalid", "6A1", "Ngày sinh Ngày"),
        6: ("mapping.date_part_two_digit_year", "6A1", "Ngày sinh Năm"),
        7: ("mapping.date_part_year_limit", "6A1", "Ngày sinh Năm"),
        8: ("mapping.date_month_invalid", "6A1", "Ngày sinh Tháng"),
        9: ("mapping.date_part_whole_date", "6A1", "Ngày sinh Ngày"),
        10: ("mapping.date_part_whole_date", "6A1", "Ngày sinh Năm"),
        11: ("mapping.date_part_missing", "6A1", "Ngày sinh Tháng"),
    }
    assert "month 2 of 2013 has 28 days" in rejected[5]["message"]
    assert 'Column Ngày sinh Tháng holds "Bảy"' in rejected[8]["message"]
    assert "1900-01-01" in rejected[7]["message"]


def test_split_birth_date_message_in_vietnamese(home: Path, tmp_path: Path) -> None:  # noqa: F811
    path = write_list(tmp_path / "ds.xlsx", {"6A1": [(5, 3, 13)]})
    ingest(home, path)

    text = run(home, "--lang", "vi", "runs", "rejections", "1").stdout

    assert 'Cột Ngày sinh Năm ghi năm "13" bằng 2 chữ số' in text
    assert "6A1" in text


def test_split_birth_date_read_from_csv(home: Path, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "ds.csv"
    path.write_text("\r\n".join([
        "STT,Mã trường,Tên trường,Lớp,Mã học sinh,Họ và tên,Ngày sinh,,,Giới tính",
        ",,,,,,Ngày,Tháng,Năm,",
        "1,092003,Trường THCS Thử Nghiệm,6A1,0920030001,Học Sinh Một,04,03,2012,Nam",
        "2,092003,Trường THCS Thử Nghiệm,6A1,0920030002,Học Sinh Hai,4,Tháng 3,2012,Nữ",
        "3,092003,Trường THCS Thử Nghiệm,6A1,0920030003,Học Sinh Ba,29,2,2013,Nữ",
        "4,092003,Trường THCS Thử Nghiệm,6A1,0920030004,Học Sinh Bốn,,,,Nam",
    ]) + "\r\n", encoding="utf-8")

    report = ingest(home, path)

    assert birth_dates(home) == {"0920030001": "2012-03-04", "0920030004": None}
    rejected = rejected_students(home, report["run_id"])
    assert {row: (entry["reason"], entry["place"]["column"]) for row, entry in rejected.items()} == {
        4: ("mapping.date_month_invalid", "Ngày sinh Tháng"),
        5: ("mapping.date_parts_invalid", "Ngày sinh Ngày"),
    }
    assert all(entry["place"]["file"] == "ds.csv" for entry in rejected.values())


def test_csv_one_row_part_headers_read(home: Path, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "ds.csv"
    path.write_text("\r\n".join([
        "Mã trường,Tên trường,Lớp,Mã học sinh,Họ và tên,Ngày sinh (ngày),Ngày sinh (tháng),"
        "Ngày sinh (năm)",
        "092003,Trường THCS Thử Nghiệm,6A1,0920030001,Học Sinh Một,17,11,2012",
    ]) + "\r\n", encoding="utf-8")

    ingest(home, path)

    assert birth_dates(home) == {"0920030001": "2012-11-17"}


def test_flat_day_month_year_columns_read(home: Path, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "ds.csv"
    path.write_text("\r\n".join([
        "Mã trường,Tên trường,Lớp,Mã học sinh,Họ và tên,Ngày sinh,Tháng sinh,Năm sinh",
        "092003,Trường THCS Thử Nghiệm,6A1,0920030001,Học Sinh Một,22,7,2013",
        "092003,Trường THCS Thử Nghiệm,6A1,0920030002,Học Sinh Hai,22,7,13",
    ]) + "\r\n", encoding="utf-8")

    report = ingest(home, path)

    assert birth_dates(home) == {"0920030001": "2013-07-22"}
    rejected = rejected_students(home, report["run_id"])
    assert {row: (entry["reason"], entry["place"]["column"]) for row, entry in rejected.items()} == {
        3: ("mapping.date_part_two_digit_year", "Năm sinh")}


def test_missing_year_column_warned_once(home: Path, tmp_path: Path) -> None:  # noqa: F811
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title in ("6A1", "6A2"):
        sheet = workbook.create_sheet(title)
        sheet.append(["Mã học sinh", "Họ và tên", "Ngày sinh", None, "Mã trường", "Tên trường"])
        sheet.append([None, None, "Ngày", "Tháng", None, None])
        sheet.append([f"0920030{title[-1]}01", "Học Sinh Một", 22, 7, *SCHOOL])
        for cells in ("A1:A2", "B1:B2", "C1:D1", "E1:E2", "F1:F2"):
            sheet.merge_cells(cells)
    workbook.save(tmp_path / "ds.xlsx")

    report = ingest(home, tmp_path / "ds.xlsx")

    assert birth_dates(home) == {"0920030101": None, "0920030201": None}
    (warning,) = notices(report, "ingest.date_parts_incomplete")
    assert warning["level"] == "warning"
    assert warning["params"]["present"] == "Ngày sinh Ngày, Ngày sinh Tháng"
    assert warning["params"]["missing"] == "Ngày sinh Năm"
    assert "Ngày sinh Năm" in warning["message"]


def test_old_mapping_warns_columns_not_read(home: Path, tmp_path: Path) -> None:  # noqa: F811
    path = write_list(tmp_path / "ds.xlsx", {"6A1": [(22, 7, 2013)], "6A2": [(2, 10, 2013)]})
    ingest(home, path)
    versions = json.loads(run(home, "--json", "mappings", "list", "--adapter",
                              "school-export").stdout)
    (old,) = [v["id"] for v in versions if v["entity"] == "student" and v["version"] == 5]
    run(home, "mappings", "pin", "ds", old)

    report = ingest(home, path)

    (warning,) = notices(report, "table.columns_not_read")
    assert warning["params"]["columns"] == '"Ngày sinh Ngày", "Ngày sinh Tháng", "Ngày sinh Năm"'
    assert warning["params"]["parents"] == '"Ngày sinh"'
    assert warning["params"]["count"] == 2
    assert warning["params"]["table"] == "ds.xlsx [6A1]"
    assert "ds.xlsx [6A1]" in warning["message"]


def test_tick_pair_read_and_old_mapping_warned(home: Path, tmp_path: Path) -> None:  # noqa: F811
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "6A1"
    sheet.append(["Mã học sinh", "Họ và tên", "Giới tính", None, "Mã trường", "Tên trường"])
    sheet.append([None, None, "Nam", "Nữ", None, None])
    sheet.append(["0920030101", "Học Sinh Một", "x", None, *SCHOOL])
    for cells in ("A1:A2", "B1:B2", "C1:D1", "E1:E2", "F1:F2"):
        sheet.merge_cells(cells)
    workbook.save(tmp_path / "ds.xlsx")

    report = ingest(home, tmp_path / "ds.xlsx")

    assert notices(report, "table.columns_not_read") == []
    feed = json.loads(run(home, "--json", "changes", "--limit", "1000").stdout)
    (pupil,) = [event["data"] for event in feed["events"] if event["entity"] == "student"]
    assert pupil["gender"] == "male"

    # Version 5 reads only the "Nữ" ticks of the pair, so "Nam" is named as not read.
    versions = json.loads(run(home, "--json", "mappings", "list", "--adapter",
                              "school-export").stdout)
    (old,) = [v["id"] for v in versions if v["entity"] == "student" and v["version"] == 5]
    run(home, "mappings", "pin", "ds", old)
    (warning,) = notices(ingest(home, tmp_path / "ds.xlsx"), "table.columns_not_read")
    assert warning["params"]["columns"] == '"Giới tính Nam"'
    assert warning["params"]["count"] == 1
