"""A school's own list, which names the school only in a title row, with ``--school``.

vnEdu and SMAS export one school's pupils under a title row ("TRƯỜNG TH AN BÌNH")
and give no "Mã trường" column. ``gateway ingest --school CODE --school-name NAME``
gives those columns to every row; each test runs on SQLite and PostgreSQL.
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

from adapters.base import SourceRow, Stream
from gateway.ingest import service
from gateway.ingest.given import Differing, with_given_columns
from gateway.store.models import Record
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
