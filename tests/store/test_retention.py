"""Retention on SQLite and PostgreSQL: old rejected rows go, and the change log is compacted
without changing what a pull reads."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from gateway.clock import utcnow
from gateway.ingest import service
from gateway.retention import compact_change_log, prune
from gateway.store.changelog import horizon, read_changes
from gateway.store.models import ChangeEvent, Quarantine, Record
from tests.support import oneroster as pkg
from tests.support.store import StoreHandle

OLD = timedelta(days=200)


def ingest(store: StoreHandle, folder: Path) -> service.RunReport:
    return service.ingest(store.db, store.settings, folder, "oneroster", "school-a")


def pull(bound: int | None = None) -> list[tuple[int, int, str]]:
    page = read_changes(after=0, limit=10_000, bound=bound)
    return [(event.record_id, event.seq, event.op) for event in page.events]


def test_compaction_keeps_latest_event_per_record(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=3)
    ingest(store, pkg.write_package(tmp_path / "a", tables))
    tables["users"][0]["givenName"] = "Bình"
    ingest(store, pkg.write_package(tmp_path / "b", tables))
    ChangeEvent.update(committed_at=utcnow() - OLD).execute()
    old_bound = horizon()
    old_pull = pull(old_bound)
    tables["users"][1]["givenName"] = "Chi"
    ingest(store, pkg.write_package(tmp_path / "c", tables))
    full_pull = pull()
    first = Record.get(Record.local_id == "u1").id
    second = Record.get(Record.local_id == "u2").id

    deleted = compact_change_log(store.db, store.settings)

    assert deleted == 1
    assert [e.op for e in ChangeEvent.select().where(ChangeEvent.record_id == first)] == ["update"]
    assert [e.op for e in ChangeEvent.select().where(ChangeEvent.record_id == second)
            .order_by(ChangeEvent.seq)] == ["insert", "update"]
    assert pull(old_bound) == old_pull
    assert pull() == full_pull
    assert compact_change_log(store.db, store.settings) == 0


def test_prune_deletes_old_rejections_only(store: StoreHandle, tmp_path: Path) -> None:
    tables = pkg.city(students=2)
    tables["users"][0]["givenName"] = ""
    report = ingest(store, pkg.write_package(tmp_path / "a", tables))
    rejected = Quarantine.select().where(Quarantine.run == report.run_id).count()
    Quarantine.update(created_at=utcnow() - OLD).execute()
    tables["users"][1]["givenName"] = ""
    ingest(store, pkg.write_package(tmp_path / "b", tables))
    total = Quarantine.select().count()

    counts = prune(store.settings)

    assert rejected > 0
    assert counts["quarantine"] == rejected
    assert Quarantine.select().count() == total - rejected
