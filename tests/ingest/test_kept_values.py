"""Stored values that a row could not read are kept, on SQLite and PostgreSQL.

A pupil list whose address a row cannot use (``on_error: drop``), or whose optional cell contains
a formula that was never calculated, must not erase what the stored record has. Every list
here is synthetic: made-up pupils of a made-up school.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.i18n import translate
from gateway.ingest import service
from gateway.ingest.kept import FORMULA_REASON, keep_stored
from gateway.store.models import ChangeEvent, Record
from tests.acceptance.test_school_export_formulas import write_workbook as write_formula_workbook
from tests.ingest.test_schema_migration import (
    old_address,
    store_at_v1,
    units,  # noqa: F401 (fixture)
)
from tests.support.store import StoreHandle

pytest.importorskip("vietnam_provinces", reason="the commune list is built from vietnam-provinces")

ADAPTER = "school-export"
SOURCE = "lists"
HEADER = ["STT", "Mã trường", "Tên trường", "Lớp", "Mã học sinh", "Họ và tên", "Ngày sinh",
          "Giới tính", "Số nhà, đường", "Phường/Xã", "Tỉnh/TP"]
GOOD = {"Số nhà, đường": "12 Đường Thử", "Phường/Xã": "Phường Ninh Kiều",
        "Tỉnh/TP": "Thành phố Cần Thơ"}
# Hậu Giang is a province from before the 1 July 2025 reform: the whole address is dropped.
FORMER = {"Số nhà, đường": "5 Đường Cũ", "Phường/Xã": "Phường Ninh Kiều", "Tỉnh/TP": "Hậu Giang"}


def pupil(number: int, address: dict[str, str], **cells: str) -> list[str]:
    row = {"STT": str(number), "Mã trường": "099001", "Tên trường": "Trường Thử",
           "Lớp": "6A1", "Mã học sinh": f"099001{number:04d}",
           "Họ và tên": f"Học Sinh Thử {number}", "Ngày sinh": f"{number:02d}/09/2013",
           "Giới tính": "Nam", **address, **cells}
    return [row[name] for name in HEADER]


def write_list(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def ingest(store: StoreHandle, path: Path) -> service.RunReport:
    return service.ingest(store.db, store.settings, path, ADAPTER, SOURCE)


def students() -> dict[str, dict[str, Any]]:
    records = Record.select().where((Record.entity == "student") & (Record.state == "active"))
    return {record.local_id: json.loads(record.data) for record in records}


def student_events(run_id: int) -> list[ChangeEvent]:
    return list(ChangeEvent.select().where((ChangeEvent.run_id == run_id)
                                           & (ChangeEvent.entity == "student")))


def dropped_notice(report: service.RunReport) -> dict[str, Any]:
    (notice,) = [n for n in report.notices if n["error"] == "ingest.field_dropped"]
    return notice


def stored_address() -> dict[str, str]:
    return students()["0990010001"]["address"]


# -- copying stored values ------------------------------------------------------------


def test_keep_stored_copies_object() -> None:
    record = {"local_id": "1", "full_name": "Mới"}
    stored = {"local_id": "1", "full_name": "Cũ", "address": {"province_code": "92"}}

    copied = keep_stored(record, stored, {"address": "mapping.province_2025_former"})

    assert copied == ["address"]
    assert record == {"local_id": "1", "full_name": "Mới", "address": {"province_code": "92"}}
    assert record["address"] is not stored["address"]


def test_keep_stored_field_inside_new_object() -> None:
    record: dict[str, Any] = {"local_id": "1"}
    stored = {"address": {"detail": "12 Đường Thử", "province_code": "92"}}

    copied = keep_stored(record, stored, {"address.detail": FORMULA_REASON})

    assert copied == ["address.detail"]
    assert record == {"local_id": "1", "address": {"detail": "12 Đường Thử"}}


def test_keep_stored_without_stored_value() -> None:
    record = {"local_id": "1", "address": {"province_code": "92"}}

    copied = keep_stored(record, {"local_id": "1"}, {"address.detail": FORMULA_REASON,
                                                     "birth_date": FORMULA_REASON})

    assert copied == []
    assert record == {"local_id": "1", "address": {"province_code": "92"}}


# -- on_error: drop -------------------------------------------------------------------


def test_first_load_without_address(store: StoreHandle, tmp_path: Path) -> None:
    report = ingest(store, write_list(tmp_path / "ds.csv", [pupil(1, FORMER), pupil(2, GOOD)]))

    stored = students()
    assert "address" not in stored["0990010001"]
    assert stored["0990010002"]["address"]["province_code"] == "92"
    notice = dropped_notice(report)
    assert (notice["params"]["count"], notice["params"]["kept"]) == (1, 0)
    assert report.counts["kept"] == {}


def test_dropped_address_kept(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, write_list(tmp_path / "new.csv", [pupil(1, GOOD), pupil(2, GOOD)]))
    address = stored_address()

    report = ingest(store, write_list(tmp_path / "old.csv", [pupil(1, FORMER), pupil(2, GOOD)]))

    assert report.state == "succeeded"
    assert stored_address() == address
    assert report.counts["decisions"]["student"].get("update", 0) == 0
    assert student_events(report.run_id) == []
    assert report.guard["entities"]["student"]["changed"] == 0
    notice = dropped_notice(report)
    assert (notice["params"]["count"], notice["params"]["kept"]) == (1, 1)
    assert "Records that kept their stored address (address): 1." in translate(
        notice["error"], lang="en", **notice["params"])
    assert notice["message"] == translate(notice["error"], **notice["params"])
    assert report.counts["kept"] == {"student.address": 1}


def test_dropped_address_kept_again(store: StoreHandle, tmp_path: Path) -> None:
    """The kept record's hash stays the stored one, so the same old list is unchanged every time."""
    ingest(store, write_list(tmp_path / "new.csv", [pupil(1, GOOD)]))
    old = write_list(tmp_path / "old.csv", [pupil(1, FORMER)])
    ingest(store, old)

    report = ingest(store, old)

    assert student_events(report.run_id) == []
    assert dropped_notice(report)["params"]["kept"] == 1
    assert stored_address()["commune_code"]


