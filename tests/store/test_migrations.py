"""Store steps that change how stored runs are read: each checked on a store left at the step before."""

from __future__ import annotations

import peewee

from gateway.ingest import runs
from gateway.store.migrations import CURRENT_VERSION, SCHEMA_VERSION_KEY, migrate, store_version
from gateway.store.models import Run, StagedRecord, StoreMeta
from tests.support.store import StoreHandle


def _columns(db: peewee.Database, table: str) -> set[str]:
    return {column.name for column in db.get_columns(table)}


def _indexes(db: peewee.Database, table: str) -> set[str]:
    return {index.name for index in db.get_indexes(table)}


def _back_to_version_5(db: peewee.Database) -> None:
    """Give the store the shape step 6 starts from: an ``applied`` flag per staged row."""
    staged, run_table = StagedRecord._meta.table_name, Run._meta.table_name
    db.execute_sql(f"ALTER TABLE {run_table} DROP COLUMN applied_through")
    db.execute_sql(f"ALTER TABLE {staged} ADD COLUMN applied BOOLEAN NOT NULL DEFAULT FALSE")
    db.execute_sql(f"CREATE INDEX {staged}_run_id ON {staged} (run_id)")
    db.execute_sql(f"CREATE INDEX {staged}_run_id_decision_applied ON {staged} (run_id, decision, applied)")
    StoreMeta.update(value="5").where(StoreMeta.key == SCHEMA_VERSION_KEY).execute()


def _staged(run: Run, count: int) -> list[int]:
    ids = []
    for number in range(count):
        row = StagedRecord.insert(run=run.id, entity="organization", local_id=f"org-{number}",
                                  action="upsert", decision="insert", place="{}").execute()
        ids.append(int(row))
    return ids


def test_step_6_keeps_applied_progress(store: StoreHandle) -> None:
    db = store.db
    _back_to_version_5(db)
    interrupted = runs.new_run("ingest", "school-a", "oneroster", None)
    held_run = runs.new_run("ingest", "school-b", "oneroster", None)
    ids = _staged(interrupted, 5)
    _staged(held_run, 2)
    staged = StagedRecord._meta.table_name
    # The first two chunks of the interrupted run committed before it stopped.
    db.execute_sql(f"UPDATE {staged} SET applied = TRUE WHERE id IN ({ids[0]}, {ids[1]})")

    assert migrate(db) == (5, CURRENT_VERSION)

    assert store_version(db) == CURRENT_VERSION
    assert Run.get_by_id(interrupted.id).applied_through == ids[1]
    assert Run.get_by_id(held_run.id).applied_through is None
    assert "applied" not in _columns(db, staged)
    assert {f"{staged}_run_id", f"{staged}_run_id_decision_applied"}.isdisjoint(_indexes(db, staged))
    assert StagedRecord.select().count() == 7


def test_new_store_has_step_6_shape(store: StoreHandle) -> None:
    staged = StagedRecord._meta.table_name
    assert "applied_through" in _columns(store.db, Run._meta.table_name)
    assert "applied" not in _columns(store.db, staged)
    assert f"{staged}_run_id" not in _indexes(store.db, staged)
    assert f"{staged}_run_id_id" in _indexes(store.db, staged)
