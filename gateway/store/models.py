"""Peewee models of the store, bound at run time through ``database_proxy``.

Records are never deleted, so internal ids are never reused: an ended record
keeps its row with ``state = "ended"``. JSON documents are stored as text in
canonical form (sorted keys, no spaces) so that the same content gives the same
bytes and the same hash on SQLite and PostgreSQL.
"""

from __future__ import annotations

from peewee import (
    BigAutoField,
    BigIntegerField,
    CharField,
    CompositeKey,
    DatabaseProxy,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

database_proxy = DatabaseProxy()


class BaseModel(Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class StoreMeta(BaseModel):
    """Key-value facts about the store itself, such as its schema version."""

    key = CharField(primary_key=True, max_length=64)
    value = TextField()


class SequenceState(BaseModel):
    """Counters whose row lock orders commits: the change-log sequence is one.

    The committed value of ``change_log`` is the horizon: every sequence number
    at or below it belongs to a committed change.
    """

    name = CharField(primary_key=True, max_length=64)
    value = BigIntegerField(default=0)


class Source(BaseModel):
    """One configured origin of records, created at its first ingest."""

    name = CharField(unique=True, max_length=200)
    adapter = CharField(max_length=64)
    created_at = DateTimeField()


class Record(BaseModel):
    """One canonical entity instance at its entity's current schema version."""

    id = BigAutoField()
    entity = CharField(max_length=64)
    source = CharField(max_length=200)  # the source whose data is current
    local_id = TextField()  # the natural key within ``source``
    schema_version = IntegerField()
    mapping_version = CharField(max_length=64)
    data = TextField()
    content_hash = CharField(max_length=64)
    state = CharField(max_length=16, default="active")
    scope_school = TextField(null=True)
    scope_period = TextField(null=True)
    # Why a person must look at this record, as JSON {"reason": key, "params": {...}}, if anything.
    review = TextField(null=True)
    # Digest of the source row and of everything its mapping read (added by store step 4):
    # a later row with the same digest maps to this very record, so it is not mapped again.
    row_hash = CharField(max_length=64, null=True)
    first_seq = BigIntegerField()
    last_seq = BigIntegerField()
    created_at = DateTimeField()
    updated_at = DateTimeField()

    class Meta:
        indexes = (
            (("entity", "source", "state"), False),
            (("entity", "source", "local_id"), True),
            # Covers the stager's lookup of unchanged rows: no record row is read (store step 7).
            (("row_hash", "source", "state", "entity"), False),
        )


class Alias(BaseModel):
    """The identity crosswalk: (entity, namespace, value) -> record.

    Namespaces are ``src:<source name>`` for local ids, and ``ministry_id`` and
    ``personal_id`` for the identifiers that are the same in every source.
    ``content_hash`` is the hash of the record content that the source of a local
    id gave last. A source that does not own the record keeps its content there
    only, so that a later change of it is seen although it is not applied.
    """

    id = BigAutoField()
    record = ForeignKeyField(Record, backref="aliases", on_delete="CASCADE")
    record_id: int  # set by peewee for the foreign key above
    entity = CharField(max_length=64)
    namespace = CharField(max_length=240)
    value = TextField()
    content_hash = CharField(max_length=64, null=True)

    class Meta:
        indexes = ((("entity", "namespace", "value"), True),)


class ChangeEvent(BaseModel):
    """The append-only change log: one row per insert, update or end, in commit order."""

    seq = BigIntegerField(primary_key=True)
    record_id = BigIntegerField(index=True)
    entity = CharField(max_length=64)
    op = CharField(max_length=16)
    schema_version = IntegerField()
    data = TextField()
    content_hash = CharField(max_length=64)
    source = CharField(max_length=200)
    mapping_version = CharField(max_length=64)
    run_id = BigIntegerField(null=True)
    committed_at = DateTimeField()


class MappingVersion(BaseModel):
    """An immutable mapping version, identified by the hash of its canonical content."""

    id = CharField(primary_key=True, max_length=64)
    adapter = CharField(max_length=64)
    entity = CharField(max_length=64)
    stream = CharField(max_length=128)
    number = IntegerField()
    schema_version = IntegerField()
    state = CharField(max_length=24)  # draft, awaiting_approval, active, retired
    content = TextField()
    origin = TextField(null=True)
    created_at = DateTimeField()
    approved_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("adapter", "entity", "number"), True),)


class SourceMapping(BaseModel):
    """The mapping version a source is pinned to for an entity; without a row, the newest active one."""

    source = CharField(max_length=200)
    entity = CharField(max_length=64)
    mapping_version = ForeignKeyField(MappingVersion)

    class Meta:
        indexes = ((("source", "entity"), True),)


