"""School exports: the guard per school, ends by absence in the report, rows without a school.

Every list here is synthetic: made-up pupils of made-up schools, written as CSV files.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from gateway.ingest import service, stage
from gateway.settings import Settings
from gateway.store.models import Quarantine, Record
from tests.support.store import StoreHandle

HEADER = ["STT", "Mã trường", "Tên trường", "Lớp", "Mã học sinh", "Họ và tên", "Ngày sinh",
          "Giới tính"]
CLASSES = ("6A1", "6A2", "6A3", "6A4")


def pupil_rows(school: str, classes: tuple[str, ...] = CLASSES, per_class: int = 8) -> list[list[str]]:
    """Return one list row per made-up pupil, ``per_class`` pupils in each class, numbered from 1."""
    rows = []
    for class_name in classes:
        for day in range(1, per_class + 1):
            number = len(rows) + 1
            rows.append([str(number), school, f"Trường Thử {school}", class_name,
                         f"{school}{number:04d}", f"Học Sinh Thử {number}", f"{day:02d}/09/2013",
                         "Nam" if number % 2 else "Nữ"])
    return rows


def write_lists(folder: Path, lists: dict[str, list[list[str]]],
                header: list[str] = HEADER) -> Path:
    """Write each list as ``<name>.csv`` in ``folder`` and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in lists.items():
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerows(rows)
    return folder


def only_class(rows: list[list[str]], class_name: str) -> list[list[str]]:
    return [row for row in rows if row[3] == class_name]


def ingest(store: StoreHandle, folder: Path, settings: Settings | None = None) -> service.RunReport:
    return service.ingest(store.db, settings or store.settings, folder, "school-export", "lists")


def active(entity: str, school: str | None = None) -> int:
    condition = (Record.entity == entity) & (Record.state == "active")
    if school is not None:
        condition &= Record.scope_school == school
    return Record.select().where(condition).count()


def notices(report: service.RunReport, key: str) -> dict[str, int]:
    """Return the count of each notice ``key`` of the report, by its entities."""
    return {n["params"]["entities"]: n["params"]["count"] for n in report.notices if n["error"] == key}


# -- the guard, one school at a time --------------------------------------------


def test_one_class_list_holds_small_school(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, write_lists(tmp_path / "a", {"099001": pupil_rows("099001")}))
    one_class = only_class(pupil_rows("099001"), "6A1")
    report = ingest(store, write_lists(tmp_path / "b", {"099001-6A1": one_class}))
    assert report.state == "held"
    assert active("student", "099001") == 32
    students = report.guard["entities"]["student"]
    assert students["trips"] is False  # 32 records in scope: below guard.min_existing
    assert students["schools"] == [{"school": "099001", "existing": 32, "changed": 24, "ratio": 0.75}]
    assert report.guard["min_existing_per_school"] == 10


def test_one_class_list_among_full_schools_held(store: StoreHandle, tmp_path: Path) -> None:
    schools = ("099001", "099002", "099003", "099004")
    full = {code: pupil_rows(code) for code in schools}
    ingest(store, write_lists(tmp_path / "a", full))
    partial = {**full, "099001": only_class(full["099001"], "6A1")}
    report = ingest(store, write_lists(tmp_path / "b", partial))
    assert report.state == "held"
    students = report.guard["entities"]["student"]
    assert (students["existing"], students["changed"], students["trips"]) == (128, 24, False)
    assert [figures["school"] for figures in students["schools"]] == ["099001"]
    assert [figures["school"] for figures in report.guard["entities"]["enrollment"]["schools"]] \
        == ["099001"]


def test_held_school_collapse_applies_on_approval(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, write_lists(tmp_path / "a", {"099001": pupil_rows("099001")}))
    one_class = only_class(pupil_rows("099001"), "6A1")
    held = ingest(store, write_lists(tmp_path / "b", {"099001-6A1": one_class}))
    approved = service.approve(store.db, store.settings, held.run_id, "admin")
    assert approved.state == "succeeded"
    assert active("student") == 8
    assert active("class") == 1
    assert active("enrollment") == 8


def test_school_below_minimum_not_held(store: StoreHandle, tmp_path: Path) -> None:
    small = pupil_rows("099001", classes=("6A1", "6A2"), per_class=4)
    ingest(store, write_lists(tmp_path / "a", {"099001": small}))
    report = ingest(store, write_lists(tmp_path / "b", {"099001": only_class(small, "6A1")}))
    assert report.state == "succeeded"
    assert "schools" not in report.guard["entities"]["student"]
    assert active("student") == 4


