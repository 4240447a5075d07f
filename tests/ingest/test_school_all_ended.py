"""The guard holds a school export that would end every record of an entity in a school.

The per-school ratio check starts at ``guard.min_existing_per_school`` (10) records, so these
schools are smaller. Every list here is synthetic: made-up pupils of made-up schools, written
as CSV files, each test on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from gateway.ingest import service
from gateway.store.models import Run, StagedRecord
from tests.ingest.test_school_scope import active, ingest, pupil_rows, write_lists
from tests.support.store import StoreHandle


def renumbered(rows: list[list[str]], first: int) -> list[list[str]]:
    """Return ``rows`` with other pupil codes: the same school and classes, other pupils."""
    return [[*row[:4], f"{row[1]}{first + index:04d}", *row[5:]] for index, row in enumerate(rows)]


def small_school(school: str = "099001", pupils: int = 6) -> list[list[str]]:
    return pupil_rows(school, classes=("Mầm 1",), per_class=pupils)


def hold_small_school(store: StoreHandle, tmp_path: Path) -> service.RunReport:
    """Store a school of six pupils, then ingest a list of four other pupils of it, which is held."""
    ingest(store, write_lists(tmp_path / "a", {"099001": small_school()}))
    others = renumbered(small_school()[:4], 500)
    return ingest(store, write_lists(tmp_path / "b", {"099001": others}))


def test_small_school_all_replaced_held(store: StoreHandle, tmp_path: Path) -> None:
    report = hold_small_school(store, tmp_path)

    assert report.state == "held"
    students = report.guard["entities"]["student"]
    assert "schools" not in students  # 6 records: below guard.min_existing_per_school
    assert students["schools_all_ended"] == [
        {"school": "099001", "existing": 6, "ended": 6, "inserted": 4}]
    assert active("student", "099001") == 6


def test_school_below_all_ended_minimum_applies(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, write_lists(tmp_path / "a", {"099001": small_school(pupils=2)}))
    others = renumbered(small_school(pupils=2), 500)
    report = ingest(store, write_lists(tmp_path / "b", {"099001": others}))

    assert report.state == "succeeded"
    assert "schools_all_ended" not in report.guard["entities"]["student"]
    assert active("student", "099001") == 2


def test_few_leavers_of_small_school_applied(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, write_lists(tmp_path / "a", {"099001": small_school()}))
    report = ingest(store, write_lists(tmp_path / "b", {"099001": small_school()[:2]}))

    assert report.state == "succeeded"
    assert active("student", "099001") == 2


def test_all_ended_minimum_setting_applies(store: StoreHandle, tmp_path: Path) -> None:
    settings = store.settings.with_overrides({"guard": {"min_existing_all_ended": 7}})
    ingest(store, write_lists(tmp_path / "a", {"099001": small_school()}), settings)
    others = renumbered(small_school(), 500)
    report = ingest(store, write_lists(tmp_path / "b", {"099001": others}), settings)

    assert report.state == "succeeded"
    assert active("student", "099001") == 6


def test_only_emptied_school_named(store: StoreHandle, tmp_path: Path) -> None:
    lists = {"099001": small_school("099001"), "099002": small_school("099002")}
    ingest(store, write_lists(tmp_path / "a", lists))
    changed = {**lists, "099002": renumbered(lists["099002"], 500)}
    report = ingest(store, write_lists(tmp_path / "b", changed))

    assert report.state == "held"
    for entity in ("student", "enrollment"):
        schools = report.guard["entities"][entity]["schools_all_ended"]
        assert [figures["school"] for figures in schools] == ["099002"]


def test_all_ended_school_applies_on_approval(store: StoreHandle, tmp_path: Path) -> None:
    held = hold_small_school(store, tmp_path)
    approved = service.approve(store.db, store.settings, held.run_id, "admin")

    assert approved.state == "succeeded"
    assert active("student", "099001") == 4


def test_all_ended_school_rejected_keeps_pupils(store: StoreHandle, tmp_path: Path) -> None:
    held = hold_small_school(store, tmp_path)
    rejected = service.reject(store.db, store.settings, held.run_id, "admin")

    assert rejected.state == "rejected"
    assert rejected.approved_by == "admin"
    assert Run.get_by_id(held.run_id).finished_at is not None
    assert StagedRecord.select().where(StagedRecord.run == held.run_id).count() == 0
    assert active("student", "099001") == 6
