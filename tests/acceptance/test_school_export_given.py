"""A school's own list, which names the school only in a title row, with ``--school``.

vnEdu and SMAS export one school's pupils under a title row ("TRƯỜNG TH AN BÌNH")
and give no "Mã trường" column. ``gateway ingest --school CODE --school-name NAME``
gives those columns to every row of a table whose title names no other school;
each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from adapters.base import TITLE_SCHOOL, SourceRow, Stream
from gateway.ingest import service
from gateway.ingest.given import Differing, TitleCheck, TitleSchoolError, with_given_columns
from gateway.store.models import Quarantine, Record
from tests.acceptance.test_school_export_messy import write_workbook
from tests.cli.test_cli import home, run  # noqa: F401 (fixture)
from tests.support.store import StoreHandle

ADAPTER = "school-export"
HEADER = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Giới tính"]
GIVEN = {"Mã trường": "0930010", "Tên trường": "Trường Tiểu học An Bình"}


def title_list(path: Path, pupils: int, school_cells: list[str] | None = None) -> Path:
    """Write a vendor-style list: titles, a class label, a header without the school columns."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "3A"
    sheet.append(["TRƯỜNG TH AN BÌNH"])
    sheet.append(["DANH SÁCH HỌC SINH"])
    sheet.append(["Lớp: 3A"])
    sheet.append(HEADER + (["Mã trường"] if school_cells is not None else []))
    for n in range(1, pupils + 1):
        row: list[object] = [n, f"093001{n:04d}", f"Học Sinh Số {n}", "01/01/2017", "Nam"]
        if school_cells is not None:
            row.append(school_cells[n - 1])
        sheet.append(row)
    workbook.save(path)
    return path


def active(source: str, entity: str) -> dict[str, dict[str, Any]]:
    records = Record.select().where((Record.source == source) & (Record.entity == entity)
                                    & (Record.state == "active"))
    return {record.local_id: json.loads(record.data) for record in records}


def test_title_list_read_with_school(
        store: StoreHandle, tmp_path: Path) -> None:
    path = title_list(tmp_path / "3a.xlsx", 3)

    report = service.ingest(store.db, store.settings, path, ADAPTER, "an-binh", given=GIVEN)

    assert report.state == "succeeded"
    assert report.file_errors == 0
    assert [n for n in report.notices if n["level"] == "error"] == []
    assert active("an-binh", "organization")["0930010"]["name"] == "Trường Tiểu học An Bình"
    students = active("an-binh", "student")
    assert sorted(students) == ["0930010001", "0930010002", "0930010003"]
    assert {s["school_ref"] for s in students.values()} == {"0930010"}
    assert sorted(active("an-binh", "class")) == ["0930010 3A"]
    assert len(active("an-binh", "enrollment")) == 3


def test_given_school_ends_a_pupil_who_left(store: StoreHandle, tmp_path: Path) -> None:
    service.ingest(store.db, store.settings, title_list(tmp_path / "a.xlsx", 3), ADAPTER,
                   "an-binh", given=GIVEN)

    report = service.ingest(store.db, store.settings, title_list(tmp_path / "b.xlsx", 2),
                            ADAPTER, "an-binh", given=GIVEN)

    assert report.state == "succeeded"
    assert sorted(active("an-binh", "student")) == ["0930010001", "0930010002"]
    ended = Record.get((Record.source == "an-binh") & (Record.local_id == "0930010003"))
    assert ended.state == "ended"


def test_empty_school_cells_filled(
        store: StoreHandle, tmp_path: Path) -> None:
    path = title_list(tmp_path / "3a.xlsx", 3, school_cells=["", "0930010", "0930020"])

    report = service.ingest(store.db, store.settings, path, ADAPTER, "an-binh", given=GIVEN)

    students = active("an-binh", "student")
    assert students["0930010001"]["school_ref"] == "0930010"
    assert students["0930010003"]["school_ref"] == "0930020"
    differs = [n for n in report.notices if n["error"] == "ingest.given_column_differs"]
    assert len(differs) == 1
    assert differs[0]["params"] == {"column": "Mã trường", "value": "0930010", "count": 1}
    assert differs[0]["place"]["row"] == 7


