"""The demo city's vendor-style exports, ingested with the shipped school-export mappings.

The shapes of a ``tiny`` city (one vnEdu-style workbook and one Windows-1258
CSV list per school, and the workbooks saved in the Excel 97-2003 format) go
through ``service.ingest`` with the adapter key ``school-export``, on SQLite
and PostgreSQL. The expected records are computed
from the city model by the rules that docs/table-adapter.md states for these
exports: names split at the first word, the grade taken from the class name,
ethnic groups in the 1979 numbering, the address as a nested object in the
2025 units. Each planted fault that rejects a row
must be rejected at its file, sheet, row and column, and the two normalised
faults must give the same record as a clean row.

The same rows also give one organization per school, one homeroom class per
class and one enrollment per pupil. Every row repeats its school and class, so
those records repeat identically and the stage step keeps one of each.
"""

from __future__ import annotations

import json
import shutil
import unicodedata
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gateway.codelists import get_codelist
from gateway.demo import (
    Pupil,
    VendorFault,
    VendorSummary,
    city_pupils,
    write_vendor_csv1258,
    write_vendor_xlsx,
)
from gateway.demo.vendor import LOCAL_CODE
from gateway.errors import row_label
from gateway.ingest import service
from gateway.store.changelog import horizon
from gateway.store.models import Quarantine, Record
from tests.support.store import StoreHandle
from tests.support.xls import save_as_xls

SIZE = "tiny"
SEED = 2025
ADAPTER = "school-export"
# The reason and the field of the rejection each planted fault must cause.
REJECTIONS = {
    VendorFault.BIRTH_DATE_INVALID: ("mapping.date_invalid", "birth_date"),
    VendorFault.BIRTH_DATE_TWO_DIGIT_YEAR: ("mapping.date_two_digit_year", "birth_date"),
    VendorFault.LOCAL_ID_DUPLICATE: ("ingest.duplicate_local_id", "local_id"),
}
# Faults that cost the pupil one field (on_error: drop): the reason of the warning and the field.
DROPPED = {
    VendorFault.COMMUNE_UNKNOWN: ("mapping.commune_2025_unknown_in", "address"),
    VendorFault.COMMUNE_OTHER_PROVINCE: ("mapping.commune_2025_in_other_province", "address"),
    VendorFault.ETHNIC_GROUP_UNKNOWN: ("mapping.code_unknown", "ethnicity_code"),
}
# The rejection of the enrollment of a pupil row whose student row is rejected for its own
# values: the enrollment names a student whose row this run rejected.
UNKNOWN_PERSON = ("ingest.reference_rejected", "person_ref")
# Schema version of the records of each entity.
SCHEMA_VERSIONS = {"student": 2, "organization": 1, "class": 1, "enrollment": 1}
# Enrollments stored from the tiny city, by shape: 37 pupil rows less the 2 rejected for their own
# values. In the workbook the row with a duplicated pupil code opens a class block, so it gives
# the pupil before it an enrollment in that class, which is rejected with the duplicate student
# row (DUPLICATE_ROW). In the CSV list it repeats an enrollment of the same class, which the
# stage step drops.
ENROLLMENTS = {"xlsx": 34, "xls": 34, "csv1258": 34}
# The rejection of the enrollment of the row with a duplicated pupil code, in the shapes where
# that row starts another class.
DUPLICATE_ROW = ("ingest.duplicate_row_reference", "person_ref")
DUPLICATE_ROW_SHAPES = ("xlsx", "xls")
# Notices each file must give, by shape.
NOTICES = {"xlsx": "table.rows_skipped", "xls": "table.rows_skipped",
           "csv1258": "table.encoding_fallback"}
SHAPES = ["xlsx", "xls", "csv1258"]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, VendorSummary]:
    root = tmp_path_factory.mktemp("exports")
    xlsx = write_vendor_xlsx(root / "xlsx", SIZE, SEED)
    return {
        "xlsx": xlsx,
        "xls": _saved_as_xls(xlsx, root / "xls"),
        "csv1258": write_vendor_csv1258(root / "csv1258", SIZE, SEED),
    }