def test_update_carries_kept_address(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, write_list(tmp_path / "new.csv", [pupil(1, GOOD)]))
    address = stored_address()

    renamed = pupil(1, FORMER, **{"Họ và tên": "Học Sinh Đổi Tên"})
    report = ingest(store, write_list(tmp_path / "old.csv", [renamed]))

    assert report.counts["decisions"]["student"]["update"] == 1
    record = students()["0990010001"]
    assert record["full_name"] == "Học Sinh Đổi Tên"
    assert record["address"] == address
    (event,) = student_events(report.run_id)
    assert event.op == "update"
    assert json.loads(event.data)["address"] == address
    assert event.content_hash == Record.get(Record.local_id == "0990010001").content_hash
    # The review of a held run would list the address as unchanged too.
    assert set(report.counts["updates"]["student"]["fields"]) == {"full_name", "given_name",
                                                                  "middle_name"}


def test_held_run_applies_kept_address(store: StoreHandle, tmp_path: Path) -> None:
    """A run held by the guard keeps the address when it is approved, without reading the list."""
    ingest(store, write_list(tmp_path / "new.csv", [pupil(n, GOOD) for n in range(1, 7)]))
    before = students()
    renamed = [pupil(n, FORMER, **{"Họ và tên": f"Học Sinh Đổi {n}"}) for n in range(1, 7)]
    settings = store.settings.with_overrides({"guard": {"min_existing": 5,
                                                        "max_change_ratio": 0.2}})

    held = service.ingest(store.db, settings, write_list(tmp_path / "old.csv", renamed),
                          ADAPTER, SOURCE)
    assert held.state == "held"
    assert dropped_notice(held)["params"]["kept"] == 6

    approved = service.approve(store.db, settings, held.run_id, "admin")

    assert approved.state == "succeeded"
    after = students()
    for local_id, record in after.items():
        assert record["address"] == before[local_id]["address"], local_id
        assert record["full_name"].startswith("Học Sinh Đổi"), local_id
    events = student_events(held.run_id)
    assert len(events) == 6
    assert all("address" in json.loads(event.data) for event in events)