def test_given_columns_fill_short_and_long_rows() -> None:
    rows = iter([SourceRow(2, ["1"]), SourceRow(3, ["1", "2", "3", "extra"]), SourceRow(4, None)])
    stream = Stream(name="table", file="a.csv", headers=["A", "B", "C"], rows=rows)

    given = with_given_columns(stream, {"Mã trường": "1"}, Differing())

    assert given.headers == ["A", "B", "C", "Mã trường"]
    assert [row.cells for row in given.rows] == [["1", "", "", "1"], ["1", "2", "3", "1"], None]


def test_given_columns_rejected_without_own_code() -> None:
    rows = iter([SourceRow(2, ["1", ""]), SourceRow(3, ["2", "0930020"]), SourceRow(4, None)])
    stream = Stream(name="table", file="a.csv", headers=["A", "Mã trường"], rows=rows,
                    properties={TITLE_SCHOOL: "TRƯỜNG THCS AN BÌNH"})
    rejection = TitleCheck(GIVEN, ("Mã trường", "Tên trường")).rejection(stream)

    given = with_given_columns(stream, GIVEN, Differing(), rejection)
    read = list(given.rows)

    assert given.headers == ["A", "Mã trường", "Tên trường"]
    assert isinstance(read[0].error, TitleSchoolError)
    assert read[0].error.params["title"] == "TRƯỜNG THCS AN BÌNH"
    assert read[0].cells == ["1", ""]
    assert read[1].error is None
    assert read[1].cells == ["2", "0930020", ""]
    assert read[2].cells is None
    assert read[2].error is None


@pytest.mark.parametrize(("arguments", "message"), [
    (["--adapter", "oneroster", "--school", "0930010"], "oneroster"),
    (["--adapter", "school-export", "--school-name", "X"], "--school"),
])
def test_school_options_refused(tmp_path: Path, arguments: list[str], message: str) -> None:
    path = title_list(tmp_path / "3a.xlsx", 1)

    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environment["GATEWAY_HOME"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-m", "gateway", "--lang", "en", "ingest", str(path),
                             *arguments], capture_output=True, text=True, env=environment,
                            timeout=120, check=False)

    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr


def test_list_without_school_column_names_the_option(store: StoreHandle, tmp_path: Path) -> None:
    report = service.ingest(store.db, store.settings, title_list(tmp_path / "3a.xlsx", 1),
                            ADAPTER, "no-option")

    missing = [n for n in report.notices if n["error"] == "ingest.columns_missing_school"]
    assert missing and all(n["level"] == "error" for n in missing)
    assert active("no-option", "student") == {}


# The school named in a title row -------------------------------------------------------------

OTHER_TITLE = "Trường: THCS Nguyễn Du"


def sheet_rows(title: str | None, first: int, pupils: int) -> list[list[object]]:
    """Return a class sheet's rows: an optional title, a label, the header and the pupils."""
    rows: list[list[object]] = [[title]] if title else []
    rows += [["DANH SÁCH HỌC SINH"], HEADER]
    rows += [[n, f"093001{n:04d}", f"Học Sinh Số {n}", "01/01/2017", "Nam"]
             for n in range(first, first + pupils)]
    return rows


def two_schools(path: Path, third: str | None = None) -> Path:
    """Write sheet 3A of An Bình (2 pupils), 6A of Nguyễn Du (3) and, if given, 3B titled ``third``."""
    sheets = {"3A": sheet_rows("TRƯỜNG TH AN BÌNH", 1, 2), "6A": sheet_rows(OTHER_TITLE, 11, 3)}
    if third is not None:
        sheets["3B"] = sheet_rows(third, 21, 1)
    return write_workbook(path, sheets)