def _saved_as_xls(summary: VendorSummary, folder: Path) -> VendorSummary:
    """Return the summary of the workbooks of ``summary`` saved as .xls files in ``folder``."""
    folder.mkdir()
    for workbook in summary.package.glob("*.xlsx"):
        save_as_xls(workbook, folder / f"{workbook.stem}.xls")
    return replace(
        summary, package=folder, shape="xls",
        files={name.replace(".xlsx", ".xls"): rows for name, rows in summary.files.items()},
        planted=[replace(p, file=p.file.replace(".xlsx", ".xls")) for p in summary.planted],
    )


def _expected_record(shape: str, pupil: Pupil) -> dict[str, Any]:
    person = pupil.person
    if shape in ("xlsx", "xls"):
        # "Họ đệm" + "Tên": the family name is the first word of "Họ đệm", the rest the middle name.
        words = pupil.family_middle.split()
        family, middle, given = words[0], " ".join(words[1:]), person.given
        full_name = f"{pupil.family_middle} {person.given}"
    else:
        # "Họ và tên": the first word, the words between, the last word.
        words = person.full_name.split()
        family, middle, given = words[0], " ".join(words[1:-1]), words[-1]
        full_name = person.full_name
    record: dict[str, Any] = {
        "local_id": pupil.code,
        "ministry_id": person.master_id,
        "personal_id": pupil.personal_id,
        "full_name": full_name,
        "family_name": family,
        "given_name": given,
        "birth_date": person.birth_date.isoformat(),
        "gender": person.sex,
        "ethnicity_code": pupil.ethnic_code,
        "learner_status": pupil.status_code,
        "school_ref": pupil.school_code,
    }
    if middle:
        record["middle_name"] = middle
    if pupil.homeroom.grade != "PK":
        record["grade"] = str(int(pupil.homeroom.grade))
    if pupil.address is not None:
        record["address"] = {"province_code": pupil.address.province_code,
                             "commune_code": pupil.address.commune_code,
                             "detail": pupil.address.detail}
    return record


def _expected_records(shape: str, summary: VendorSummary) -> dict[str, dict[str, Any]]:
    """Return the records of every pupil whose row has no rejected fault, by local id."""
    rejected = {p.ministry_id for p in summary.planted if p.kind in REJECTIONS}
    dropped = {p.ministry_id: DROPPED[p.kind][1] for p in summary.planted if p.kind in DROPPED}
    records = {}
    for _, pupils in city_pupils(SIZE, SEED):
        for pupil in pupils:
            if pupil.person.master_id in rejected:
                continue
            record = _expected_record(shape, pupil)
            if pupil.person.master_id in dropped:
                del record[dropped[pupil.person.master_id]]
            records[pupil.code] = record
    return records


def _class_id(pupil: Pupil) -> str:
    """Return the class local id: the school code and the class name, joined with a space."""
    return f"{pupil.school_code} {pupil.homeroom.title}"


def _expected_organizations() -> dict[str, dict[str, Any]]:
    return {
        school.plan.code: {"local_id": school.plan.code, "code": school.plan.code,
                           "name": school.plan.name, "org_type": "school"}
        for school, _ in city_pupils(SIZE, SEED)
    }


def _expected_classes() -> dict[str, dict[str, Any]]:
    """Return one homeroom class per class with pupils, whatever their rows' faults."""
    return {
        _class_id(pupil): {"local_id": _class_id(pupil), "name": pupil.homeroom.title,
                           "school_ref": pupil.school_code, "class_type": "homeroom"}
        for _, pupils in city_pupils(SIZE, SEED) for pupil in pupils
    }


