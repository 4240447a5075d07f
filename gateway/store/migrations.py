"""The store's own schema version and the steps that bring a store up to it."""

from __future__ import annotations

import logging
from collections.abc import Callable

import peewee
from peewee import fn
from playhouse.migrate import SchemaMigrator

from gateway.errors import ConfigurationError
from gateway.store.models import (
    ALL_MODELS,
    Alias,
    Record,
    Run,
    SeenRecord,
    SequenceState,
    StagedRecord,
    StoreMeta,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION_KEY = "schema_version"


def _create_version_1(db: peewee.Database) -> None:
    db.create_tables(ALL_MODELS, safe=True)
    SequenceState.insert(name="change_log", value=0).on_conflict_ignore().execute()


def _add_record_id_counter(db: peewee.Database) -> None:
    """Reserve record ids from a counter that starts above the highest id in use."""
    highest = Record.select(fn.MAX(Record.id)).scalar() or 0
    SequenceState.insert(name="record_id", value=highest).on_conflict_ignore().execute()


def _add_staged_review(db: peewee.Database) -> None:
    """Give staged rows the review reason that a schema conversion may set."""
    # Step 1 creates tables from the current models, so a store created at
    # version 3 or later already has the column.
    table = StagedRecord._meta.table_name
    if "review" in {column.name for column in db.get_columns(table)}:
        return
    migrator = SchemaMigrator.from_database(db)
    migrator.add_column(table, "review", peewee.TextField(null=True)).run()


def _add_row_hashes(db: peewee.Database) -> None:
    """Give records and staged rows the digest of the source row they were mapped from."""
    migrator = SchemaMigrator.from_database(db)
    for model in (Record, StagedRecord):
        table = model._meta.table_name
        if "row_hash" in {column.name for column in db.get_columns(table)}:
            continue
        migrator.add_column(table, "row_hash", peewee.CharField(max_length=64, null=True)).run()
    index = f"{Record._meta.table_name}_row_hash"
    if index not in {i.name for i in db.get_indexes(Record._meta.table_name)}:
        db.execute_sql(f"CREATE INDEX {index} ON {Record._meta.table_name} (row_hash)")


def _lighten_staged_indexes(db: peewee.Database) -> None:
    """Index staged identifiers only where set: most staged rows carry none."""
    table = StagedRecord._meta.table_name
    for name in ("ministry_id", "personal_id"):
        index = f"{table}_run_id_entity_{name}"
        db.execute_sql(f"DROP INDEX IF EXISTS {index}")
        db.execute_sql(f"CREATE INDEX {index} ON {table} (run_id, entity, {name}) "
                       f"WHERE {name} IS NOT NULL")


def _apply_by_watermark(db: peewee.Database) -> None:
    """Record apply progress on the run, not on each staged row, and drop two staged indexes.

    Apply commits a run's chunks in staged-id order, so one number per run (the
    last staged id applied) is where a resumed run goes on. Marking every staged
    row applied rewrote the whole run and its ``(run, decision, applied)`` index.
    The plain ``run_id`` index repeated the ``(run_id, id)`` one.
    """
    runs, staged = Run._meta.table_name, StagedRecord._meta.table_name
    if "applied_through" not in {column.name for column in db.get_columns(runs)}:
        migrator = SchemaMigrator.from_database(db)
        migrator.add_column(runs, "applied_through", peewee.BigIntegerField(null=True)).run()
    if "applied" in {column.name for column in db.get_columns(staged)}:
        # A run stopped while applying resumes after the last row its committed chunks marked.
        db.execute_sql(f"UPDATE {runs} SET applied_through = (SELECT MAX(s.id) FROM {staged} s "
                       f"WHERE s.run_id = {runs}.id AND s.applied = TRUE)")
        db.execute_sql(f"DROP INDEX IF EXISTS {staged}_run_id_decision_applied")
        db.execute_sql(f"ALTER TABLE {staged} DROP COLUMN applied")
    db.execute_sql(f"DROP INDEX IF EXISTS {staged}_run_id")


def _add_seen_records(db: peewee.Database) -> None:
    """Keep the records a run gave unchanged apart from its staged rows (``SeenRecord``).

    The stager then needs only the id and entity of a record by row hash, which an
    index on (row_hash, source, state, entity) gives without reading the record row.
    """
    db.create_tables([SeenRecord], safe=True)
    if isinstance(db, peewee.SqliteDatabase):
        # Rows keyed by their primary key alone: one B-tree to write instead of two. The
        # table has rows only while a run is live, so it is created again empty.
        seen, runs = SeenRecord._meta.table_name, Run._meta.table_name
        db.execute_sql(f"DROP TABLE {seen}")
        db.execute_sql(
            f"CREATE TABLE {seen} (run_id INTEGER NOT NULL REFERENCES {runs} (id) ON DELETE CASCADE, "
            f"record_id INTEGER NOT NULL, entity VARCHAR(64) NOT NULL, place TEXT NOT NULL, "
            f"repeats INTEGER NOT NULL, PRIMARY KEY (run_id, record_id)) WITHOUT ROWID")
    table = Record._meta.table_name
    db.execute_sql(f"DROP INDEX IF EXISTS {table}_row_hash")
    db.execute_sql(f"CREATE INDEX IF NOT EXISTS {table}_row_hash_source_state_entity "
                   f"ON {table} (row_hash, source, state, entity)")


def _add_alias_content_hashes(db: peewee.Database) -> None:
    """Keep on each local id the hash of the content its source gave last (``Alias.content_hash``).

    Existing aliases get none: the first run after the upgrade records it.
    """
    table = Alias._meta.table_name
    if "content_hash" not in {column.name for column in db.get_columns(table)}:
        migrator = SchemaMigrator.from_database(db)
        migrator.add_column(table, "content_hash",
                            peewee.CharField(max_length=64, null=True)).run()


def _add_staged_keep_fields(db: peewee.Database) -> None:
    """Give staged rows the record paths whose stored value an update keeps."""
    table = StagedRecord._meta.table_name
    if "keep_fields" in {column.name for column in db.get_columns(table)}:
        return
    migrator = SchemaMigrator.from_database(db)
    migrator.add_column(table, "keep_fields", peewee.TextField(null=True)).run()


# Step N brings a store from version N-1 to N. Steps are never edited once released.
STEPS: list[Callable[[peewee.Database], None]] = [
    _create_version_1,
    _add_record_id_counter,
    _add_staged_review,
    _add_row_hashes,
    _lighten_staged_indexes,
    _apply_by_watermark,
    _add_seen_records,
    _add_alias_content_hashes,
    _add_staged_keep_fields,
]
CURRENT_VERSION = len(STEPS)


def store_version(db: peewee.Database) -> int:
    """Return the store's schema version; 0 for an empty database."""
    if not db.table_exists(StoreMeta._meta.table_name):
        return 0
    row = StoreMeta.get_or_none(StoreMeta.key == SCHEMA_VERSION_KEY)
    return int(row.value) if row else 0


def migrate(db: peewee.Database) -> tuple[int, int]:
    """Apply every missing step, each in its own transaction; return (before, after)."""
    before = store_version(db)
    if before > CURRENT_VERSION:
        raise ConfigurationError("error.store_too_new", found=before, supported=CURRENT_VERSION)
    for number in range(before + 1, CURRENT_VERSION + 1):
        with db.atomic():
            STEPS[number - 1](db)
            StoreMeta.insert(key=SCHEMA_VERSION_KEY, value=str(number)).on_conflict(
                conflict_target=[StoreMeta.key], preserve=[StoreMeta.value]
            ).execute()
        log.info("store migrated", extra={"gateway_fields": {"version": number}})
    return before, CURRENT_VERSION


def require_current(db: peewee.Database) -> None:
    """Raise ``ConfigurationError`` unless the store is at the current version."""
    found = store_version(db)
    if found != CURRENT_VERSION:
        raise ConfigurationError("error.store_not_migrated", found=found, expected=CURRENT_VERSION)
