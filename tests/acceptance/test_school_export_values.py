"""Cell values that a new user's lists hold, through the shipped mappings.

Implausible birth dates, formula text in place of a value, a "0" in a tick column and ethnic
groups written with a "Dân tộc" prefix. Each list is ingested with ``service.ingest`` on SQLite
and PostgreSQL. The tests check what is stored and what is rejected, with the column of each
rejection. All names and codes are synthetic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.ingest import service
from gateway.store.models import Quarantine, Record
from tests.support import oneroster as pkg
from tests.support.store import StoreHandle

ADAPTER = "school-export"
HEADER = "STT,Mã trường,Tên trường,Lớp,Mã học sinh,Họ và tên,Ngày sinh,Giới tính"


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\r\n".join([header, *rows]) + "\r\n", encoding="utf-8")
    return path


def stored(source: str, entity: str = "student") -> dict[str, dict[str, Any]]:
    records = Record.select().where((Record.source == source) & (Record.entity == entity)
                                    & (Record.state == "active"))
    return {record.local_id: json.loads(record.data) for record in records}


def rejected(run_id: int, entity: str = "student") -> dict[int, tuple[str, str | None]]:
    rows = Quarantine.select().where((Quarantine.run == run_id) & (Quarantine.entity == entity))
    return {q.row: (q.reason, q.column) for q in rows}


def test_implausible_birth_dates_rejected(store: StoreHandle, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "ds.csv", HEADER, [
        "1,092003,Trường THCS Thử,6A1,0920030001,Học Sinh Một,04/03/2012,Nam",
        "2,092003,Trường THCS Thử,6A1,0920030002,Học Sinh Hai,15/03/1850,Nữ",
        "3,092003,Trường THCS Thử,6A1,0920030003,Học Sinh Ba,01/01/2999,Nam",
        "4,092003,Trường THCS Thử,6A1,0920030004,Học Sinh Bốn,01/01/1900,Nam",
    ])

    report = service.ingest(store.db, store.settings, path, ADAPTER, "dates")

    assert sorted(stored("dates")) == ["0920030001", "0920030004"]
    assert rejected(report.run_id) == {
        3: ("validation.date_too_early", "Ngày sinh"),
        4: ("validation.date_too_late", "Ngày sinh"),
    }


def test_oneroster_birth_date_limits(store: StoreHandle, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(pkg.HEADERS, "demographics", ["sourcedId", "status", "birthDate", "sex"])
    tables = pkg.city(students=2)
    first, second = (user["sourcedId"] for user in tables["users"][:2])
    tables["demographics"] = [
        {"sourcedId": first, "birthDate": "2015-03-04", "sex": "female"},
        {"sourcedId": second, "birthDate": "1850-03-15", "sex": "male"},
    ]

    report = service.ingest(store.db, store.settings, pkg.write_package(tmp_path / "p", tables),
                            "oneroster", "roster")

    students = stored("roster")
    assert students[first]["birth_date"] == "2015-03-04"
    assert second not in students
    (row,) = Quarantine.select().where((Quarantine.run == report.run_id)
                                       & (Quarantine.reason == "validation.date_too_early"))
    assert (row.file, row.column, row.field) == ("demographics.csv", "birthDate", "birth_date")


def test_formula_text_rejected_quoted_code_kept(store: StoreHandle, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "ds.csv", HEADER, [
        "1,092502,Trường TH Thử,1A,=A1&B1,Học Sinh Một,01/01/2018,Nam",
        '2,092502,Trường TH Thử,1A,0925020002,"=HYPERLINK(""http://x"";""Bấm"")",01/01/2018,Nam',
        '3,092502,Trường TH Thử,1A,"=""0925020003""",Học Sinh Ba,01/01/2018,Nam',
    ])

    report = service.ingest(store.db, store.settings, path, ADAPTER, "formulas")

    assert sorted(stored("formulas")) == ["0925020003"]
    assert rejected(report.run_id) == {
        2: ("mapping.formula_text", "Mã học sinh"),
        3: ("mapping.formula_text", "Họ và tên"),
    }


def test_tick_column_zero_reads_unmarked(store: StoreHandle, tmp_path: Path) -> None:
    header = "STT,Mã trường,Tên trường,Lớp,Mã học sinh,Họ và tên,Ngày sinh,Nữ"
    path = write_csv(tmp_path / "ds.csv", header, [
        "1,092003,Trường THCS Thử,6A2,0920030009,Học Sinh Chín,09/09/2012,0",
        "2,092003,Trường THCS Thử,6A2,0920030010,Học Sinh Mười,10/10/2012,x",
        "3,092003,Trường THCS Thử,6A2,0920030011,Học Sinh Mười Một,11/10/2012,K",
    ])

    report = service.ingest(store.db, store.settings, path, ADAPTER, "ticks")

    assert rejected(report.run_id) == {}
    students = stored("ticks")
    assert students["0920030009"]["gender"] == "male"
    assert students["0920030010"]["gender"] == "female"
    assert students["0920030011"]["gender"] == "male"


def test_ethnic_group_spellings(store: StoreHandle, tmp_path: Path) -> None:
    header = "STT,Mã trường,Tên trường,Lớp,Mã học sinh,Họ và tên,Ngày sinh,Giới tính,Dân tộc"
    values = ["Dân tộc Kinh", "dân tộc Tày", "Người nước ngoài", "01", "Mèo"]
    path = write_csv(tmp_path / "ds.csv", header, [
        f"{n},092701,Trường TH Thử,2A,09270100{n:02d},Học Sinh {n},01/01/2017,Nam,{value}"
        for n, value in enumerate(values, 1)
    ])

    report = service.ingest(store.db, store.settings, path, ADAPTER, "ethnic")

    students = stored("ethnic")
    assert students["0927010001"]["ethnicity_code"] == "01"
    assert students["0927010002"]["ethnicity_code"] == "02"
    assert "ethnicity_code" not in students["0927010003"]
    # A code number or an unknown name costs the pupil the ethnic group only (student v7).
    assert rejected(report.run_id) == {}
    assert "ethnicity_code" not in students["0927010004"]
    assert "ethnicity_code" not in students["0927010005"]
    reasons = sorted((n["params"]["problem"]["reason"], n["params"]["column"], n["params"]["count"])
                     for n in report.notices if n["error"] == "ingest.field_dropped")
    assert reasons == [("mapping.code_number_not_name", "Dân tộc", 1),
                       ("mapping.code_unknown", "Dân tộc", 1)]
