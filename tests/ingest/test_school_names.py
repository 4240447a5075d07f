"""Two school codes with one school name in a run: a warning naming both, nothing rejected."""

from __future__ import annotations

from pathlib import Path

from gateway.i18n import translate
from gateway.ingest import service
from tests.support.store import StoreHandle

HEADER = "Mã trường,Tên trường,Mã học sinh,Họ và tên,Ngày sinh,Lớp"


def write_list(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def warnings(report: service.RunReport, key: str) -> list[dict]:
    return [notice for notice in report.notices if notice["error"] == key]


def test_mistyped_code_of_same_school_warned(store: StoreHandle, tmp_path: Path) -> None:
    path = write_list(tmp_path / "ds.csv", [
        "0620010,Trường THCS Mỹ Hòa,0620010001,Lê Văn An,01/02/2013,7A3",
        "062001,Trường THCS Mỹ Hoà,0620010002,Trần Thị Bình,02/03/2013,7A3",
        "0930010,Trường TH An Bình,0930010001,Ngô Văn Cường,03/04/2016,3A",
    ])

    report = service.ingest(store.db, store.settings, path, "school-export", "ds")

    # Both codes are stored: two schools may share a name.
    assert report.counts["decisions"]["organization"]["insert"] == 3
    (warning,) = warnings(report, "ingest.school_name_two_codes")
    assert warning["level"] == "warning"
    assert warning["params"]["count"] == 1
    assert warning["params"]["schools"] == (
        '"Trường THCS Mỹ Hòa": 062001 (ds.csv: 3), 0620010 (ds.csv: 2)')
    message = translate(warning["error"], lang="vi", **warning["params"])
    assert "062001 (ds.csv: 3), 0620010 (ds.csv: 2)" in message

    # A second run gives the same rows unchanged: the stored schools are still compared.
    again = service.ingest(store.db, store.settings, path, "school-export", "ds")
    assert len(warnings(again, "ingest.school_name_two_codes")) == 1


def test_different_names_not_warned(store: StoreHandle, tmp_path: Path) -> None:
    path = write_list(tmp_path / "ds.csv", [
        "0620010,Trường THCS Mỹ Hòa,0620010001,Lê Văn An,01/02/2013,7A3",
        "0930010,Trường TH An Bình,0930010001,Ngô Văn Cường,03/04/2016,3A",
    ])

    report = service.ingest(store.db, store.settings, path, "school-export", "ds")

    assert warnings(report, "ingest.school_name_two_codes") == []