def test_per_school_minimum_setting_applies(store: StoreHandle, tmp_path: Path) -> None:
    settings = store.settings.with_overrides({"guard": {"min_existing_per_school": 4}})
    small = pupil_rows("099001", classes=("6A1", "6A2"), per_class=4)
    ingest(store, write_lists(tmp_path / "a", {"099001": small}), settings)
    report = ingest(store, write_lists(tmp_path / "b", {"099001": only_class(small, "6A1")}), settings)
    assert report.state == "held"
    assert report.guard["entities"]["student"]["schools"][0]["existing"] == 8


def test_few_leavers_per_school_not_held(store: StoreHandle, tmp_path: Path) -> None:
    rows = pupil_rows("099001")
    ingest(store, write_lists(tmp_path / "a", {"099001": rows}))
    report = ingest(store, write_lists(tmp_path / "b", {"099001": rows[:-4]}))
    assert report.state == "succeeded"
    assert active("student") == 28


def test_first_load_of_school_never_held(store: StoreHandle, tmp_path: Path) -> None:
    settings = store.settings.with_overrides({"guard": {"min_existing_per_school": 0}})
    ingest(store, write_lists(tmp_path / "a", {"099001": pupil_rows("099001")}), settings)
    more = {"099001": pupil_rows("099001"), "099002": pupil_rows("099002")}
    report = ingest(store, write_lists(tmp_path / "b", more), settings)
    assert report.state == "succeeded"
    assert active("student", "099002") == 32


# -- ends by absence in the report ------------------------------------------------


def test_absence_ends_reported_per_entity(store: StoreHandle, tmp_path: Path) -> None:
    rows = pupil_rows("099001")
    ingest(store, write_lists(tmp_path / "a", {"099001": rows}))
    report = ingest(store, write_lists(tmp_path / "b", {"099001": rows[:-2]}))
    assert report.state == "succeeded"
    assert notices(report, "ingest.ended_absent") == {"student": 2, "enrollment": 2}
    assert all(n["level"] == "warning" for n in report.notices if n["error"] == "ingest.ended_absent")


def test_no_absence_notice_without_ends(store: StoreHandle, tmp_path: Path) -> None:
    rows = pupil_rows("099001")
    first = ingest(store, write_lists(tmp_path / "a", {"099001": rows}))
    again = ingest(store, write_lists(tmp_path / "b", {"099001": rows}))
    assert notices(first, "ingest.ended_absent") == {}
    assert notices(again, "ingest.ended_absent") == {}


# -- rows without a school code ---------------------------------------------------


def test_pupil_without_school_rejected(store: StoreHandle, tmp_path: Path) -> None:
    rows = pupil_rows("099001")
    rows[20][1] = ""
    report = ingest(store, write_lists(tmp_path / "a", {"099001": rows}))
    assert report.counts["stage"]["rejected"]["ingest.school_missing"] == 1
    assert Record.select().where((Record.entity == "student") & Record.scope_school.is_null()).count() == 0
    rejected = Quarantine.get(Quarantine.reason == "ingest.school_missing")
    assert (rejected.file, rejected.row, rejected.column, rejected.field) \
        == ("099001.csv", 22, "Mã trường", "school_ref")
    assert json.loads(rejected.params) == {"column": "Mã trường", "field": "school_ref"}


def test_pupil_without_school_keeps_record(store: StoreHandle, tmp_path: Path) -> None:
    rows = pupil_rows("099001")
    ingest(store, write_lists(tmp_path / "a", {"099001": rows}))
    blank = [list(row) for row in rows]
    blank[20][1] = ""
    report = ingest(store, write_lists(tmp_path / "b", {"099001": blank}))
    assert report.state == "succeeded"
    assert active("student", "099001") == 32
    assert report.counts["decisions"]["student"].get("end", 0) == 0
    # The enrollment's id joins the empty school code, so the row cannot name its enrollment.
    assert active("enrollment", "099001") == 32
    assert "ingest.absent_not_ended_no_id" in {n["error"] for n in report.notices}


