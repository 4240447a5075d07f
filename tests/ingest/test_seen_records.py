"""Rows that give a stored record unchanged: kept as seen records, not staged rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.ingest import runs, service
from gateway.reports import rejections_by_reason
from gateway.store.models import Quarantine, Record, SeenRecord, StagedRecord
from tests.support import oneroster as pkg
from tests.support.store import StoreHandle


def ingest(store: StoreHandle, folder: Path) -> service.RunReport:
    return service.ingest(store.db, store.settings, folder, "oneroster", "school-a")


def student_record(local_id: str) -> Record:
    return Record.get((Record.entity == "student") & (Record.local_id == local_id))


@pytest.fixture
def kept_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a run's staged and seen rows after it ends, so that a test can count them."""
    monkeypatch.setattr(runs, "discard_staged", lambda run_ids: 0)


def test_unchanged_rows_not_staged(store: StoreHandle, tmp_path: Path, kept_rows: None) -> None:
    folder = pkg.write_package(tmp_path / "p", pkg.city(students=4))
    ingest(store, folder)

    report = ingest(store, folder)

    staged = StagedRecord.select().where(StagedRecord.run == report.run_id).count()
    seen = SeenRecord.select().where(SeenRecord.run == report.run_id).count()
    assert staged == 0
    assert seen == 1 + 1 + 1 + 4 + 4  # school, year, class, students, enrollments
    assert report.counts["decisions"]["student"] == {"unchanged": 4}
    assert report.changes == 0


def test_seen_rows_deleted_after_run(store: StoreHandle, tmp_path: Path) -> None:
    folder = pkg.write_package(tmp_path / "p", pkg.city(students=2))
    ingest(store, folder)

    ingest(store, folder)

    assert SeenRecord.select().count() == 0


def test_repeated_unchanged_row_counted(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    tables["users"].append(dict(tables["users"][-1]))
    folder = pkg.write_package(tmp_path / "p", tables)

    first = ingest(store, folder)
    second = ingest(store, folder)

    assert first.counts["decisions"]["student"] == {"insert": 3, "repeat": 1}
    assert second.counts["decisions"]["student"] == {"unchanged": 3, "repeat": 1}


def test_changed_row_after_unchanged_rejected(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    original = student_record("u2").data
    tables["users"].append(dict(tables["users"][1], givenName="Bình"))

    report = ingest(store, pkg.write_package(tmp_path / "b", tables))

    rejected = Quarantine.get(Quarantine.reason == "ingest.duplicate_local_id")
    assert report.counts["stage"]["rejected"] == {"ingest.duplicate_local_id": 1}
    assert rejected.row == 5
    assert '"first_row":3' in rejected.params
    assert rejected.column == "sourcedId"
    assert student_record("u2").data == original


def test_unchanged_row_after_changed_rejected(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    unchanged = dict(tables["users"][1])
    tables["users"][1]["givenName"] = "Bình"
    tables["users"].append(unchanged)

    report = ingest(store, pkg.write_package(tmp_path / "b", tables))

    rejected = Quarantine.get(Quarantine.reason == "ingest.duplicate_local_id")
    assert report.counts["stage"]["rejected"] == {"ingest.duplicate_local_id": 1}
    assert rejected.row == 5
    assert '"first_row":3' in rejected.params
    assert '"Bình"' in student_record("u2").data


def test_seen_record_not_ended_by_snapshot(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    tables["users"].pop()
    tables["enrollments"].pop()

    report = ingest(store, pkg.write_package(tmp_path / "b", tables))

    states = {r.local_id: r.state for r in Record.select().where(Record.entity == "student")}
    assert report.counts["decisions"]["student"] == {"unchanged": 2, "end": 1}
    assert states == {"u1": "active", "u2": "active", "u3": "ended"}


@pytest.fixture
def ministry_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(pkg.HEADERS, "users", [*pkg.HEADERS["users"], "userMasterIdentifier"])


@pytest.mark.parametrize("holder_changed", [False, True])
def test_identifier_holder_kept_before_newcomer(store: StoreHandle, tmp_path: Path,
                                                 ministry_ids: None, holder_changed: bool) -> None:
    tables = pkg.city(students=3)
    tables["users"][1]["userMasterIdentifier"] = "0123456789"
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    if holder_changed:
        tables["users"][1]["givenName"] = "Bình"
    newcomer = dict(tables["users"][0], sourcedId="u9", userMasterIdentifier="0123456789")
    tables["users"].insert(0, newcomer)

    report = ingest(store, pkg.write_package(tmp_path / "b", tables))

    rejected = Quarantine.get(Quarantine.reason == "ingest.duplicate_ministry_id")
    assert report.counts["stage"]["rejected"] == {"ingest.duplicate_ministry_id": 1}
    assert rejected.row == 2  # the newcomer, although it comes first
    assert '"first_local_id":"u2"' in rejected.params
    assert ('"Bình"' in student_record("u2").data) is holder_changed
    assert not Record.select().where(Record.local_id == "u9").exists()


def test_rejection_examples_first_in_file_order(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    # Row 2 changes u1 and row 5 repeats it unchanged. Row 3 gives u2 unchanged and row 6
    # changes it. Staging rejects row 6 before the duplicate check rejects row 5.
    original_u1 = dict(tables["users"][0])
    tables["users"][0]["givenName"] = "Bình"
    tables["users"].append(original_u1)
    tables["users"].append(dict(tables["users"][1], givenName="Cúc"))

    report = ingest(store, pkg.write_package(tmp_path / "b", tables))

    groups = rejections_by_reason(report.run_id)
    assert [(g["reason"], g["count"]) for g in groups] == [("ingest.duplicate_local_id", 2)]
    assert groups[0]["examples"][0]["row"] == 5


def test_identifier_of_removed_row_taken_over(store: StoreHandle, tmp_path: Path,
                                              ministry_ids: None) -> None:
    tables = pkg.city(students=3)
    tables["users"][1]["userMasterIdentifier"] = "0123456789"
    wrong = dict(tables["users"][0], sourcedId="u9", userMasterIdentifier="0123456789")
    ingest(store, pkg.write_package(tmp_path / "a", {**tables, "users": [wrong, *tables["users"]]}))
    assert not Record.select().where(Record.local_id == "u2").exists()

    # The school removes the wrong row: the pupil takes its record over at once, because no row
    # of the run gives the wrong local id any more.
    second = ingest(store, pkg.write_package(tmp_path / "b", tables))
    third = ingest(store, pkg.write_package(tmp_path / "c", tables))

    assert second.counts["stage"]["rejected"] == {}
    assert second.counts["decisions"]["student"] == {"unchanged": 2, "update": 1}
    assert third.counts["decisions"]["student"] == {"unchanged": 3}
    taken_over = student_record("u2")
    assert taken_over.state == "active"
    assert '"An2"' in taken_over.data
    assert Record.get_by_id(taken_over.id).first_seq < taken_over.last_seq
    enrollment = Record.get((Record.entity == "enrollment") & (Record.local_id == "e2"))
    assert enrollment.state == "active"
