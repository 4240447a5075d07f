"""Optional pupil fields that cannot be read cost the pupil that field only (school-export/student/v7).

The personal identification number, the ethnic group and the gender are dropped with a warning
(``ingest.field_dropped``) instead of rejecting the row. A dropped personal number is absent for
identity matching: it neither links nor conflicts. A lone "Nam" column ticked for boys is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.errors import row_label
from gateway.ingest import service
from gateway.store.models import Alias, Quarantine, Record
from tests.support.store import StoreHandle

HEADER = ("STT;Mã trường;Tên trường;Lớp;Mã học sinh;Mã định danh Bộ GD&ĐT;Họ và tên;Ngày sinh;"
          "Giới tính;Dân tộc;Trạng thái;Số định danh cá nhân")
SCHOOL = "062001;Trường Tiểu học Thử"
GOOD_PERSONAL_ID = "092214000123"


def write_list(folder: Path, lines: list[str], header: str = HEADER) -> Path:
    folder.mkdir()
    (folder / "ds.csv").write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return folder


def pupil_line(number: int, *, personal_id: str = "", ethnic_group: str = "Kinh", gender: str = "Nam",
               ministry_id: str | None = None, name: str = "Lê Văn An") -> str:
    ministry = f"22946409{number:02d}" if ministry_id is None else ministry_id
    return (f"{number};{SCHOOL};1A1;HS{number:02d};{ministry};{name};0{number}/01/2019;{gender};"
            f"{ethnic_group};Đang học;{personal_id}")


def stored(source: str) -> dict[str, dict[str, Any]]:
    records = Record.select().where((Record.source == source) & (Record.entity == "student"))
    return {record.local_id: json.loads(record.data) for record in records}


def dropped_warnings(report: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """Return the params of each ``ingest.field_dropped`` warning by (field, reason)."""
    return {(n["params"]["field"], n["params"]["problem"]["reason"]): n["params"]
            for n in report.notices if n["error"] == "ingest.field_dropped"}


def student_rejections(run_id: int) -> list[tuple[Any, ...]]:
    rows = Quarantine.select().where((Quarantine.run == run_id) & (Quarantine.entity == "student"))
    return sorted((q.row, q.reason, q.field) for q in rows)


def test_bad_optional_fields_drop_only_field(store: StoreHandle, tmp_path: Path) -> None:
    lines = [
        pupil_line(1, personal_id=GOOD_PERSONAL_ID),
        pupil_line(2, personal_id="361234567"),  # an old 9-digit identity card number
        pupil_line(3, personal_id="0922140001234"),  # 13 digits
        pupil_line(4, ethnic_group="1"),  # a code number of an unknown numbering
        pupil_line(5, gender="x"),
    ]

    report = service.ingest(store.db, store.settings, write_list(tmp_path / "a", lines),
                            "school-export", "optional")

    assert student_rejections(report.run_id) == []
    students = stored("optional")
    assert sorted(students) == ["HS01", "HS02", "HS03", "HS04", "HS05"]
    assert students["HS01"]["personal_id"] == GOOD_PERSONAL_ID
    for local_id, field in (("HS02", "personal_id"), ("HS03", "personal_id"),
                            ("HS04", "ethnicity_code"), ("HS05", "gender")):
        assert field not in students[local_id]
    for number, local_id in enumerate(sorted(students), start=1):
        record = students[local_id]
        assert record["ministry_id"] == f"22946409{number:02d}"
        assert record["birth_date"] == f"2019-01-0{number}"
        assert record["full_name"] == "Lê Văn An"
        assert record["grade"] == "1"
        assert record["learner_status"] == students["HS01"]["learner_status"]
    assert students["HS02"]["ethnicity_code"] == "01"
    assert students["HS02"]["gender"] == "male"
    assert report.counts["stage"]["dropped"] == {"student.personal_id": 2, "student.ethnicity_code": 1,
                                                 "student.gender": 1}


def test_dropped_fields_warned_with_rows(store: StoreHandle, tmp_path: Path) -> None:
    lines = [pupil_line(1, personal_id="361234567"), pupil_line(2, personal_id="0922140001234"),
             pupil_line(3, ethnic_group="1"), pupil_line(4, gender="x"), pupil_line(5)]

    report = service.ingest(store.db, store.settings, write_list(tmp_path / "a", lines),
                            "school-export", "optional")

    warnings = dropped_warnings(report)
    assert sorted(warnings) == [
        ("ethnicity_code", "mapping.code_number_not_name"),
        ("gender", "mapping.code_not_accepted"),
        ("personal_id", "mapping.pad_left_too_long"),
        ("personal_id", "mapping.pad_left_too_short"),
    ]
    expected = {("personal_id", "mapping.pad_left_too_short"): (2, "Số định danh cá nhân"),
                ("personal_id", "mapping.pad_left_too_long"): (3, "Số định danh cá nhân"),
                ("ethnicity_code", "mapping.code_number_not_name"): (4, "Dân tộc"),
                ("gender", "mapping.code_not_accepted"): (5, "Giới tính")}
    for key, (row, column) in expected.items():
        assert warnings[key]["count"] == 1
        assert warnings[key]["column"] == column
        assert warnings[key]["rows"] == row_label("ds.csv", None, row)


def test_lone_male_column_read(store: StoreHandle, tmp_path: Path) -> None:
    header = HEADER.replace("Giới tính", "Nam")
    lines = [pupil_line(1, gender="x"), pupil_line(2, gender=""), pupil_line(3, gender="Nam"),
             pupil_line(4, gender="Nữ")]

    report = service.ingest(store.db, store.settings, write_list(tmp_path / "a", lines, header),
                            "school-export", "boys")

    students = stored("boys")
    assert sorted(students) == ["HS01", "HS02", "HS03", "HS04"]
    assert [students[f"HS0{n}"].get("gender") for n in (1, 2, 3, 4)] == ["male", "female", "male", None]
    # "Nữ" typed in the "Nam" column is neither a tick nor an empty cell: the gender is dropped.
    assert sorted(dropped_warnings(report)) == [("gender", "mapping.flag_other_word")]
    assert student_rejections(report.run_id) == []


def test_male_and_female_ticked_drops_gender(store: StoreHandle, tmp_path: Path) -> None:
    header = HEADER.replace("Giới tính", "Nam;Nữ")
    lines = [pupil_line(1, gender="x;"), pupil_line(2, gender=";x"), pupil_line(3, gender="x;x")]

    report = service.ingest(store.db, store.settings, write_list(tmp_path / "a", lines, header),
                            "school-export", "pair")

    students = stored("pair")
    assert [students[f"HS0{n}"].get("gender") for n in (1, 2, 3)] == ["male", "female", None]
    assert sorted(dropped_warnings(report)) == [("gender", "mapping.ticks_several")]


# -- identity ------------------------------------------------------------------------------------


def ingest_pupil(store: StoreHandle, folder: Path, line: str, source: str) -> Any:
    """Ingest a list of one pupil ``line`` into ``source``; return the run's report."""
    return service.ingest(store.db, store.settings, write_list(folder, [line]), "school-export", source)