def test_ended_pupils_end_their_enrollments(store: StoreHandle, tmp_path: Path) -> None:
    rows = pupil_rows("099001")
    ingest(store, write_lists(tmp_path / "a", {"099001": rows}))
    later = [list(row) for row in rows[:-2]]
    # A row without its class gives no enrollment id, so the run ends no enrollment by absence.
    later[0][3] = ""
    report = ingest(store, write_lists(tmp_path / "b", {"099001": later}))
    assert report.state == "succeeded"
    assert "ingest.absent_not_ended_no_id" in {n["error"] for n in report.notices}
    assert report.counts["decisions"]["student"]["end"] == 2
    assert notices(report, "ingest.ended_with_reference") == {"enrollment": 2}
    assert active("student", "099001") == 30
    assert active("enrollment", "099001") == 30
    ended = Record.select().where((Record.entity == "enrollment") & (Record.state == "ended"))
    assert sorted(json.loads(r.data)["person_ref"] for r in ended) == ["0990010031", "0990010032"]


def test_no_dependent_ends_without_ends(store: StoreHandle, tmp_path: Path) -> None:
    rows = pupil_rows("099001")
    ingest(store, write_lists(tmp_path / "a", {"099001": rows}))
    report = ingest(store, write_lists(tmp_path / "b", {"099001": rows}))
    assert notices(report, "ingest.ended_with_reference") == {}
    assert active("enrollment", "099001") == 32


def test_list_without_school_column_reads_no_pupils(store: StoreHandle, tmp_path: Path) -> None:
    header = [name for name in HEADER if name != "Mã trường"]
    rows = [[cell for index, cell in enumerate(row) if index != 1] for row in pupil_rows("099001")]
    report = ingest(store, write_lists(tmp_path / "a", {"list": rows}, header))
    missing = [n for n in report.notices if n["error"] == "ingest.columns_missing_school"]
    assert len(missing) == 1
    assert missing[0]["level"] == "error"
    assert missing[0]["params"]["columns"] == "Mã trường"
    assert "school-export/student/v7" in missing[0]["params"]["mapping"].split(", ")
    assert missing[0]["params"]["count"] == len(missing[0]["params"]["mapping"].split(", "))
    assert report.counts["stage"]["unmapped"] == {"table": 32}
    assert report.counts["stage"]["skipped"] == {}
    assert active("student") == 0


def test_list_without_school_name_rejects_class_for_column(store: StoreHandle,
                                                          tmp_path: Path) -> None:
    header = [name for name in HEADER if name != "Tên trường"]
    rows = [[cell for index, cell in enumerate(row) if index != 2] for row in pupil_rows("099001")]

    report = ingest(store, write_lists(tmp_path / "a", {"list": rows}, header))

    classes = Quarantine.select().where((Quarantine.run == report.run_id)
                                        & (Quarantine.entity == "class"))
    reasons = {(q.reason, q.field) for q in classes}
    params = json.loads(classes[0].params)
    assert reasons == {("ingest.reference_not_read", "school_ref")}
    assert params["columns"] == "Tên trường"
    assert params["target"] == "organization"
    assert "ingest.reference_unknown" not in report.counts["stage"]["rejected"]
    assert active("student") == 32


def test_later_list_ends_pupil_once_coded(store: StoreHandle, tmp_path: Path) -> None:
    rows = pupil_rows("099001")
    ingest(store, write_lists(tmp_path / "a", {"099001": rows}))
    without = [row for row in rows if row[4] != "0990010021"]
    report = ingest(store, write_lists(tmp_path / "b", {"099001": without}))
    assert report.state == "succeeded"
    left = Record.get((Record.entity == "student") & (Record.local_id == "0990010021"))
    assert left.state == "ended"


def test_unscoped_pupil_stored_earlier_rejected(store: StoreHandle, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    rows = pupil_rows("099001")
    rows[20][1] = ""
    folder = write_lists(tmp_path / "a", {"099001": rows})
    with monkeypatch.context() as before_rule:
        # As stored before rows without a school were rejected: the pupil has no school.
        before_rule.setattr(stage, "required_school_field", lambda *args: None)
        ingest(store, folder)
    assert Record.select().where((Record.entity == "student") & Record.scope_school.is_null()).count() == 1
    report = ingest(store, folder)
    assert report.counts["stage"]["rejected"]["ingest.school_missing"] == 1
    assert active("student") == 32