def test_rekeyed_pupil_keeps_address(store: StoreHandle, tmp_path: Path) -> None:
    """A row that finds its record by the personal number, under a new local id, keeps it too."""
    header = [*HEADER, "Số định danh cá nhân"]

    def write(name: str, local_id: str, address: dict[str, str]) -> Path:
        row = [*pupil(1, address, **{"Mã học sinh": local_id}), "092013000001"]
        with open(tmp_path / name, "w", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows([header, row])
        return tmp_path / name

    ingest(store, write("new.csv", "HS-A", GOOD))
    address = students()["HS-A"]["address"]

    report = ingest(store, write("old.csv", "HS-B", FORMER))

    assert report.counts["decisions"]["student"]["update"] == 1
    stored = students()
    assert list(stored) == ["HS-B"]
    assert stored["HS-B"]["address"] == address
    (event,) = student_events(report.run_id)
    assert json.loads(event.data)["address"] == address


@pytest.mark.usefixtures("units")
def test_v1_record_address_converted(store: StoreHandle, tmp_path: Path) -> None:
    """A record stored at student@1 gives its address as the 2025 units it converts to."""
    ingest(store, write_list(tmp_path / "new.csv", [pupil(1, GOOD)]))
    store_at_v1("0990010001", old_address("31117"))

    report = ingest(store, write_list(tmp_path / "old.csv", [pupil(1, FORMER)]))

    assert report.counts["decisions"]["student"]["update"] == 1
    record = Record.get(Record.local_id == "0990010001")
    assert record.schema_version == 2
    assert json.loads(record.data)["address"] == {"province_code": "92", "commune_code": "31120",
                                                  "detail": "Số 1 Lê Lợi"}


def test_record_without_address_stays_without(store: StoreHandle, tmp_path: Path) -> None:
    no_address = {"Số nhà, đường": "", "Phường/Xã": "", "Tỉnh/TP": ""}
    ingest(store, write_list(tmp_path / "new.csv", [pupil(1, no_address)]))

    report = ingest(store, write_list(tmp_path / "old.csv", [pupil(1, FORMER)]))

    assert "address" not in students()["0990010001"]
    assert student_events(report.run_id) == []
    assert dropped_notice(report)["params"]["kept"] == 0


def test_old_notice_without_kept_count() -> None:
    """A warning stored by a run before records kept their values has its old text."""
    params = {"entities": "student", "count": 2, "field": "address", "column": "Tỉnh/TP",
              "rows": "ds.csv: 2; ds.csv: 3",
              "problem": {"reason": "mapping.province_2025_unknown", "params": {"value": "X"}}}

    message = translate("ingest.field_dropped", lang="en", **params)

    assert message.startswith("2 student rows were stored without their address (address)")
    assert "{kept}" not in message


# -- formulas stored without their values --------------------------------------------


def write_workbook(path: Path, rows: list[list[str]]) -> Path:
    # openpyxl writes formulas without their values, as programs that do not calculate do.
    return write_formula_workbook(path, list(rows), HEADER)


def test_formula_cell_keeps_stored_value(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, write_workbook(tmp_path / "new.xlsx", [pupil(1, GOOD), pupil(2, GOOD)]))
    before = students()

    formulas = write_workbook(tmp_path / "formulas.xlsx", [
        pupil(1, {**GOOD, "Số nhà, đường": '="12 "&"Đường Thử"'}),
        pupil(2, GOOD, **{"Ngày sinh": "=DATE(2013,9,2)"}),
    ])
    report = ingest(store, formulas)

    assert students() == before
    assert student_events(report.run_id) == []
    assert report.counts["kept"] == {"student.address.detail": 1, "student.birth_date": 1}
    warnings = [n for n in report.notices if n["error"] == "table.formula_not_calculated_column"]
    assert {n["params"]["column"] for n in warnings} == {"Số nhà, đường", "Ngày sinh"}


def test_formula_cell_in_update(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, write_workbook(tmp_path / "new.xlsx", [pupil(1, GOOD)]))
    before = students()["0990010001"]

    renamed = pupil(1, GOOD, **{"Ngày sinh": "=DATE(2013,9,1)", "Họ và tên": "Học Sinh Mới"})
    report = ingest(store, write_workbook(tmp_path / "formulas.xlsx", [renamed]))

    (event,) = student_events(report.run_id)
    assert json.loads(event.data)["birth_date"] == before["birth_date"]
    assert students()["0990010001"] == {**before, "full_name": "Học Sinh Mới",
                                        "given_name": "Mới", "middle_name": "Sinh"}


def test_formula_cell_in_new_record(store: StoreHandle, tmp_path: Path) -> None:
    report = ingest(store, write_workbook(tmp_path / "formulas.xlsx", [
        pupil(1, GOOD, **{"Ngày sinh": "=DATE(2013,9,1)"})]))

    assert "birth_date" not in students()["0990010001"]
    assert report.counts["kept"] == {}


def test_formula_cell_then_empty_cell(store: StoreHandle, tmp_path: Path) -> None:
    """A cell emptied on purpose after a formula run erases the value: the row hash is not reused."""
    ingest(store, write_workbook(tmp_path / "new.xlsx", [pupil(1, GOOD)]))
    # An update, so that the record is written from the formula row.
    renamed = {"Họ và tên": "Học Sinh Mới"}
    ingest(store, write_workbook(tmp_path / "formulas.xlsx", [
        pupil(1, GOOD, **renamed, **{"Ngày sinh": "=DATE(2013,9,1)"})]))
    assert "birth_date" in students()["0990010001"]

    report = ingest(store, write_workbook(tmp_path / "empty.xlsx", [
        pupil(1, GOOD, **renamed, **{"Ngày sinh": ""})]))

    assert "birth_date" not in students()["0990010001"]
    assert len(student_events(report.run_id)) == 1


# -- a grade from an empty class cell -----------------------------------------------------


def test_empty_class_keeps_stored_grade(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, write_list(tmp_path / "a.csv", [pupil(1, GOOD), pupil(2, GOOD)]))

    report = ingest(store, write_list(tmp_path / "b.csv", [pupil(1, GOOD, **{"Lớp": ""}),
                                                           pupil(2, GOOD)]))

    assert students()["0990010001"]["grade"] == "6"
    assert report.counts["decisions"]["student"] == {"unchanged": 2}
    assert student_events(report.run_id) == []
    assert report.counts["kept"] == {"student.grade": 1}


def test_empty_class_of_new_pupil_gives_no_grade(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, write_list(tmp_path / "a.csv", [pupil(1, GOOD, **{"Lớp": ""})]))

    assert "grade" not in students()["0990010001"]