def test_dropped_number_links_by_ministry_id(store: StoreHandle, tmp_path: Path) -> None:
    ingest_pupil(store, tmp_path / "a", pupil_line(1, personal_id=GOOD_PERSONAL_ID), "product-a")

    report = ingest_pupil(store, tmp_path / "b", pupil_line(1, personal_id="361234567"), "product-b")

    assert report.counts["decisions"]["student"].get("alias") == 1
    assert student_rejections(report.run_id) == []
    assert Record.select().where(Record.entity == "student").count() == 1
    assert stored("product-a")["HS01"]["personal_id"] == GOOD_PERSONAL_ID


def test_dropped_number_matches_nothing(store: StoreHandle, tmp_path: Path) -> None:
    """A 9-digit number is not padded, so it cannot take the record whose number it would become."""
    ingest_pupil(store, tmp_path / "a", pupil_line(1, personal_id="000361234567"), "product-a")
    other = pupil_line(1, personal_id="361234567", ministry_id="", name="Trần Thị Bình")

    report = ingest_pupil(store, tmp_path / "b", other, "product-b")

    assert report.counts["decisions"]["student"].get("insert") == 1
    assert stored("product-a")["HS01"]["full_name"] == "Lê Văn An"
    assert stored("product-b")["HS01"]["full_name"] == "Trần Thị Bình"
    assert "personal_id" not in stored("product-b")["HS01"]
    values = [a.value for a in Alias.select().where(Alias.namespace == "personal_id")]
    assert values == ["000361234567"]


def test_same_dropped_number_is_no_duplicate(store: StoreHandle, tmp_path: Path) -> None:
    lines = [pupil_line(1, personal_id="361234567"), pupil_line(2, personal_id="361234567")]

    report = service.ingest(store.db, store.settings, write_list(tmp_path / "a", lines),
                            "school-export", "optional")

    assert student_rejections(report.run_id) == []
    assert sorted(stored("optional")) == ["HS01", "HS02"]
    assert dropped_warnings(report)[("personal_id", "mapping.pad_left_too_short")]["count"] == 2


def test_dropped_number_keeps_same_record(store: StoreHandle, tmp_path: Path) -> None:
    ingest_pupil(store, tmp_path / "a", pupil_line(1, personal_id=GOOD_PERSONAL_ID), "optional")

    report = ingest_pupil(store, tmp_path / "b", pupil_line(1, personal_id="361234567"), "optional")

    assert student_rejections(report.run_id) == []
    assert report.counts["decisions"]["student"].get("conflict", 0) == 0
    assert report.counts["decisions"]["student"].get("insert", 0) == 0
    assert Record.select().where(Record.entity == "student").count() == 1


def test_fixed_number_keeps_second_record(store: StoreHandle, tmp_path: Path) -> None:
    """A pupil stored without its number stays apart from another source's record of the pupil.

    The known limit of dropping the personal number: the fixed number is stored on the record,
    but the row is found by its local id, so it is not linked to the other source's record.
    """
    ingest_pupil(store, tmp_path / "a", pupil_line(1, personal_id=GOOD_PERSONAL_ID), "product-a")
    ingest_pupil(store, tmp_path / "b", pupil_line(1, personal_id="361234567", ministry_id=""),
                 "product-b")

    report = ingest_pupil(store, tmp_path / "c", pupil_line(1, personal_id=GOOD_PERSONAL_ID, ministry_id=""),
                          "product-b")

    assert report.counts["decisions"]["student"] == {"update": 1}
    assert stored("product-b")["HS01"]["personal_id"] == GOOD_PERSONAL_ID
    assert Record.select().where(Record.entity == "student").count() == 2
    owners = [a.record_id for a in Alias.select().where(Alias.namespace == "personal_id")]
    assert len(owners) == 1
