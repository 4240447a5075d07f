"""Identifiers that Excel or a data frame turned into numbers, through every adapter.

A CSV saved from Excel keeps a long number as the cell showed it ("7.93197E+11"), so the
last digits are gone. A float column of a data frame saves "1625191602.0". The first is
rejected with the place and what to do. The second gives its digits. Both rules cover every
identifier field: local ids, the Ministry and personal identifiers, and references. Since
school-export/student/v7 a lost personal identifier costs the pupil that number only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.i18n import translate
from gateway.ingest import service
from gateway.store.models import Quarantine, Record
from tests.support import oneroster as pkg
from tests.support.store import StoreHandle

HEADER = ("STT;Mã trường;Tên trường;Lớp;Mã học sinh;Mã định danh Bộ GD&ĐT;Họ và tên;Ngày sinh;"
          "Giới tính;Dân tộc;Trạng thái;Số định danh cá nhân")
SCHOOL = "062001;Trường Tiểu học Thử"


def stored(source: str, entity: str = "student") -> dict[str, dict[str, Any]]:
    records = Record.select().where((Record.source == source) & (Record.entity == entity))
    return {record.local_id: json.loads(record.data) for record in records}


def rejections(run_id: int) -> list[tuple[Any, ...]]:
    rows = Quarantine.select().where(Quarantine.run == run_id)
    return sorted((q.entity, q.reason, q.row, q.column, q.field) for q in rows)


def test_school_list_with_excel_numbers(store: StoreHandle, tmp_path: Path) -> None:
    lines = [
        HEADER,
        f"1;{SCHOOL};1A1;0620010001;1625191602;Hoàng Thị Thảo;29/08/2019;Nữ;Kinh;Đang học;7.93197E+10",
        f"2;{SCHOOL};1A1;6.20010E+09;6091112182;Đặng Hải Dũng;05/11/2019;Nam;Kinh;Đang học;",
        f"3;{SCHOOL};1A1;0620010003;2,29464E+09;Lê Văn An;05/01/2019;Nam;Kinh;Đang học;",
        f"4;{SCHOOL};1A1;0620010004;2294640919.0;Mai Thị Ánh;06/01/2019;Nữ;Kinh;Đang học;"
        "94319851896.0",
    ]
    folder = tmp_path / "list"
    folder.mkdir()
    (folder / "ds.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = service.ingest(store.db, store.settings, folder, "school-export", "excel-numbers")

    scientific = "mapping.identifier_scientific"
    assert rejections(report.run_id) == sorted([
        ("student", scientific, 3, "Mã học sinh", "local_id"),
        ("enrollment", scientific, 3, "Mã học sinh", "person_ref"),
        ("student", scientific, 4, "Mã định danh Bộ GD&ĐT", "ministry_id"),
        ("enrollment", "ingest.reference_rejected", 4, "Mã học sinh", "person_ref"),
    ])
    students = stored("excel-numbers")
    assert sorted(students) == ["0620010001", "0620010004"]
    assert "personal_id" not in students["0620010001"]
    assert students["0620010001"]["ministry_id"] == "1625191602"
    (dropped,) = [n for n in report.notices if n["error"] == "ingest.field_dropped"]
    assert dropped["params"]["field"] == "personal_id"
    assert dropped["params"]["problem"]["reason"] == scientific
    assert dropped["params"]["count"] == 1
    assert (students["0620010004"]["ministry_id"], students["0620010004"]["personal_id"]) == (
        "2294640919", "094319851896")
    rejected = Quarantine.get((Quarantine.run == report.run_id) & (Quarantine.row == 3)
                              & (Quarantine.entity == "student"))
    message = translate(rejected.reason, "vi", **json.loads(rejected.params))
    assert "6.20010E+09" in message
    assert "Văn bản (Text)" in message


def test_oneroster_ids_in_scientific_notation(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    tables["users"][0]["sourcedId"] = "1.23457E+11"
    tables["enrollments"][0]["userSourcedId"] = "1.23457E+11"

    report = service.ingest(store.db, store.settings, pkg.write_package(tmp_path / "p", tables),
                            "oneroster", "roster")

    scientific = "mapping.identifier_scientific"
    assert [(entity, reason, column) for entity, reason, _, column, _ in rejections(report.run_id)] == [
        ("enrollment", scientific, "userSourcedId"),
        ("student", scientific, "sourcedId"),
    ]
    assert sorted(stored("roster")) == ["u2", "u3"]


def write_list(folder: Path, codes: list[str], ministry_ids: list[str]) -> Path:
    folder.mkdir()
    lines = [HEADER]
    for number, (code, ministry_id) in enumerate(zip(codes, ministry_ids, strict=True), 1):
        lines.append(f"{number};{SCHOOL};1A1;{code};{ministry_id};Học Sinh {number};"
                     f"0{number}/01/2019;Nữ;Kinh;Đang học;")
    (folder / "ds.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def replace_in_list(folder: Path, old: str, new: str) -> None:
    path = folder / "ds.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def test_codes_without_zeros_keep_pupils(store: StoreHandle, tmp_path: Path) -> None:
    codes = ["0620010001", "0620010002", "0620010003"]
    ministry_ids = ["1625191602", "6091112182", "2294640919"]
    right = write_list(tmp_path / "a", codes, ministry_ids)
    wrong = write_list(tmp_path / "b", [code.lstrip("0") for code in codes], ministry_ids)

    def ingest(folder: Path) -> service.RunReport:
        return service.ingest(store.db, store.settings, folder, "school-export", "zeros")

    ingest(right)
    ids = {code: record.id for code, record in ((r.local_id, r) for r in Record.select().where(
        (Record.entity == "student") & (Record.source == "zeros")))}
    dropped = ingest(wrong)
    without_zeros = sorted(stored("zeros"))
    restored = ingest(right)

    assert dropped.counts["decisions"]["student"] == {"update": 3}
    assert dropped.counts["stage"]["rejected"] == {}
    warned = {n["params"]["entities"]: n["params"] for n in dropped.notices
              if n["error"] == "ingest.codes_lost_zeros"}
    assert warned["student"] == {"entities": "student", "count": 3, "old": "0620010001",
                                 "new": "620010001"}
    # The enrollment ids join the pupil code, so the enrollments are kept the same way.
    assert warned["enrollment"]["count"] == 3
    assert dropped.counts["decisions"]["enrollment"] == {"update": 3}
    assert not any(n["error"] == "ingest.codes_lost_zeros" for n in restored.notices)
    assert without_zeros == ["620010001", "620010002", "620010003"]
    assert restored.counts["decisions"]["student"] == {"update": 3}
    active = Record.select().where((Record.entity == "student") & (Record.state == "active"))
    assert {r.local_id: r.id for r in active} == ids


def test_code_without_zeros_beside_own_row_rejected(store: StoreHandle, tmp_path: Path) -> None:
    ingest = service.ingest
    ingest(store.db, store.settings, write_list(tmp_path / "a", ["0620010001"], ["1625191602"]),
           "school-export", "zeros")
    both = write_list(tmp_path / "b", ["0620010001", "620010001"], ["", "1625191602"])

    report = ingest(store.db, store.settings, both, "school-export", "zeros")

    # The ids differ only in leading zeros, so the row (and its enrollment) is rejected before
    # its Ministry id is compared with the stored record's.
    assert report.counts["stage"]["rejected"]["ingest.duplicate_local_id_zeros"] == 2
    rejected = Quarantine.get((Quarantine.reason == "ingest.duplicate_local_id_zeros")
                              & (Quarantine.entity == "student"))
    message = translate(rejected.reason, "vi", **json.loads(rejected.params))
    assert "620010001" in message
    assert "Văn bản (Text)" in message
    assert Record.get((Record.entity == "student") & (Record.local_id == "0620010001")).state == "active"


def test_other_birth_date_not_taken_over(store: StoreHandle, tmp_path: Path) -> None:
    first = write_list(tmp_path / "a", ["0620010001"], ["1625191602"])
    service.ingest(store.db, store.settings, first, "school-export", "typo")
    other = write_list(tmp_path / "b", ["0620010009"], ["1625191602"])
    replace_in_list(other, "01/01/2019", "05/05/2018")

    report = service.ingest(store.db, store.settings, other, "school-export", "typo")

    assert report.counts["stage"]["rejected"]["ingest.identifier_mismatch"] == 1
    pupil = Record.get((Record.entity == "student") & (Record.local_id == "0620010001"))
    assert pupil.state == "active"
    assert json.loads(pupil.data)["birth_date"] == "2019-01-01"


def test_school_code_without_zero_keeps_school(store: StoreHandle, tmp_path: Path) -> None:
    first = write_list(tmp_path / "a", ["0620010001"], ["1625191602"])
    service.ingest(store.db, store.settings, first, "school-export", "school-zeros")
    school = Record.get((Record.entity == "organization") & (Record.local_id == "062001")).id
    stripped = write_list(tmp_path / "b", ["0620010001"], ["1625191602"])
    replace_in_list(stripped, ";062001;", ";62001;")

    report = service.ingest(store.db, store.settings, stripped, "school-export", "school-zeros")
    restored = service.ingest(store.db, store.settings, first, "school-export", "school-zeros")

    # The school and its class take the codes without the zero, instead of a second school.
    assert report.counts["decisions"]["organization"] == {"update": 1}
    assert report.counts["decisions"]["class"] == {"update": 1}
    warned = {n["params"]["entities"]: n["params"] for n in report.notices
              if n["error"] == "ingest.codes_lost_zeros"}
    assert warned["organization"] == {"entities": "organization", "count": 1, "old": "062001",
                                      "new": "62001"}
    assert warned["class"]["old"] == "062001 1A1"
    assert restored.counts["decisions"]["organization"] == {"update": 1}
    active = Record.select().where((Record.entity == "organization") & (Record.state == "active"))
    assert [(r.id, r.local_id) for r in active] == [(school, "062001")]


def test_codes_without_zeros_and_ministry_ids_keep_pupils(store: StoreHandle,
                                                           tmp_path: Path) -> None:
    codes = ["0620010001", "0620010002", "0620010003"]
    right = write_list(tmp_path / "a", codes, ["", "", ""])
    service.ingest(store.db, store.settings, right, "school-export", "bare")
    ids = sorted(r.id for r in Record.select().where(Record.entity == "student"))
    wrong = write_list(tmp_path / "b", [codes[0], codes[1], codes[2].lstrip("0")], ["", "", ""])

    dropped = service.ingest(store.db, store.settings, wrong, "school-export", "bare")

    assert dropped.counts["decisions"]["student"] == {"unchanged": 2, "update": 1}
    assert "end" not in dropped.counts["decisions"]["enrollment"]
    assert sorted(stored("bare")) == ["0620010001", "0620010002", "620010003"]
    active = Record.select().where((Record.entity == "student") & (Record.state == "active"))
    assert sorted(r.id for r in active) == ids
    assert any(n["error"] == "ingest.codes_lost_zeros" for n in dropped.notices)


def test_codes_with_zeros_back_need_nothing(store: StoreHandle, tmp_path: Path) -> None:
    codes = ["0620010001", "0620010002"]
    right = write_list(tmp_path / "a", codes, ["", ""])
    # The first list ever sent lost a code's zero, and the next one has it.
    wrong = write_list(tmp_path / "b", [codes[0], codes[1].lstrip("0")], ["", ""])
    service.ingest(store.db, store.settings, wrong, "school-export", "back")

    restored = service.ingest(store.db, store.settings, right, "school-export", "back")

    keys = {n["error"] for n in restored.notices}
    assert "ingest.codes_lost_zeros" not in keys
    back = [n["params"] for n in restored.notices if n["error"] == "ingest.codes_zeros_restored"]
    assert {"entities": "student", "count": 1, "old": "620010002", "new": "0620010002"} in back
    assert sorted(stored("back")) == codes


def test_other_pupil_not_taken_over(store: StoreHandle, tmp_path: Path) -> None:
    first = write_list(tmp_path / "a", ["0620010001"], [""])
    service.ingest(store.db, store.settings, first, "school-export", "other")
    other = write_list(tmp_path / "b", ["620010001"], [""])
    replace_in_list(other, "01/01/2019", "05/05/2018")

    report = service.ingest(store.db, store.settings, other, "school-export", "other")

    # The birth date differs, so the row is another pupil: the stored one is not renamed.
    assert report.counts["decisions"]["student"] == {"insert": 1, "end": 1}


def test_spaced_codes_name_same_pupil(store: StoreHandle, tmp_path: Path) -> None:
    # Digits typed in groups: spaces, a no-break space, full-width digits.
    spaced = write_list(tmp_path / "a", ["0620 010 001", "0620\u00a0010\u00a0002", "０６２００１０００３"],
                        ["1625191602", "6091112182", "2294640919"])
    replace_in_list(spaced, "01/01/2019;Nữ;Kinh;Đang học;", "01/01/2019;Nữ;Kinh;Đang học;001 204 012 345")
    plain = write_list(tmp_path / "b", ["0620010001", "0620010002", "0620010003"],
                       ["1625191602", "6091112182", "2294640919"])
    replace_in_list(plain, "01/01/2019;Nữ;Kinh;Đang học;", "01/01/2019;Nữ;Kinh;Đang học;001204012345")

    first = service.ingest(store.db, store.settings, spaced, "school-export", "spaced")
    second = service.ingest(store.db, store.settings, plain, "school-export", "spaced")

    assert first.counts["stage"]["rejected"] == {}
    students = stored("spaced")
    assert sorted(students) == ["0620010001", "0620010002", "0620010003"]
    assert students["0620010001"]["personal_id"] == "001204012345"
    assert second.counts["decisions"]["student"] == {"unchanged": 3}
    assert second.counts["decisions"]["enrollment"] == {"unchanged": 3}


def test_oneroster_spaced_ids_joined_letters_kept(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=2)
    tables["users"][0]["sourcedId"] = "123 456"
    tables["enrollments"][0]["userSourcedId"] = "123456"
    tables["users"][1]["sourcedId"] = "HS 002"
    tables["enrollments"][1]["userSourcedId"] = "HS 002"

    report = service.ingest(store.db, store.settings, pkg.write_package(tmp_path / "p", tables),
                            "oneroster", "roster")

    assert report.counts["stage"]["rejected"] == {}
    assert sorted(stored("roster")) == ["123456", "HS 002"]
    people = {record["person_ref"] for record in stored("roster", "enrollment").values()}
    assert people == {"123456", "HS 002"}


@pytest.mark.parametrize("codes", [["0620010001", "620010001"], ["620010001", "0620010001"]],
                         ids=["zeros-first", "zeros-second"])
def test_code_without_zeros_in_same_list_rejected(store: StoreHandle, tmp_path: Path,
                                                  codes: list[str]) -> None:
    # Only the row whose code lost its zero carries the Ministry id.
    ministry_ids = ["" if code.startswith("0") else "1625191602" for code in codes]
    folder = write_list(tmp_path / "a", [*codes, "0620010002"], [*ministry_ids, "6091112182"])

    first = service.ingest(store.db, store.settings, folder, "school-export", "zeros")
    second = service.ingest(store.db, store.settings, folder, "school-export", "zeros")

    assert sorted(stored("zeros")) == ["0620010001", "0620010002"]
    assert first.counts["decisions"]["student"] == {"insert": 2, "seen": 1}
    assert second.counts["decisions"]["student"] == {"unchanged": 2, "seen": 1}
    for report in (first, second):
        assert report.counts["stage"]["rejected"] == {"ingest.duplicate_local_id_zeros": 2}
        shorter_row = codes.index("620010001") + 2
        assert rejections(report.run_id) == [
            ("enrollment", "ingest.duplicate_local_id_zeros", shorter_row, None, "local_id"),
            ("student", "ingest.duplicate_local_id_zeros", shorter_row, "Mã học sinh", "local_id"),
        ]
    rejected = Quarantine.get((Quarantine.run == first.run_id) & (Quarantine.entity == "student"))
    params = json.loads(rejected.params)
    assert (params["value"], params["first_local_id"]) == ("620010001", "0620010001")
    assert params["first_row"] == codes.index("0620010001") + 2
    message = translate(rejected.reason, "vi", **params)
    assert "620010001" in message
    assert "Văn bản (Text)" in message


def test_codes_differing_beyond_zeros_kept(store: StoreHandle, tmp_path: Path) -> None:
    folder = write_list(tmp_path / "a", ["620010001", "0620010011", "00620010001"],
                        ["", "", ""])
    replace_in_list(folder, ";00620010001;", ";0062001000;")

    report = service.ingest(store.db, store.settings, folder, "school-export", "zeros")

    assert report.counts["stage"]["rejected"] == {}
    assert sorted(stored("zeros")) == ["0062001000", "0620010011", "620010001"]


def school_code_rejections(run_id: int) -> list[tuple[Any, ...]]:
    rows = Quarantine.select().where((Quarantine.run == run_id)
                                     & (Quarantine.reason == "ingest.school_code_zeros"))
    return sorted((q.entity, q.row, q.column, q.field) for q in rows)


def test_school_code_without_zero_rejects_pupil(store: StoreHandle, tmp_path: Path) -> None:
    # Row 3 has the school code as a number cell gave it: "62001" for "062001".
    folder = write_list(tmp_path / "a", ["0620010001", "0620010002"], ["", ""])
    replace_in_list(folder, "2;062001;", "2;62001;")

    first = service.ingest(store.db, store.settings, folder, "school-export", "codes")
    second = service.ingest(store.db, store.settings, folder, "school-export", "codes")

    for report in (first, second):
        assert school_code_rejections(report.run_id) == [
            ("enrollment", 3, "Mã trường", "school_ref"),
            ("student", 3, "Mã trường", "school_ref"),
        ]
    assert sorted(stored("codes")) == ["0620010001"]
    schools = {json.loads(r.data)["school_ref"] for r in Record.select().where(
        (Record.source == "codes") & (Record.entity != "organization"))}
    assert schools == {"062001"}
    rejected = Quarantine.get((Quarantine.run == first.run_id) & (Quarantine.entity == "student"))
    params = json.loads(rejected.params)
    assert (params["value"], params["first_school"], params["first_row"]) == ("62001", "062001", 2)
    message = translate(rejected.reason, "vi", **params)
    assert '"62001"' in message
    assert '"062001"' in message
    assert "dòng 2" in message


def test_school_code_without_zero_no_school_name(store: StoreHandle, tmp_path: Path) -> None:
    # Without "Tên trường" no school record is made, so only the codes of the rows are compared.
    folder = write_list(tmp_path / "a", ["0620010001", "0620010002"], ["", ""])
    replace_in_list(folder, ";Tên trường;", ";")
    replace_in_list(folder, ";Trường Tiểu học Thử;", ";")
    replace_in_list(folder, "2;062001;", "2;62001;")

    report = service.ingest(store.db, store.settings, folder, "school-export", "codes")

    assert ("student", 3, "Mã trường", "school_ref") in school_code_rejections(report.run_id)
    assert sorted(stored("codes")) == ["0620010001"]


def test_pupil_of_rejected_school_row_rejected(store: StoreHandle, tmp_path: Path) -> None:
    # The only row of school 062002 has no school name, so that school is not stored.
    folder = write_list(tmp_path / "a", ["0620010001", "0620020002"], ["", ""])
    replace_in_list(folder, "2;062001;Trường Tiểu học Thử;", "2;062002;;")

    report = service.ingest(store.db, store.settings, folder, "school-export", "codes")

    assert sorted(stored("codes")) == ["0620010001"]
    rejected = Quarantine.get((Quarantine.run == report.run_id) & (Quarantine.entity == "student"))
    assert (rejected.reason, rejected.row, rejected.field) == (
        "ingest.reference_rejected", 3, "school_ref")
    params = json.loads(rejected.params)
    assert (params["value"], params["target_row"]) == ("062002", 3)


def short_ids_notice(report: service.RunReport) -> list[dict]:
    return [n["params"] for n in report.notices if n["error"] == "ingest.ids_maybe_lost_zeros"]


def test_new_short_code_warned(store: StoreHandle, tmp_path: Path) -> None:
    codes = ["0620010001", "0620010002", "0620010003", "620010004"]
    folder = write_list(tmp_path / "a", codes, ["", "", "", ""])

    report = service.ingest(store.db, store.settings, folder, "school-export", "short")

    warned = short_ids_notice(report)
    assert warned == [{"entities": "student", "count": 1, "new": "620010004",
                       "other": "0620010001"}]
    assert report.state == "succeeded"
    assert "620010004" in stored("short")


def test_short_code_among_seen_warned(store: StoreHandle, tmp_path: Path) -> None:
    codes = ["0620010001", "0620010002", "0620010003"]
    service.ingest(store.db, store.settings, write_list(tmp_path / "a", codes, ["", "", ""]),
                   "school-export", "seen")
    later = write_list(tmp_path / "b", [*codes, "620010004"], ["", "", "", ""])

    report = service.ingest(store.db, store.settings, later, "school-export", "seen")

    assert [w["new"] for w in short_ids_notice(report)] == ["620010004"]


def test_codes_without_zeros_not_warned(store: StoreHandle, tmp_path: Path) -> None:
    codes = ["620010001", "620010002", "620010003", "62001004"]
    folder = write_list(tmp_path / "a", codes, ["", "", "", ""])

    report = service.ingest(store.db, store.settings, folder, "school-export", "plain")

    assert short_ids_notice(report) == []


def test_official_codes_keep_enrollments(store: StoreHandle, tmp_path: Path) -> None:
    ministry_ids = ["1625191602", "6091112182", "2294640919"]
    temporary = write_list(tmp_path / "a", ["TAM001", "TAM002", "TAM003"], ministry_ids)
    official = write_list(tmp_path / "b", ["0620010001", "0620010002", "TAM003"], ministry_ids)
    service.ingest(store.db, store.settings, temporary, "school-export", "intake")
    enrollment_ids = sorted(r.id for r in Record.select().where(Record.entity == "enrollment"))

    report = service.ingest(store.db, store.settings, official, "school-export", "intake")

    assert report.state == "succeeded"
    assert report.counts["decisions"]["student"] == {"update": 2, "unchanged": 1}
    assert report.counts["decisions"]["enrollment"] == {"update": 2, "unchanged": 1}
    active = Record.select().where((Record.entity == "enrollment") & (Record.state == "active"))
    assert sorted(r.id for r in active) == enrollment_ids
    assert sorted(json.loads(r.data)["person_ref"] for r in active) == ["0620010001", "0620010002",
                                                                        "TAM003"]
    notices = {n["error"]: n["params"] for n in report.notices}
    assert notices["ingest.ids_rekeyed"] == {"entities": "student", "count": 2, "old": "TAM001",
                                             "new": "0620010001"}
    assert notices["ingest.ids_followed"] == {"entities": "enrollment", "count": 2}
    assert "ingest.ended_absent" not in notices
