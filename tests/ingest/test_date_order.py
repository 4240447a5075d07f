"""Dates that read both day first and month first, in a column that writes month first."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from gateway.i18n import translate
from gateway.ingest import service
from gateway.store.models import Quarantine, Record
from tests.support.store import StoreHandle

HEADER = ["STT", "Mã trường", "Tên trường", "Lớp", "Mã học sinh", "Họ và tên", "Ngày sinh",
          "Giới tính"]
SPLIT_HEADER = ["STT", "Mã trường", "Tên trường", "Lớp", "Mã học sinh", "Họ và tên", "Ngày sinh",
                "Tháng sinh", "Năm sinh", "Giới tính"]
SCHOOL = ["92001107", "Trường THCS Thử"]
KEY = "ingest.date_order_unknown"


def write_list(folder: Path, name: str, dates: list[str], first: int = 1) -> Path:
    """Write a ';' list with one pupil per date: ``dates[i]`` is on row i + 2, for pupil ``first + i``."""
    folder.mkdir(exist_ok=True)
    lines = [";".join(HEADER)]
    for offset, birth in enumerate(dates):
        number = first + offset
        lines.append(";".join([str(number), *SCHOOL, "6A3", f"920011070{number:03d}",
                               f"Học Sinh {number}", birth, "Nam"]))
    (folder / name).write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return folder


def birth_dates(source: str) -> dict[str, str]:
    records = Record.select().where((Record.source == source) & (Record.entity == "student")
                                    & (Record.state == "active"))
    return {record.local_id: json.loads(record.data).get("birth_date") for record in records}


def rejections(run_id: int, reason: str = KEY) -> list[tuple[Any, ...]]:
    rows = (Quarantine.select().where((Quarantine.run == run_id) & (Quarantine.reason == reason))
            .order_by(Quarantine.file, Quarantine.row))
    return [(q.entity, q.file, q.row, q.column, q.field, json.loads(q.params)) for q in rows]


def ingest(store: StoreHandle, folder: Path, source: str) -> service.RunReport:
    return service.ingest(store.db, store.settings, folder, "school-export", source)


def test_evidence_after_ambiguous_rows(store: StoreHandle, tmp_path: Path) -> None:
    # The dates of the user trial: month first, the evidence on the third row.
    folder = write_list(tmp_path / "list", "ds.csv",
                        ["03/04/2013", "4/3/2013", "12/25/2013", "05/09/13", "2013"])

    report = ingest(store, folder, "trial")

    assert birth_dates("trial") == {}
    found = rejections(report.run_id)
    assert [(entity, file, row, column, field) for entity, file, row, column, field, _ in found] == [
        ("student", "ds.csv", 2, "Ngày sinh", "birth_date"),
        ("student", "ds.csv", 3, "Ngày sinh", "birth_date")]
    first, second = found[0][5], found[1][5]
    assert (first["value"], first["day_first"], first["month_first"]) == (
        "03/04/2013", "2013-04-03", "2013-03-04")
    assert (second["day_first"], second["month_first"]) == ("2013-03-04", "2013-04-03")
    assert (first["evidence_row"], first["evidence_value"], first["count"]) == (4, "12/25/2013", 1)
    assert first["table"] == "ds.csv"
    # The evidence row's own rejection names its month-first reading.
    proof = rejections(report.run_id, "mapping.date_month_first")
    assert [row for *_, row, _c, _f, _p in proof] == [4]
    assert [params["reading"] for *_, params in proof] == ["2013-12-25"]
    assert report.counts["stage"]["rejected"][KEY] == 2


def test_evidence_before_ambiguous_rows(store: StoreHandle, tmp_path: Path) -> None:
    folder = write_list(tmp_path / "list", "ds.csv",
                        ["12/25/2013", "01/13/2014", "03/04/2013", "05/05/2013", "11/02/2013"])

    report = ingest(store, folder, "before")

    assert [row for _, _, row, *_ in rejections(report.run_id)] == [4, 6]
    params = rejections(report.run_id)[0][5]
    assert (params["evidence_row"], params["evidence_value"], params["count"]) == (
        2, "12/25/2013", 2)
    # A day equal to its month reads the same either way.
    assert birth_dates("before") == {"920011070004": "2013-05-05"}


def test_evidence_in_other_file_of_run(store: StoreHandle, tmp_path: Path) -> None:
    folder = write_list(tmp_path / "lists", "a.csv", ["03/04/2013", "12/25/2013"])
    write_list(folder, "b.csv", ["03/04/2013", "4/3/2013"], first=11)

    report = ingest(store, folder, "two")

    # The evidence counts in its own file only: the other school list stays day first.
    assert [(file, row) for _, file, row, *_ in rejections(report.run_id)] == [("a.csv", 2)]
    assert birth_dates("two") == {"920011070011": "2013-04-03", "920011070012": "2013-03-04"}


def test_day_first_list_stored_as_read(store: StoreHandle, tmp_path: Path) -> None:
    folder = write_list(tmp_path / "list", "ds.csv",
                        ["03/04/2013", "25/12/2013", "4/3/2013", "31/04/2013"])

    report = ingest(store, folder, "day")

    assert rejections(report.run_id) == []
    assert birth_dates("day") == {"920011070001": "2013-04-03", "920011070002": "2013-12-25",
                                  "920011070003": "2013-03-04"}


def test_rejected_row_keeps_stored_record(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, write_list(tmp_path / "first", "ds.csv", ["03/04/2013", "25/12/2013"]), "kept")

    # The same pupil with the date written month first: the record is not changed or ended.
    report = ingest(store, write_list(tmp_path / "second", "ds.csv", ["04/03/2013", "12/25/2013"]),
                    "kept")

    assert [row for _, _, row, *_ in rejections(report.run_id)] == [2]
    assert birth_dates("kept")["920011070001"] == "2013-04-03"
    assert report.counts["decisions"]["student"].get("end", 0) == 0


def test_split_date_columns_not_checked(store: StoreHandle, tmp_path: Path) -> None:
    folder = tmp_path / "split"
    folder.mkdir()
    lines = [";".join(SPLIT_HEADER)]
    for number, (day, month) in enumerate((("3", "4"), ("12", "25"), ("4", "3")), start=1):
        lines.append(";".join([str(number), *SCHOOL, "6A3", f"920011070{number:03d}",
                               f"Học Sinh {number}", day, month, "2013", "Nam"]))
    (folder / "ds.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = ingest(store, folder, "split")

    # Each part has its own column, so no value reads two ways: a month of 25 is only invalid.
    assert rejections(report.run_id) == []
    assert [row for *_, row, _c, _f, _p in rejections(report.run_id, "mapping.date_month_invalid")] == [3]
    assert birth_dates("split") == {"920011070001": "2013-04-03", "920011070003": "2013-03-04"}


def test_date_cells_not_ambiguous(store: StoreHandle, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "6A3"
    sheet.append(HEADER)
    # A date cell contains the date itself. Only the dates typed as text have an order.
    for number, birth in enumerate((datetime(2013, 4, 3), "12/25/2013", "05/06/2013"), start=1):
        sheet.append([number, *SCHOOL, "6A3", f"920011070{number:03d}", f"Học Sinh {number}",
                      birth, "Nam"])
    folder = tmp_path / "book"
    folder.mkdir()
    workbook.save(folder / "ds.xlsx")

    report = ingest(store, folder, "cells")

    assert [(file, row) for _, file, row, *_ in rejections(report.run_id)] == [("ds.xlsx", 4)]
    assert rejections(report.run_id)[0][5]["table"] == "ds.xlsx [6A3]"
    assert birth_dates("cells") == {"920011070001": "2013-04-03"}


@pytest.mark.parametrize("language, expected", [
    ("vi", ["Ngày 03/04/2013", "2013-03-04 nếu ghi tháng trước", "dòng 4 (\"12/25/2013\")",
            "dd/mm/yyyy"]),
    ("en", ["Date 03/04/2013", "2013-03-04 month first", "on 1 row", "row 4 (\"12/25/2013\")",
            "dd/mm/yyyy"]),
], ids=["vi", "en"])
def test_message_names_evidence(store: StoreHandle, tmp_path: Path, language: str,
                                expected: list[str]) -> None:
    folder = write_list(tmp_path / "list", "ds.csv", ["03/04/2013", "6/6/2013", "12/25/2013"])
    report = ingest(store, folder, "message")

    rejected = Quarantine.get((Quarantine.run == report.run_id) & (Quarantine.reason == KEY))
    message = translate(KEY, language, **json.loads(rejected.params))

    for text in expected:
        assert text in message
    assert "ds.csv" in message
    assert '"Ngày sinh"' in message


def test_unchanged_record_gets_warning(store: StoreHandle, tmp_path: Path) -> None:
    first = write_list(tmp_path / "first", "ds.csv", ["03/04/2013", "4/3/2013"])
    ingest(store, first, "again")
    # The same list again, with a month-first date added on row 4.
    second = write_list(tmp_path / "second", "ds.csv", ["03/04/2013", "4/3/2013", "12/25/2013"])

    report = ingest(store, second, "again")

    assert rejections(report.run_id) == []
    assert report.counts["decisions"]["student"]["unchanged"] == 2
    (warning,) = [n for n in report.notices if n["error"] == "ingest.date_order_unknown_unchanged"]
    params = warning["params"]
    assert (params["count"], params["rows"]) == (2, "ds.csv: 2; ds.csv: 3")
    assert (params["column"], params["evidence_row"], params["evidence_value"]) == (
        "Ngày sinh", 4, "12/25/2013")
    message = translate(warning["error"], "en", **params)
    assert "may have their day and month swapped" in message
    assert birth_dates("again")["920011070001"] == "2013-04-03"