def quarantined(run_id: int) -> list[Quarantine]:
    return list(Quarantine.select().where(Quarantine.run == run_id)
                .order_by(Quarantine.sheet, Quarantine.row))


def test_sheet_of_other_school_rejected(store: StoreHandle, tmp_path: Path) -> None:
    path = two_schools(tmp_path / "two.xlsx")

    report = service.ingest(store.db, store.settings, path, ADAPTER, "an-binh", given=GIVEN)

    assert report.state == "succeeded"
    assert report.counts["stage"]["rows_read"] == {"table": 5}
    assert report.counts["stage"]["rejected"] == {"ingest.title_school_differs": 3}
    assert sorted(active("an-binh", "student")) == ["0930010001", "0930010002"]
    assert sorted(active("an-binh", "class")) == ["0930010 3A"]
    assert list(active("an-binh", "organization")) == ["0930010"]
    rejected = quarantined(report.run_id)
    assert [(row.file, row.sheet, row.row) for row in rejected] == [
        ("two.xlsx", "6A", 4), ("two.xlsx", "6A", 5), ("two.xlsx", "6A", 6)]
    # The report labels the row with every entity that its table feeds.
    assert json.loads(rejected[0].params) == {
        "table": "two.xlsx [6A]", "title": "THCS Nguyễn Du", "name": "Trường Tiểu học An Bình",
        "code": "0930010", "row_entities": ["class", "enrollment", "organization", "student"]}
    # The row is kept as read: the given school is not among its cells.
    cells = json.loads(rejected[0].cells)
    assert cells["Mã học sinh"] == "0930010011"
    assert "Mã trường" not in cells