def _expected_enrollments(summary: VendorSummary) -> dict[str, dict[str, Any]]:
    """Return the enrollment of every row whose pupil code names a stored student, by local id.

    A row with the duplicated code of the row before gives that pupil's enrollment again, which
    the stage step drops when it is the same record, as it is within one class, and rejects
    with the duplicate student row when it names another class.
    """
    faults = {p.ministry_id: p for p in summary.planted}
    learner_status = get_codelist("learner-status")
    enrollments = {}
    for _, pupils in city_pupils(SIZE, SEED):
        for pupil in pupils:
            planted = faults.get(pupil.person.master_id)
            if planted is not None and planted.kind in REJECTIONS:
                continue
            code = pupil.code if planted is None else planted.local_id
            local_id = f"{code} {_class_id(pupil)}"
            enrollments[local_id] = {
                "local_id": local_id, "person_ref": code, "class_ref": _class_id(pupil),
                "school_ref": pupil.school_code, "role": "student",
                # The pupil's learner status gives the enrollment status (enrollment v5).
                "status": learner_status.entry(pupil.status_code).maps_to,
            }
    return enrollments


def _expected_rejections(summary: VendorSummary, shape: str) -> list[tuple[Any, ...]]:
    rows = []
    for planted in summary.planted:
        if planted.kind in REJECTIONS:
            reason, field = REJECTIONS[planted.kind]
            rows.append(("student", reason, planted.file, planted.sheet, planted.row, planted.column,
                         field))
            if planted.kind is VendorFault.LOCAL_ID_DUPLICATE:
                if shape in DUPLICATE_ROW_SHAPES:
                    reason, field = DUPLICATE_ROW
                    rows.append(("enrollment", reason, planted.file, planted.sheet, planted.row,
                                 LOCAL_CODE, field))
            else:
                reason, field = UNKNOWN_PERSON
                rows.append(("enrollment", reason, planted.file, planted.sheet, planted.row,
                             LOCAL_CODE, field))
    return sorted(rows, key=_rejection_order)