class Run(BaseModel):
    """One execution of a job, with its phase, heartbeat, counts and outcome."""

    id = BigAutoField()
    job = CharField(max_length=32)
    source = CharField(max_length=200)
    adapter = CharField(max_length=64)
    input_path = TextField(null=True)
    state = CharField(max_length=24)
    started_at = DateTimeField()
    heartbeat_at = DateTimeField()
    finished_at = DateTimeField(null=True)
    host = CharField(max_length=255)
    pid = IntegerField()
    counts = TextField(default="{}")
    guard = TextField(null=True)
    notices = TextField(default="[]")
    error = TextField(null=True)
    approved_by = CharField(max_length=200, null=True)
    approved_at = DateTimeField(null=True)
    # The highest staged-row id whose chunk apply has committed (store step 6).
    applied_through = BigIntegerField(null=True)


class SourceLock(BaseModel):
    """At most one live run per source; a lock whose run is dead or stale is taken over."""

    source = CharField(primary_key=True, max_length=200)
    run_id = BigIntegerField()


class StagedRecord(BaseModel):
    """A mapped, valid record of a run, waiting to be compared and applied.

    ``action`` is ``upsert`` (the row is present), ``end`` (the row requests the
    record to end, or the record is absent from a bulk snapshot), ``seen``
    (the row was rejected but its key was read, so a snapshot must not end it)
    or ``repeat`` (the row gave the same record as an earlier row of the run).
    ``decision`` is set by the compare step. ``review`` is the reason, as JSON,
    why a person must look at the record once it is written, if a schema
    conversion could not carry a value over without guessing.
    """

    id = BigAutoField()
    # Not indexed on its own: the (run, id) index below serves every lookup by run.
    run = ForeignKeyField(Run, on_delete="CASCADE", index=False)
    entity = CharField(max_length=64)
    local_id = TextField()
    action = CharField(max_length=16)
    data = TextField(null=True)
    content_hash = CharField(max_length=64, null=True)
    mapping_version = CharField(max_length=64, null=True)
    schema_version = IntegerField(null=True)
    scope_school = TextField(null=True)
    scope_period = TextField(null=True)
    ministry_id = TextField(null=True)
    personal_id = TextField(null=True)
    place = TextField(default="{}")
    review = TextField(null=True)  # added by store step 3
    row_hash = CharField(max_length=64, null=True)  # added by store step 4
    # The record paths that the row could not read, whose stored value compare keeps, as a
    # JSON object of path to reason (``gateway.ingest.kept``). Added by store step 9.
    keep_fields = TextField(null=True)
    decision = CharField(max_length=16, null=True)
    record_id = BigIntegerField(null=True)

    class Meta:
        indexes = (
            (("run", "id"), False),  # lets chunks walk a run's rows in id order
            (("run", "entity", "local_id"), False),
        )


# Most staged rows (classes, enrollments) carry no identifier: the duplicate checks
# only look at rows that do, so only those are indexed (store step 5).
for _name in ("ministry_id", "personal_id"):
    _column = getattr(StagedRecord, _name)
    StagedRecord.add_index(StagedRecord.index(StagedRecord.run, StagedRecord.entity, _column,
                                              where=_column.is_null(False)))


class SeenRecord(BaseModel):
    """A stored record that rows of a run gave again with the same content (store step 7).

    A re-read export repeats most records unchanged. They need no staged row:
    compare, the reference check and apply have nothing to do for them. Only
    their ids are kept, so that a bulk snapshot does not end them, with the
    place of the first such row for a duplicate's message and the number of
    further rows that repeated it.
    """

    run = ForeignKeyField(Run, on_delete="CASCADE", index=False)
    record_id = BigIntegerField()
    entity = CharField(max_length=64)
    place = TextField()
    repeats = IntegerField(default=0)

    class Meta:
        primary_key = CompositeKey("run", "record_id")


class Quarantine(BaseModel):
    """A rejected row: where it came from, why, and its kept cells (readable by admins only)."""

    id = BigAutoField()
    run = ForeignKeyField(Run, on_delete="CASCADE", null=True)
    run_id: int | None  # set by peewee for the foreign key above
    source = CharField(max_length=200)
    stream = CharField(max_length=128, null=True)
    entity = CharField(max_length=64, null=True)
    file = TextField(null=True)
    sheet = TextField(null=True)
    row = IntegerField(null=True)
    column = TextField(null=True)
    field = TextField(null=True)
    reason = CharField(max_length=128)
    params = TextField(default="{}")
    # The row's kept cells by header (or the mapped record), never the dropped columns.
    cells = TextField(null=True)
    created_at = DateTimeField(index=True)


ALL_MODELS = [
    StoreMeta,
    SequenceState,
    Source,
    Record,
    Alias,
    ChangeEvent,
    MappingVersion,
    SourceMapping,
    Run,
    SourceLock,
    StagedRecord,
    SeenRecord,
    Quarantine,
]