def test_csv_titled_other_school_rejected(store: StoreHandle, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    lines = ["TRƯỜNG THCS NGUYỄN DU,,,,", "DANH SÁCH HỌC SINH,,,,", ",".join(HEADER),
             "1,0930010001,Học Sinh Số 1,01/01/2017,Nam", "2,0930010002,Học Sinh Số 2,01/01/2017,Nữ"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = service.ingest(store.db, store.settings, path, ADAPTER, "an-binh", given=GIVEN)

    assert report.counts["stage"]["rejected"] == {"ingest.title_school_differs": 2}
    assert active("an-binh", "student") == {}
    assert active("an-binh", "organization") == {}
    assert [row.row for row in quarantined(report.run_id)] == [4, 5]
    assert json.loads(quarantined(report.run_id)[0].params)["title"] == "TRƯỜNG THCS NGUYỄN DU"


def test_same_school_sheets_without_name_stored(store: StoreHandle, tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "an-binh.xlsx", {
        "3A": sheet_rows("TRƯỜNG TH AN BÌNH", 1, 2),
        "3B": sheet_rows("Trường Tiểu học An Bình", 11, 1),
        "3C": sheet_rows(None, 21, 1),
    })

    report = service.ingest(store.db, store.settings, path, ADAPTER, "an-binh",
                            given={"Mã trường": "0930010"})

    # Without --school-name a titled sheet takes the school's name from its title.
    rejected = report.counts["stage"]["rejected"]
    assert [key for key in rejected if key.startswith("ingest.title")] == []
    assert sorted(active("an-binh", "student")) == [
        "0930010001", "0930010002", "0930010011", "0930010021"]
    assert active("an-binh", "organization")["0930010"]["name"] == "TRƯỜNG TH AN BÌNH"
    assert sorted(active("an-binh", "class")) == ["0930010 3A", "0930010 3B", "0930010 3C"]


def test_two_schools_without_name_rejected(store: StoreHandle, tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "two.xlsx", {
        "3A": sheet_rows("TRƯỜNG TH AN BÌNH", 1, 2),
        "6A": sheet_rows(OTHER_TITLE, 11, 3),
        "3C": sheet_rows(None, 21, 1),
    })

    report = service.ingest(store.db, store.settings, path, ADAPTER, "an-binh",
                            given={"Mã trường": "0930010"})

    assert report.counts["stage"]["rejected"]["ingest.title_schools_differ"] == 5
    # The sheet whose title names no school takes the given one.
    assert list(active("an-binh", "student")) == ["0930010021"]
    rejected = [row for row in quarantined(report.run_id)
                if row.reason == "ingest.title_schools_differ"]
    assert [row.sheet for row in rejected] == ["3A", "3A", "6A", "6A", "6A"]
    params = json.loads(rejected[0].params)
    assert params == {
        "table": "two.xlsx [3A]", "code": "0930010",
        "schools": '"TRƯỜNG TH AN BÌNH" (two.xlsx [3A]); "THCS Nguyễn Du" (two.xlsx [6A])',
        # Without --school-name the organization mapping lacks "Tên trường" and reads nothing.
        "row_entities": ["class", "enrollment", "student"]}


def test_rejected_sheet_ends_no_record(store: StoreHandle, tmp_path: Path) -> None:
    service.ingest(store.db, store.settings, title_list(tmp_path / "a.xlsx", 3), ADAPTER,
                   "an-binh", given=GIVEN)
    # Pupils 2 and 3 come under a title that names another school, "An Bình 2".
    path = write_workbook(tmp_path / "b.xlsx", {"3A": sheet_rows("TRƯỜNG TH AN BÌNH", 1, 1),
                                          "3B": sheet_rows("TRƯỜNG TH AN BÌNH 2", 2, 2)})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "an-binh", given=GIVEN)

    assert report.counts["stage"]["rejected"] == {"ingest.title_school_differs": 2}
    assert "ingest.absent_not_ended_title" in [notice["error"] for notice in report.notices]
    assert sorted(active("an-binh", "student")) == ["0930010001", "0930010002", "0930010003"]


def test_two_school_workbook_through_cli(home: Path, tmp_path: Path) -> None:  # noqa: F811
    path = two_schools(tmp_path / "two.xlsx")
    arguments = ["ingest", str(path), "--adapter", "school-export", "--source", "an-binh",
                 "--school", "0930010"]

    named = json.loads(run(home, "--json", *arguments, "--school-name", "TH An Bình").stdout)
    # Without --school-name the organization mapping lacks "Tên trường", a file error (exit 4).
    unnamed = run(home, "--lang", "en", *arguments, expect=4).stdout

    assert named["state"] == "succeeded"
    assert named["counts"]["stage"]["rejected"] == {"ingest.title_school_differs": 3}
    assert named["counts"]["decisions"]["student"] == {"insert": 2}
    assert named["rejected_by_reason"][0]["examples"][0]["sheet"] == "6A"
    assert "Rows rejected: 5" in unnamed
    assert 'The titles of the input name different schools: "TRƯỜNG TH AN BÌNH"' in unnamed
    assert "Give --school-name" in unnamed


def test_own_school_kept_in_rejected_sheet(store: StoreHandle, tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "6a.xlsx", {"6A": [
        [OTHER_TITLE], [*HEADER, "Mã trường", "Tên trường"],
        [1, "0930020001", "Học Sinh Số 1", "01/01/2014", "Nam", "0930020", "THCS Nguyễn Du"],
        [2, "0930020002", "Học Sinh Số 2", "01/01/2014", "Nam", "", ""],
    ]})

    report = service.ingest(store.db, store.settings, path, ADAPTER, "an-binh", given=GIVEN)

    assert report.counts["stage"]["rejected"] == {"ingest.title_school_differs": 1}
    assert list(active("an-binh", "student")) == ["0930020001"]
    assert active("an-binh", "student")["0930020001"]["school_ref"] == "0930020"
    assert active("an-binh", "organization")["0930020"]["name"] == "THCS Nguyễn Du"
    assert [row.row for row in quarantined(report.run_id)] == [4]