def _rejection_order(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row[2], row[4], row[0]


def _stored(source: str, entity: str = "student") -> dict[str, dict[str, Any]]:
    records = Record.select().where((Record.source == source) & (Record.entity == entity)
                                    & (Record.state == "active"))
    return {record.local_id: json.loads(record.data) for record in records}


def _rejections(run_id: int) -> list[tuple[Any, ...]]:
    rows = Quarantine.select().where(Quarantine.run == run_id)
    found = [(q.entity, q.reason, q.file, q.sheet, q.row, q.column, q.field) for q in rows]
    return sorted(found, key=_rejection_order)


@pytest.mark.parametrize("shape", SHAPES)
def test_export_ingests_exact_records(store: StoreHandle, exports: dict[str, VendorSummary],
                                      shape: str) -> None:
    summary = exports[shape]
    expected = _expected_records(shape, summary)

    report = service.ingest(store.db, store.settings, summary.package, ADAPTER, f"{shape}-demo")

    assert report.state == "succeeded"
    stored = _stored(f"{shape}-demo")
    assert sorted(stored) == sorted(expected)
    for local_id, record in expected.items():
        assert stored[local_id] == record, local_id
    for entity, version in SCHEMA_VERSIONS.items():
        versions = {r.schema_version for r in Record.select().where(Record.entity == entity)}
        assert versions == {version}, entity
    assert report.counts["stage"]["rows_read"] == {"table": summary.students}


@pytest.mark.parametrize("shape", SHAPES)
def test_export_gives_schools_classes_enrollments(store: StoreHandle,
                                                  exports: dict[str, VendorSummary],
                                                  shape: str) -> None:
    summary = exports[shape]
    source = f"{shape}-demo"

    report = service.ingest(store.db, store.settings, summary.package, ADAPTER, source)

    assert report.state == "succeeded"
    assert _stored(source, "organization") == _expected_organizations()
    assert _stored(source, "class") == _expected_classes()
    assert _stored(source, "enrollment") == _expected_enrollments(summary)
    assert len(_stored(source, "organization")) == 2
    assert len(_stored(source, "class")) == 8
    assert len(_stored(source, "enrollment")) == ENROLLMENTS[shape]


@pytest.mark.parametrize("shape", SHAPES)
def test_rejected_pupil_keeps_class(store: StoreHandle, exports: dict[str, VendorSummary],
                                    shape: str) -> None:
    """A row rejected for its birth date still gives its class, which its classmates reference."""
    summary = exports[shape]
    source = f"{shape}-demo"
    pupils = {p.person.master_id: p for _, school in city_pupils(SIZE, SEED) for p in school}
    bad_date = next(p for p in summary.planted if p.kind is VendorFault.BIRTH_DATE_INVALID)
    class_id = _class_id(pupils[bad_date.ministry_id])

    report = service.ingest(store.db, store.settings, summary.package, ADAPTER, source)

    rejected_entities = {row[0] for row in _rejections(report.run_id) if row[4] == bad_date.row}
    assert rejected_entities == {"student", "enrollment"}
    assert class_id in _stored(source, "class")
    classmates = [e for e in _stored(source, "enrollment").values() if e["class_ref"] == class_id]
    assert classmates


@pytest.mark.parametrize("shape", SHAPES)
def test_each_fault_rejected_at_its_place(store: StoreHandle, exports: dict[str, VendorSummary],
                                          shape: str) -> None:
    summary = exports[shape]

    report = service.ingest(store.db, store.settings, summary.package, ADAPTER, f"{shape}-demo")

    assert _rejections(report.run_id) == _expected_rejections(summary, shape)
    students = [row for row in _rejections(report.run_id) if row[0] == "student"]
    enrollments = [row for row in _rejections(report.run_id) if row[0] == "enrollment"]
    rejected_faults = sum(1 for planted in summary.planted if planted.kind in REJECTIONS)
    assert len(students) == rejected_faults
    # Every rejected pupil. In the CSV list the duplicate's enrollment repeats the one of the
    # pupil before it, in the same class, so it is dropped instead.
    duplicate_dropped = 0 if shape in DUPLICATE_ROW_SHAPES else 1
    assert len(enrollments) == rejected_faults - duplicate_dropped


@pytest.mark.parametrize("shape", SHAPES)
def test_optional_faults_drop_only_field(store: StoreHandle, exports: dict[str, VendorSummary],
                                         shape: str) -> None:
    summary = exports[shape]
    planted = [p for p in summary.planted if p.kind in DROPPED]

    report = service.ingest(store.db, store.settings, summary.package, ADAPTER, f"{shape}-demo")

    stored = _stored(f"{shape}-demo")
    assert {p.kind for p in planted} == set(DROPPED)
    for fault in planted:
        assert DROPPED[fault.kind][1] not in stored[fault.local_id]
    warnings = {n["params"]["problem"]["reason"]: n for n in report.notices
                if n["error"] == "ingest.field_dropped"}
    assert sorted(warnings) == sorted({DROPPED[p.kind][0] for p in planted})
    for fault in planted:
        reason, field = DROPPED[fault.kind]
        warning = warnings[reason]
        assert warning["level"] == "warning"
        assert warning["params"]["field"] == field
        assert row_label(fault.file, fault.sheet, fault.row) in warning["params"]["rows"]
    expected = Counter(f"student.{DROPPED[p.kind][1]}" for p in planted)
    assert report.counts["stage"]["dropped"] == dict(expected)


@pytest.mark.parametrize("shape", ["xlsx", "csv1258"])
def test_old_commune_warns_every_run(store: StoreHandle, exports: dict[str, VendorSummary],
                                     shape: str) -> None:
    summary = exports[shape]
    first = service.ingest(store.db, store.settings, summary.package, ADAPTER, f"{shape}-demo")

    second = service.ingest(store.db, store.settings, summary.package, ADAPTER, f"{shape}-demo")

    assert second.changes == 0
    assert second.counts["stage"]["dropped"] == first.counts["stage"]["dropped"]
    assert [n["params"] for n in second.notices if n["error"] == "ingest.field_dropped"] == \
        [n["params"] for n in first.notices if n["error"] == "ingest.field_dropped"]


@pytest.mark.parametrize("shape", SHAPES)
def test_normalised_faults_stored_clean(store: StoreHandle, exports: dict[str, VendorSummary],
                                        shape: str) -> None:
    summary = exports[shape]
    pupils = {p.code: p for _, school in city_pupils(SIZE, SEED) for p in school}

    service.ingest(store.db, store.settings, summary.package, ADAPTER, f"{shape}-demo")

    stored = _stored(f"{shape}-demo")
    normalised = [p for p in summary.planted if p.kind.value in summary.normalised]
    assert normalised
    for planted in normalised:
        pupil = pupils[planted.local_id]
        assert stored[planted.local_id]["personal_id"] == pupil.personal_id
        assert stored[planted.local_id]["full_name"] == _expected_record(shape, pupil)["full_name"]


@pytest.mark.parametrize("shape", SHAPES)
def test_export_notices_per_file(store: StoreHandle, exports: dict[str, VendorSummary],
                                 shape: str) -> None:
    summary = exports[shape]

    report = service.ingest(store.db, store.settings, summary.package, ADAPTER, f"{shape}-demo")

    notices = sorted((n["level"], n["error"], n["place"]["file"]) for n in report.notices
                     if n["error"] != "ingest.field_dropped")
    assert notices == sorted(("warning", NOTICES[shape], name) for name in summary.files)


@pytest.mark.parametrize("shape", SHAPES)
def test_second_ingest_changes_nothing(store: StoreHandle, exports: dict[str, VendorSummary],
                                       shape: str) -> None:
    summary = exports[shape]
    first = service.ingest(store.db, store.settings, summary.package, ADAPTER, f"{shape}-demo")
    before = horizon()

    second = service.ingest(store.db, store.settings, summary.package, ADAPTER, f"{shape}-demo")

    assert first.changes == (len(_expected_records(shape, summary)) + len(_expected_organizations())
                             + len(_expected_classes()) + len(_expected_enrollments(summary)))
    assert second.state == "succeeded"
    assert second.changes == 0
    assert horizon() == before


@pytest.mark.parametrize("shape", SHAPES)
def test_second_ingest_same_rejections(store: StoreHandle, exports: dict[str, VendorSummary],
                                       shape: str) -> None:
    summary = exports[shape]
    service.ingest(store.db, store.settings, summary.package, ADAPTER, f"{shape}-demo")

    second = service.ingest(store.db, store.settings, summary.package, ADAPTER, f"{shape}-demo")

    assert _rejections(second.run_id) == _expected_rejections(summary, shape)


def test_both_shapes_describe_one_city(store: StoreHandle,
                                       exports: dict[str, VendorSummary]) -> None:
    """The CSV pupils that the workbook already gave are linked to those records by Ministry id."""
    first = service.ingest(store.db, store.settings, exports["xlsx"].package, ADAPTER, "xlsx-demo")
    in_xlsx = {record["ministry_id"] for record in _stored("xlsx-demo").values()}
    in_csv = {record["ministry_id"] for record in
              _expected_records("csv1258", exports["csv1258"]).values()}

    second = service.ingest(store.db, store.settings, exports["csv1258"].package, ADAPTER,
                            "csv-demo")

    assert first.state == second.state == "succeeded"
    decisions = second.counts["decisions"]["student"]
    assert decisions["alias"] == len(in_csv & in_xlsx)
    assert decisions["insert"] == len(in_csv - in_xlsx)
    assert Record.select().where(Record.entity == "student").count() == len(in_xlsx | in_csv)



@pytest.mark.parametrize(("shape", "damage"), [("xlsx", "truncate"), ("csv1258", "empty")])
def test_damaged_school_file_ends_nothing(store: StoreHandle, exports: dict[str, VendorSummary],
                                          tmp_path: Path, shape: str, damage: str) -> None:
    package = tmp_path / "package"
    shutil.copytree(exports[shape].package, package)
    service.ingest(store.db, store.settings, package, ADAPTER, f"{shape}-demo")
    before = {e: _stored(f"{shape}-demo", e) for e in SCHEMA_VERSIONS}
    # One school's file breaks: cut short, as by a failed upload, or emptied.
    first = sorted(p for p in package.iterdir() if p.is_file())[0]
    if damage == "truncate":
        first.write_bytes(first.read_bytes()[:5000])
    else:
        first.write_bytes(b"")

    report = service.ingest(store.db, store.settings, package, ADAPTER, f"{shape}-demo")

    ended = {entity: counts.get("end", 0) for entity, counts in report.counts["decisions"].items()}
    assert set(ended.values()) == {0}
    assert {e: _stored(f"{shape}-demo", e) for e in SCHEMA_VERSIONS} == before
    levels = {notice["error"]: notice["level"] for notice in report.notices}
    assert levels["ingest.absent_not_ended"] == "warning"
    assert "error" in levels.values()


def test_school_missing_from_folder_keeps_records(store: StoreHandle,
                                                  exports: dict[str, VendorSummary],
                                                  tmp_path: Path) -> None:
    """A folder of per-school lists is complete for the schools it holds, not for the source."""
    summary = exports["csv1258"]
    source = "csv-schools"
    service.ingest(store.db, store.settings, summary.package, ADAPTER, source)
    before = {entity: _stored(source, entity) for entity in ("student", "class", "enrollment")}
    files = sorted(summary.package.glob("*.csv"))
    kept_file, dropped_file = files[0], files[1]
    folder = tmp_path / "one-school"
    folder.mkdir()
    lines = kept_file.read_bytes().split(b"\r\n")
    # The last pupil row of the kept school's list, found by its pupil code.
    codes = [p.code for _, school in city_pupils(SIZE, SEED) for p in school]
    last = max(i for i, line in enumerate(lines) if any(code.encode() in line for code in codes))
    left_out = next(code for code in codes if code.encode() in lines[last])
    (folder / kept_file.name).write_bytes(b"\r\n".join(lines[:last] + lines[last + 1:]))

    report = service.ingest(store.db, store.settings, folder, ADAPTER, source)

    assert report.state == "succeeded"
    assert dropped_file.name.split("-")[0] not in kept_file.name
    ended = {r.local_id for r in Record.select().where((Record.source == source)
                                                        & (Record.entity == "student")
                                                        & (Record.state == "ended"))}
    assert ended == {left_out}
    assert set(_stored(source, "student")) == set(before["student"]) - {left_out}
    assert _stored(source, "class") == before["class"]


def _lists_in_utf8(summary: VendorSummary, folder: Path, school_prefix: str = "") -> Path:
    """Write the CSV lists again in UTF-8, with ``school_prefix`` before every school's name."""
    folder.mkdir()
    for file in sorted(summary.package.glob("*.csv")):
        lines = unicodedata.normalize("NFC", file.read_bytes().decode("cp1258")).split("\r\n")
        rows = [line.split(";") for line in lines]
        for row in rows[1:]:
            if len(row) > 2 and row[2]:
                row[2] = school_prefix + row[2]
        (folder / file.name).write_text("\r\n".join(";".join(row) for row in rows), encoding="utf-8")
    return folder


def test_guard_counts_stored_schools(store: StoreHandle, exports: dict[str, VendorSummary],
                                     tmp_path: Path) -> None:
    """The guard measures a school export's changes to schools against the schools stored."""
    settings = store.settings.with_overrides({"guard": {"min_existing": 2, "max_change_ratio": 0.25}})
    summary = exports["csv1258"]
    lists = _lists_in_utf8(summary, tmp_path / "lists")
    renamed = _lists_in_utf8(summary, tmp_path / "renamed", school_prefix="Cơ sở ")
    service.ingest(store.db, settings, lists, ADAPTER, "csv-demo")

    again = service.ingest(store.db, settings, lists, ADAPTER, "csv-demo")
    report = service.ingest(store.db, settings, renamed, ADAPTER, "csv-demo")

    assert again.guard is not None
    assert again.guard["entities"]["organization"] == {"existing": 2, "changed": 0, "ratio": 0.0,
                                                       "trips": False}
    assert report.guard is not None
    assert report.guard["entities"]["organization"] == {"existing": 2, "changed": 2, "ratio": 1.0,
                                                        "trips": True}
    assert report.state == "held"
    names = {record["name"] for record in _stored("csv-demo", "organization").values()}
    assert not any(name.startswith("Cơ sở ") for name in names)
