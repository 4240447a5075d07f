"""Stage: read a package through the mappings into staging and quarantine.

Every row is read once. Each mapping of its stream whose row filter accepts the
row maps it. A good record is staged, and a bad one is quarantined with its
place and reason. The bad row's local id is still staged as ``seen``, so a bulk
snapshot does not end the existing record. Staged rows and
quarantine rows are written in committed chunks.

A row is hashed before it is mapped. The digest covers the cells its mapping
reads and what else decides the result: the mapping version, the stream's
headers and properties, the code lists, their source packages, the schema
versions and the gateway release. A stored record of the same source that
carries the same row hash came from the same input, so the row is taken as
unchanged without mapping it again. Every row is still read and compared, and
only the mapping of unchanged rows is saved.

A row that gives a stored record unchanged gets no staged row, because
compare, the reference check and apply have nothing to do for it. Its record
id goes into ``SeenRecord``, which keeps a bulk snapshot from ending the
record and counts the rows that repeat it. An earlier changed row of the same
record is the exception, described at ``Stager._stage_unchanged``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import TYPE_CHECKING, Any

import peewee

from adapters.base import Package, Scope, SourceRow, Stream
from gateway import __version__
from gateway.clock import utcnow
from gateway.codelists import load_codelists
from gateway.entities import Entity, load_entities
from gateway.errors import GatewayError, InputError, Place, RowError, table_label
from gateway.ingest import runs
from gateway.ingest.dropped import DroppedFields
from gateway.ingest.given import Differing, TitleCheck, TitleSchoolError, with_given_columns
from gateway.ingest.kept import keep_fields_text, kept_paths
from gateway.ingest.uncalculated import name_uncalculated
from gateway.logs import fields
from gateway.mapping.compiler import CompiledMapping, DroppedField, MissingColumns, column_groups
from gateway.mapping.spec import MappingSpec, canonical_json
from gateway.schema_versions import upgrade
from gateway.store.bulk import (
    execute_counted,
    execute_many,
    in_lists,
    insert_dicts,
    json_text,
    select_rows,
)
from gateway.store.database import write_transaction
from gateway.store.models import Alias, Quarantine, Record, Run, SeenRecord, StagedRecord
from gateway.text import match_key
from gateway.validation import get_registry

if TYPE_CHECKING:
    from gateway.ingest.date_order import DateOrders

log = logging.getLogger(__name__)


@dataclass
class Snapshot:
    """A bulk stream's claim to be complete for one entity within a scope."""

    entity: str
    stream: str
    scope: Scope


@dataclass(slots=True)
class _Raw:
    """A row accepted by a mapping, waiting for its chunk's lookup of stored row hashes."""

    stream: Stream
    mapping: CompiledMapping
    cells: list[str]
    line: int
    row_hash: str | None  # None when the row cannot be hashed unambiguously
    origins: dict[str, Place] | None = None  # cells joined from other files, by header
    uncalculated: dict[str, str] | None = None  # formula cells stored without a value, by header

    @property
    def place(self) -> Place:
        # Built only for a row that is mapped: most rows of a re-read export are not.
        return Place(file=self.stream.file, sheet=self.stream.sheet, row=self.line)


_Known = tuple[int, str]
"""The record id and entity of the stored record that a row hash names."""


@dataclass
class _Details:
    """The keys and the school that a staged unchanged row carries besides its record id."""

    local_id: str
    content_hash: str
    ministry_id: str | None
    personal_id: str | None
    scope_school: str | None


@dataclass
class _Pending:
    """A mapped record waiting for its chunk's lookup of stored hashes."""

    stream: Stream
    mapping: CompiledMapping
    cells: list[str]
    place: Place
    local_id: str
    record: dict[str, Any]
    document: str
    digest: str
    schema_version: int  # the mapping's version, or the current one the record was upgraded to
    review: str | None  # the upgrade's review as JSON, if it asked for one
    row_hash: str | None
    origins: dict[str, Place] | None = None
    uncalculated: dict[str, str] | None = None
    keep_fields: str | None = None  # the paths whose stored value the row keeps, see ``kept``


KeyColumns = dict[tuple[str | None, str, str], str]
"""The header that gave each field, by (file, entity, field), for rejections decided after staging."""

UnreadEntities = dict[tuple[str | None, str | None], dict[str, str]]
"""By (file, sheet): each entity whose mapping lacked columns there, with those columns."""


class _Claims:
    """The stored records that rows of the run gave, unchanged or changed: one bit per record id.

    Two bitmaps of about one eighth of a byte per stored record, so memory does
    not grow with the rows read.
    """

    def __init__(self) -> None:
        self._unchanged = bytearray()
        self._changed = bytearray()

    def unchanged(self, record_id: int) -> bool:
        return bit_is_set(self._unchanged, record_id)

    def changed(self, record_id: int) -> bool:
        return bit_is_set(self._changed, record_id)

    def claim_unchanged(self, record_id: int) -> None:
        set_bit(self._unchanged, record_id)

    def claim_changed(self, record_id: int) -> None:
        set_bit(self._changed, record_id)


def bit_is_set(bits: bytearray, number: int) -> bool:
    index = number >> 3
    return index < len(bits) and bool(bits[index] >> (number & 7) & 1)


def set_bit(bits: bytearray, number: int) -> None:
    index = number >> 3
    if index >= len(bits):
        bits.extend(bytes(index + 1 - len(bits) + 4096))
    bits[index] |= 1 << (number & 7)


@dataclass
class StageResult:
    rows_read: Counter[str] = field(default_factory=Counter)
    staged: Counter[str] = field(default_factory=Counter)
    ends_requested: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    # Rows of a stream whose every mapping lacks a column, by stream.
    unmapped: Counter[str] = field(default_factory=Counter)
    unread_entities: UnreadEntities = field(default_factory=dict)
    rejected: Counter[str] = field(default_factory=Counter)
    # Rows stored without an ``on_error: drop`` object, by "entity.object".
    dropped: Counter[str] = field(default_factory=Counter)
    notices: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    entities: set[str] = field(default_factory=set)
    columns: KeyColumns = field(default_factory=dict)
    # The entities whose stream could not be read or mapped, with the file: references to
    # their records find none, for a reason that a notice already gives.
    unread_files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_read": dict(self.rows_read),
            "staged": dict(self.staged),
            "ends_requested": dict(self.ends_requested),
            "skipped": dict(self.skipped),
            "unmapped": dict(self.unmapped),
            "rejected": dict(self.rejected),
            "dropped": dict(self.dropped),
        }


def content_hash(schema_version: int, document: str) -> str:
    """Hash what decides "changed": the schema version and the record's canonical JSON text."""
    return hashlib.sha256(f"{schema_version}:{document}".encode()).hexdigest()


_UNIT = "\x1f"
_ROW_MARK = 987654321987


def row_context(mapping: CompiledMapping, stream: Stream, entities: dict[str, Entity]) -> bytes:
    """Return the digest of everything besides the cells that decides what a row maps to."""
    context: dict[str, Any] = {
        "gateway": __version__,
        "mapping": mapping.version_id,
        "headers": list(stream.headers),
        "columns": list(mapping.read_columns),
        "properties": dict(sorted(stream.properties.items())),
        "schemas": sorted((name, e.current_version) for name, e in entities.items()),
        "codelists": sorted(f"{name}@{version}" for name, version in load_codelists()),
        # A list built from a package changes with the package, under the same list version.
        "packages": _source_packages(),
    }
    school_field = required_school_field(mapping.spec, stream, entities)
    if school_field:
        # A row without a school is rejected in such a stream. Stored records of rows read
        # before that rule must not count as unchanged by their row hash alone.
        context["school_required"] = school_field
    return hashlib.blake2b(canonical_json(context).encode(), digest_size=16).digest()


def required_school_field(spec: MappingSpec, stream: Stream, entities: dict[str, Entity]) -> str | None:
    """Return the field that must name the school of each record the mapping gives, if one must.

    A stream scoped to the schools its rows name (a school export) ends only the records
    of those schools. A record without a school lies outside every such scope, so no later
    list could end it, and the row that gives it is rejected instead.
    """
    entity = entities.get(spec.entity)
    if entity is None or not stream.scope.named_schools:
        return None
    return entity.scope_school


def _source_packages() -> dict[str, str]:
    """Return the installed version of each package that a code list is built from."""
    found = {}
    for codelist in load_codelists().values():
        package = (codelist.source or {}).get("package")
        if package:
            try:
                found[package] = metadata.version(package)
            except metadata.PackageNotFoundError:
                found[package] = ""
    return found


def row_hash(context: bytes, cells: list[str], columns: tuple[int, ...]) -> str | None:
    """Return the digest of the ``columns`` of one row under its mapping ``context``.

    Only the cells the mapping reads count, so the school columns that every
    pupil row of a list repeats give the school's record one hash. Return None
    when a cell contains the separator itself, so that two different rows never
    join to the same text.
    """
    width = len(cells)
    read = [cells[i] if i < width else "" for i in columns]
    joined = _UNIT.join(read)
    if joined.count(_UNIT) != max(len(read) - 1, 0):
        return None
    return hashlib.blake2b(context + joined.encode(), digest_size=20).hexdigest()


class Stager:
    """Stager of one package for one run, with the chunk buffers and the counters."""

    def __init__(self, db: peewee.Database, run: Run, specs: list[MappingSpec], chunk_size: int,
                 progress: Any = None, given: Mapping[str, str] | None = None,
                 school_columns: tuple[str, ...] = (), date_orders: DateOrders | None = None):
        self.db = db
        # Collects the month-first evidence of day-first date columns, for reject_unknown_order.
        self._date_orders = date_orders
        # The adapter's school code and name columns, which ``--school`` can give a list.
        self._school_keys = {match_key(name) for name in school_columns}
        # Columns whose value the run is given (``gateway ingest --school``), see ``given``.
        self.given = dict(given or {})
        self._differing = Differing()
        self.titles = TitleCheck(self.given, school_columns)
        self.run = run
        self.specs = specs
        self.chunk_size = chunk_size
        self.progress = progress
        self.entities: dict[str, Entity] = load_entities()
        self.schemas = get_registry()
        self.result = StageResult()
        self._dropped = DroppedFields()
        self._staged: list[tuple[Any, ...]] = []  # in the column order of INSERT_STAGED
        self._seen: list[tuple[int, int, str, str]] = []  # in the column order of UPSERT_SEEN
        # By (file, sheet), for _place_text: a stream object's id may be reused by the next one.
        self._place_parts: dict[tuple[str | None, str | None], tuple[str, str]] = {}
        self._claims = _Claims()
        self._quarantined: list[dict[str, Any]] = []
        self._raw: list[_Raw] = []
        self._contexts: dict[int, bytes] = {}
        # (row hash, record id) of stored records whose content matched but whose row hash did not.
        self._learned: list[tuple[str, int]] = []
        # The (entity, scope) pairs of the streams with unreadable rows, whose keys are unknown,
        # and the number of those rows.
        self._unread_scopes: set[tuple[str, Scope]] = set()
        self._unread_rows = 0
        # The same for rows that were read but rejected without a local id (an empty
        # "sourcedId"), because they may be the row of a stored record too. They are kept by
        # place, so that a row rejected for several entities counts once.
        self._idless_scopes: set[tuple[str, Scope]] = set()
        self._idless_rows: set[tuple[str | None, str | None, int | None]] = set()
        # The same for the rows of tables whose title names another school than the given one.
        self._title_rejected_scopes: set[tuple[str, Scope]] = set()
        self._title_rejected_rows = 0
        self._stored_ids = self._stored_identifiers_sql()
        # (file, mapping, field) already warned about by ``_warn_partial_columns``.
        self._partial_warned: set[tuple[str | None, str, str]] = set()

    def _entities_holding(self, mappings: Sequence[CompiledMapping],
                          cells: list[str]) -> list[CompiledMapping]:
        """Return the mappings whose entity has an active record of this source under the row's id.

        Only deletion rows that no row filter takes come here, so the lookups are few. Without
        it, a pupil's deletion row would also be counted as an unchanged staff member.
        """
        holding = []
        for mapping in mappings:
            local_id = mapping.local_id(cells)
            if local_id and Record.select().where(
                    (Record.entity == mapping.spec.entity) & (Record.source == self.run.source)
                    & (Record.local_id == local_id) & (Record.state == "active")).exists():
                holding.append(mapping)
        return holding

    # -- package and streams -----------------------------------------------

    def stage_package(self, package: Package) -> StageResult:
        for stream in package.streams():
            rejection = self.titles.rejection(stream)
            # A table whose rows are rejected for their title takes nothing from it.
            given = self.given if rejection is not None else self.titles.given_for(stream, self.given)
            self._stage_stream(with_given_columns(stream, given, self._differing, rejection))
        self._flush()
        for notice in package.notices:
            self._notice(notice.level, notice.error)
            if notice.level == "error" and notice.stream is not None:
                self._mark_unread(notice.stream, notice.error.place.file or notice.stream)
        for warning in self._dropped.warnings(self.run.id):
            self._notice("warning", warning)
        for column, count in self._differing.counts.items():
            self._notice("warning", InputError(
                "ingest.given_column_differs", place=self._differing.first[column],
                column=column, value=self.given[column], count=count))
        self._distrust_snapshots()
        return self.result

    def _mark_unread(self, stream: str, file: str) -> None:
        for spec in self.specs:
            if spec.stream == stream:
                self.result.unread_files.setdefault(spec.entity, file)

    def _distrust_snapshots(self) -> None:
        """End nothing by absence where the input could not be read in full.

        A school whose file is damaged is absent from every bulk stream of a folder
        export, and ending its records would lose good data: an unreadable file, table
        or mapping stops every end by absence. An unreadable row stops the ends by
        absence of its stream's entities in their scope. Rows that ask for an end
        explicitly still end their records.
        """
        if not self.result.snapshots:
            return
        unread = sum(1 for notice in self.result.notices if notice["level"] == "error")
        if unread:
            self.result.snapshots.clear()
            self._notice("warning", InputError("ingest.absent_not_ended", unread=unread))
            return
        # A row that could not be read may be the row of a record the store has: the
        # snapshot of its entity and scope does not show which records are absent.
        for scopes, key, count in ((self._unread_scopes, "ingest.absent_not_ended_rows",
                                    self._unread_rows),
                                   (self._idless_scopes, "ingest.absent_not_ended_no_id",
                                    len(self._idless_rows)),
                                   (self._title_rejected_scopes, "ingest.absent_not_ended_title",
                                    self._title_rejected_rows)):
            distrusted = [s for s in self.result.snapshots if (s.entity, s.scope) in scopes]
            if distrusted:
                entities = ", ".join(dict.fromkeys(s.entity for s in distrusted))
                self.result.snapshots[:] = [s for s in self.result.snapshots if s not in distrusted]
                self._notice("warning", InputError(key, entities=entities, count=count))

    def _notice(self, level: str, error: GatewayError) -> None:
        entry = {"level": level, **error.as_dict()}
        self.result.notices.append(entry)
        log.info("package notice", extra=fields(run_id=self.run.id, level=level, notice=error.key))

    def _columns_missing_key(self, names: Sequence[str]) -> str:
        """Return the missing-columns message, the one that names ``--school`` for a school column."""
        if any(match_key(name) in self._school_keys for name in names):
            return "ingest.columns_missing_school"
        return "ingest.columns_missing"

    def _compile(self, stream: Stream) -> list[CompiledMapping]:
        compiled = []
        # Mapping labels by the missing columns, so that each gap is reported once per stream.
        missing: dict[tuple[str, ...], list[str]] = {}
        for spec in self.specs:
            if spec.stream != stream.name:
                continue
            try:
                mapping = CompiledMapping(spec, stream.headers, stream.properties)
            except MissingColumns as exc:
                self._not_read(stream, spec, exc.names, missing)
                continue
            missing_school = self._missing_school_columns(mapping, stream)
            if missing_school:
                self._not_read(stream, spec, missing_school, missing)
                continue
            compiled.append(mapping)
            self._warn_partial_columns(mapping, stream)
            for plan in mapping.fields:
                if plan.column:
                    self.result.columns.setdefault((stream.file, spec.entity, plan.name), plan.column)
            self._contexts[id(mapping)] = row_context(mapping, stream, self.entities)
            claimed = {(s.entity, s.scope) for s in self.result.snapshots}
            if stream.mode == "bulk" and (spec.entity, stream.scope) not in claimed:
                # One snapshot per entity and scope: a folder of 1,000 school files is
                # one snapshot, not 1,000 identical ones to check.
                self.result.snapshots.append(Snapshot(spec.entity, stream.name, stream.scope))
            self.result.entities.add(spec.entity)
        for names, labels in missing.items():
            self._notice("error", InputError(
                self._columns_missing_key(names), place=Place(file=stream.file, sheet=stream.sheet),
                mapping=", ".join(labels), count=len(labels), columns=" | ".join(names),
            ))
        return compiled

    def _warn_partial_columns(self, mapping: CompiledMapping, stream: Stream) -> None:
        """Warn once per file and field when the stream has some of a date's part columns only.

        The field stays empty in every row, which without a word would lose the date unnoticed.
        """
        for field_name, present, missing in mapping.partial_columns:
            key = (stream.file, mapping.spec.label, field_name)
            if key in self._partial_warned:
                continue
            self._partial_warned.add(key)
            self._notice("warning", InputError(
                "ingest.date_parts_incomplete", place=Place(file=stream.file, sheet=stream.sheet),
                mapping=mapping.spec.label, field=field_name, present=", ".join(present),
                missing=", ".join(missing)))

    def _not_read(self, stream: Stream, spec: MappingSpec, names: Sequence[str],
                  missing: dict[tuple[str, ...], list[str]]) -> None:
        """Record that ``stream`` is not read for ``spec`` because it lacks the columns ``names``."""
        missing.setdefault(tuple(names), []).append(spec.label)
        table = self.result.unread_entities.setdefault((stream.file, stream.sheet), {})
        table.setdefault(spec.entity, " | ".join(names))
        self.result.unread_files.setdefault(spec.entity, stream.file)

    def _missing_school_columns(self, mapping: CompiledMapping, stream: Stream) -> list[str]:
        """Return the column names of the school field when a stream that must give it lacks them.

        Without the column every row would be rejected one by one, so the stream is not
        read for this mapping, as for a required column that is absent.
        """
        field_name = required_school_field(mapping.spec, stream, self.entities)
        definition = mapping.spec.document["fields"].get(field_name) if field_name else None
        if definition is None or mapping.column_of(field_name) is not None:
            return []
        return [name for group in column_groups(definition) for name in group]

    def _stage_stream(self, stream: Stream) -> None:
        mappings = self._compile(stream)
        log.info("stream staging", extra=fields(run_id=self.run.id, stream=stream.name,
                                                 mappings=len(mappings), mode=stream.mode))
        for source_row in stream.rows:
            self.result.rows_read[stream.name] += 1
            self._stage_row(stream, mappings, source_row)
            if len(self._staged) + len(self._quarantined) + len(self._raw) >= self.chunk_size:
                self._flush()
            if self.progress is not None:
                self.progress.update(1)

    # -- rows --------------------------------------------------------------

    def _stage_row(self, stream: Stream, mappings: list[CompiledMapping], row: SourceRow) -> None:
        if row.error is not None or row.cells is None:
            error = row.error or RowError("ingest.row_unreadable")
            place = Place(file=stream.file, sheet=stream.sheet, row=row.line)
            # A row rejected for its table's title keeps its cells as read (``given``). A row
            # without cells cannot tell whose record it was: the report labels it with every
            # entity that its stream feeds.
            entities = sorted({m.spec.entity for m in mappings})
            self._quarantine(stream, None, error, place, row.cells, headers=stream.headers,
                             row_entities=entities)
            if not mappings:
                return
            # Either row may hold a stored record, so its entities end nothing by absence.
            scopes = {(m.spec.entity, stream.scope) for m in mappings}
            if isinstance(error, TitleSchoolError):
                self._title_rejected_rows += 1
                self._title_rejected_scopes.update(scopes)
            else:
                self._unread_rows += 1
                self._unread_scopes.update(scopes)
            return
        taken = False
        for mapping in mappings:
            if not mapping.applies(row.cells):
                continue
            taken = True
            self._map_row(stream, mapping, row)
        if not taken and any(m.asks_end(row.cells) for m in mappings):
            # A deletion row may leave out the column the row filters read (a OneRoster
            # delta's user row may carry only its id and status), so it ends the record
            # in whichever of the stream's entities has it, or is staged for each of them.
            for mapping in self._entities_holding(mappings, row.cells) or mappings:
                self._map_row(stream, mapping, row)
            return
        if not taken and not mappings and self._has_specs(stream):
            # Every mapping of the stream lacks a column, which a notice reports: the row is
            # in the data model, so it is counted apart from rows that no mapping takes.
            self.result.unmapped[stream.name] += 1
        elif not taken:
            reason = mappings[0].when_value(row.cells) if mappings else ""
            label = f"{stream.name}: {reason}" if reason else stream.name
            self.result.skipped[label] += 1

    def _has_specs(self, stream: Stream) -> bool:
        return any(spec.stream == stream.name for spec in self.specs)

    def _map_row(self, stream: Stream, mapping: CompiledMapping, row: SourceRow) -> None:
        """Queue the row for its chunk: it is mapped at the flush unless its row hash is known."""
        cells = row.cells or []
        if self._date_orders is not None and mapping.day_first_columns:
            # Every row counts, also one that gives its stored record unchanged.
            self._date_orders.note(stream.file, stream.sheet, mapping.spec.entity,
                                   mapping.day_first_columns, cells, row.line)
        self._raw.append(_Raw(stream, mapping, cells, row.line,
                              row_hash(self._contexts[id(mapping)], cells, mapping.read_columns),
                              row.origins, row.uncalculated))

    def _map(self, raw: _Raw) -> _Pending | None:
        """Map one queued row; stage an end or a rejection at once, return a record to check."""
        mapping, entity = raw.mapping, raw.mapping.spec.entity
        place = raw.place
        try:
            mapped = mapping.map(raw.cells, place)
        except RowError as exc:
            self._reject(raw.stream, mapping, raw.cells, exc, origins=raw.origins,
                         uncalculated=raw.uncalculated)
            return None
        if mapped.action == "end":
            self._stage(entity, mapped.local_id, "end", place)
            self.result.ends_requested[entity] += 1
            return None
        row_hash = raw.row_hash
        if mapped.dropped:
            self._count_dropped(entity, mapped.dropped, raw.origins)
        keep = kept_paths(mapping, mapped, raw.cells, raw.uncalculated)
        if keep:
            # Not kept on the record, so that every run maps the row again and warns again.
            # An empty cell and an uncalculated formula give one row hash, and a record
            # that kept a stored value must not pass for the row with the empty cell.
            row_hash = None
        school_field = required_school_field(mapping.spec, raw.stream, self.entities)
        if school_field and not self._scope_school(entity, mapped.record):
            self._reject(raw.stream, mapping, raw.cells, self._school_missing(mapping, school_field, place),
                         origins=raw.origins, uncalculated=raw.uncalculated)
            return None
        version, record, review = mapping.spec.schema_version, mapped.record, None
        if version < self.entities[entity].current_version:
            # Input mapped at an older schema version is stored at the current one.
            converted = upgrade(entity, record, version)
            version, record = converted.version, converted.record
            review = converted.review.to_json() if converted.review else None
        document = canonical_json(record)
        digest = content_hash(version, document)
        return _Pending(raw.stream, mapping, raw.cells, place, mapped.local_id, record,
                        document, digest, version, review, row_hash, raw.origins,
                        raw.uncalculated, keep_fields_text(keep))

    def _count_dropped(self, entity: str, problems: tuple[DroppedField, ...],
                       origins: dict[str, Place] | None) -> None:
        for problem in problems:
            origin = (origins or {}).get(problem.place.column or "")
            if origin is not None:
                # The value was joined from another file: point at the line where it is written.
                problem.place = problem.place.with_(file=origin.file, sheet=origin.sheet,
                                                    row=origin.row)
            self._dropped.add(entity, problem.drop_scope, problem)
            self.result.dropped[f"{entity}.{problem.drop_scope}"] += 1

    @staticmethod
    def _school_missing(mapping: CompiledMapping, field_name: str, place: Place) -> RowError:
        """Return the rejection of a row that names no school, at the school column."""
        definition = mapping.spec.document["fields"].get(field_name, {})
        names = [name for group in column_groups(definition) for name in group]
        column = mapping.column_of(field_name) or (names[0] if names else field_name)
        return RowError("ingest.school_missing", place=place.with_(column=column, field=field_name),
                        column=column, field=field_name)

    def _stage_queued(self) -> None:
        """Stage the chunk's rows in input order; map and validate only what may have changed.

        A row whose hash a stored active record of this source carries is staged
        as unchanged without mapping. Every other row is mapped. A record whose
        content hash equals the stored one was valid when it was stored under the
        same schema version, so it is staged as unchanged without validation, and
        the stored record learns the row hash. Only keys are staged for unchanged
        rows, because the snapshot must still count them while compare and apply
        have nothing to do.
        """
        known = self._known_rows()
        queue: list[tuple[_Raw, _Known] | _Pending] = []
        for raw in self._raw:
            hit = known.get(raw.row_hash) if raw.row_hash else None
            if hit is not None and hit[1] == raw.mapping.spec.entity:
                queue.append((raw, hit))
            elif (mapped := self._map(raw)) is not None:
                queue.append(mapped)
        self._raw.clear()
        stored = self._stored_hashes([item for item in queue if isinstance(item, _Pending)])
        for item in queue:
            if isinstance(item, tuple):
                raw, (record_id, entity) = item
                self._stage_unchanged(entity, self._place_text(raw.stream, raw.line), record_id)
                continue
            entity = item.mapping.spec.entity
            found = stored.get((entity, item.local_id))
            if found is not None and found[1] == item.digest:
                ids = self._identifiers(entity, item.record)
                self._stage_unchanged(entity, _place_json(item.place), found[0], _Details(
                    item.local_id, item.digest, *ids, self._scope_school(entity, item.record)))
                if item.row_hash and found[2] != item.row_hash:
                    self._learned.append((item.row_hash, found[0]))
                continue
            problems = self.schemas.validator(entity, item.schema_version).problems(item.record)
            if problems:
                for problem in problems:
                    problem.place = item.place.with_(
                        field=problem.place.field,
                        column=_column_of(item.mapping, problem.place.field))
                first = problems[0]
                first.others = tuple(problems[1:])
                self._reject(item.stream, item.mapping, item.cells, first, origins=item.origins,
                             uncalculated=item.uncalculated)
                continue
            if found is not None:
                if self._claims.unchanged(found[0]):
                    self._reject_changed_after_unchanged(item, found[0])
                    continue
                self._claims.claim_changed(found[0])
            self._stage(entity, item.local_id, "upsert", item.place, item.mapping, item.record,
                        document=(item.document, item.digest), version=item.schema_version,
                        review=item.review, row_hash=item.row_hash, keep_fields=item.keep_fields)

    def _stored_identifiers_sql(self) -> str:
        """Return the SQL columns that read a stored record's Ministry id and personal id.

        Only entities with these aliases have them, so only their data is parsed.
        """
        columns = []
        for name in ("ministry_id", "personal_id"):
            having = sorted(e.name for e in self.entities.values() if name in e.aliases)
            listed = ", ".join(f"'{entity}'" for entity in having) or "''"
            columns.append(f"CASE WHEN r.entity IN ({listed}) "
                           f"THEN {json_text(self.db, 'r.data', name)} END")
        return ", ".join(columns)

    def _known_rows(self) -> dict[str, _Known]:
        """Return the stored active records of this source that carry a row hash of the chunk."""
        hashes = list({raw.row_hash for raw in self._raw if raw.row_hash})
        found: dict[str, _Known] = {}
        for marks, batch in in_lists(hashes):
            sql = (f"SELECT row_hash, id, entity FROM {Record._meta.table_name} "
                   f"WHERE row_hash IN ({marks}) AND source = ? AND state = 'active'")
            rows = select_rows(self.db, sql, [*batch, self.run.source])
            found.update((digest, (record_id, entity)) for digest, record_id, entity in rows)
        return found

    def _stored_details(self, record_id: int) -> _Details:
        """Read what a staged unchanged row carries from the stored record ``record_id``."""
        sql = (f"SELECT r.local_id, r.content_hash, {self._stored_ids}, r.scope_school "
               f"FROM {Record._meta.table_name} r WHERE r.id = ?")
        local_id, digest, ministry_id, personal_id, school = select_rows(self.db, sql, [record_id])[0]
        return _Details(local_id, digest, _text(ministry_id), _text(personal_id), school)

    def _stored_hashes(self, items: list[_Pending]) -> dict[tuple[str, str], tuple[int, str, str | None]]:
        """Return (record id, content hash, row hash) of this source's active records named in ``items``."""
        wanted: dict[str, list[str]] = {}
        for item in items:
            wanted.setdefault(item.mapping.spec.entity, []).append(item.local_id)
        found: dict[tuple[str, str], tuple[int, str, str | None]] = {}
        for entity, local_ids in wanted.items():
            for marks, values in in_lists(local_ids):
                sql = (f"SELECT a.value, r.id, r.content_hash, r.row_hash "
                       f"FROM {Alias._meta.table_name} a "
                       f"JOIN {Record._meta.table_name} r ON r.id = a.record_id "
                       f"WHERE a.entity = ? AND a.namespace = ? AND r.state = 'active' "
                       f"AND r.source = ? AND a.value IN ({marks})")
                params = [entity, f"src:{self.run.source}", self.run.source, *values]
                for value, record_id, digest, stored_row_hash in select_rows(self.db, sql, params):
                    found[(entity, value)] = (record_id, digest, stored_row_hash)
        return found

    def _identifiers(self, entity: str, record: dict[str, Any]) -> tuple[str | None, str | None]:
        aliases = self.entities[entity].aliases
        return (record.get("ministry_id") if "ministry_id" in aliases else None,
                record.get("personal_id") if "personal_id" in aliases else None)

    def _reject(self, stream: Stream, mapping: CompiledMapping, cells: list[str], error: RowError,
                origins: dict[str, Place] | None = None,
                uncalculated: dict[str, str] | None = None) -> None:
        """Quarantine the row with its problems, ``error`` first, and keep its local id as seen.

        A problem about a cell that contains a formula stored without its value (``uncalculated``)
        is replaced with one that names the formula cell (``name_uncalculated``).
        """
        entity = mapping.spec.entity
        error = name_uncalculated(error, uncalculated, table_label(stream.file, stream.sheet))
        for problem in (error, *error.others):
            origin = (origins or {}).get(problem.place.column or "")
            if origin is not None:
                # The value was joined from another file: point at the line where it is written.
                problem.place = problem.place.with_(file=origin.file, sheet=origin.sheet,
                                                    row=origin.row)
        self._quarantine(stream, entity, error, error.place, cells, stream.headers)
        local_id = mapping.local_id(cells)
        if local_id:
            self._stage(entity, local_id, "seen", error.place)
        elif stream.mode == "bulk":
            # The row may give a stored record whose absence would otherwise end it.
            self._idless_scopes.add((entity, stream.scope))
            self._idless_rows.add((stream.file, stream.sheet, error.place.row))

    def _stage_unchanged(self, entity: str, place: str, record_id: int,
                         details: _Details | None = None) -> None:
        """Keep the id of a record that the row gives unchanged, as a ``SeenRecord``.

        Compare, the reference check and apply have nothing to do for it, so it
        gets no staged row, unless an earlier row of the run changes the same
        record. Then it is staged in full, as an ``unchanged`` decision, so that
        the duplicate check finds the two rows in input order. ``details`` are
        read from the store when the caller does not have them. ``place`` is
        the row's place as JSON text.
        """
        self.result.staged[entity] += 1
        if not self._claims.changed(record_id):
            self._claims.claim_unchanged(record_id)
            self._seen.append((self.run.id, record_id, entity, place))
            return
        found = details or self._stored_details(record_id)
        # The identifiers make a later row with the same one a duplicate. The school puts
        # the row's school among the schools that a school export's snapshot covers.
        self._staged.append((self.run.id, entity, found.local_id, "upsert", place, None,
                             None, found.content_hash, None, None, found.scope_school, None,
                             found.ministry_id, found.personal_id, "unchanged", record_id, None,
                             None))

    def _place_text(self, stream: Stream, line: int) -> str:
        """Return ``_place_json`` of the place of ``line`` in ``stream``, from cached parts."""
        key = (stream.file, stream.sheet)
        parts = self._place_parts.get(key)
        if parts is None:
            # A row number that no file or sheet name contains marks where the number goes.
            text = _place_json(Place(file=stream.file, sheet=stream.sheet, row=_ROW_MARK))
            prefix, _, suffix = text.partition(f'"row":{_ROW_MARK}')
            parts = self._place_parts[key] = (prefix + '"row":', suffix)
        return f"{parts[0]}{line}{parts[1]}"

    def _reject_changed_after_unchanged(self, item: _Pending, record_id: int) -> None:
        """Reject a row that changes a record that an earlier row of the run gave unchanged."""
        first = json.loads(self._seen_place(record_id))
        entity = item.mapping.spec.entity
        column = self.result.columns.get((item.stream.file, entity, "local_id"))
        error = RowError("ingest.duplicate_local_id",
                         place=item.place.with_(column=column, field="local_id"),
                         value=item.local_id, first_local_id=item.local_id,
                         **first_place_params(first))
        self._reject(item.stream, item.mapping, item.cells, error, origins=item.origins,
                     uncalculated=item.uncalculated)

    def _seen_place(self, record_id: int) -> str:
        for row in reversed(self._seen):
            if row[1] == record_id:
                return row[3]
        sql = f"SELECT place FROM {SeenRecord._meta.table_name} WHERE run_id = ? AND record_id = ?"
        rows = select_rows(self.db, sql, [self.run.id, record_id])
        return str(rows[0][0]) if rows else "{}"

    def _scope_school(self, entity: str, record: dict[str, Any]) -> str | None:
        field_ = self.entities[entity].scope_school
        return _text(record.get(field_)) if field_ else None

    def _stage(self, entity: str, local_id: str, action: str, place: Place,
               mapping: CompiledMapping | None = None, record: dict[str, Any] | None = None,
               document: tuple[str, str] | None = None, version: int | None = None,
               review: str | None = None, row_hash: str | None = None,
               keep_fields: str | None = None) -> None:
        if record is None or mapping is None:
            self._staged.append((self.run.id, entity, local_id, action, _place_json(place), None,
                                 None, None, None, None, None, None, None, None, None, None, None,
                                 None))
            return
        definition = self.entities[entity]
        version = version or definition.current_version
        text, digest = document or (canonical_json(record), "")
        ministry_id, personal_id = self._identifiers(entity, record)
        school = self._scope_school(entity, record)
        period = _text(record.get(definition.scope_period)) if definition.scope_period else None
        self.result.staged[entity] += 1
        self._staged.append((self.run.id, entity, local_id, action, _place_json(place), review, text,
                             digest or content_hash(version, text), mapping.version_id, version,
                             school, period, ministry_id, personal_id, None, None, row_hash,
                             keep_fields))

    def _quarantine(self, stream: Stream, entity: str | None, error: GatewayError, place: Place,
                    cells: list[str] | None, headers: list[str],
                    row_entities: list[str] | None = None) -> None:
        """Queue one quarantine row, which counts as one rejected row however many problems it has.

        The row's first problem gives the reason, place and parameters. A row with more than
        one problem (``RowError.others``) also stores every problem, the first included, under
        ``problems`` in the parameters, and the fields of the others under ``other_fields``.
        A row that could not be read has no ``entity``, and ``row_entities`` (stored in the
        parameters) names the entities its stream feeds.
        """
        params = dict(error.as_dict()["params"])
        if row_entities:
            params["row_entities"] = row_entities
        others = error.others if isinstance(error, RowError) else ()
        if others:
            params["other_fields"] = [p.place.field for p in others if p.place.field]
            params["problems"] = [_problem_dict(p) for p in (error, *others)]
        raw = None
        if cells is not None:
            raw = canonical_json(dict(zip(headers, cells, strict=False)))
        self._quarantined.append({
            "run": self.run.id, "source": self.run.source, "stream": stream.name, "entity": entity,
            "file": place.file or stream.file, "sheet": place.sheet, "row": place.row,
            "column": place.column, "field": place.field, "reason": error.key,
            "params": canonical_json(params), "cells": raw, "created_at": utcnow(),
        })
        self.result.rejected[error.key] += 1

    def _flush(self) -> None:
        self._stage_queued()
        if not self._staged and not self._quarantined and not self._seen:
            return
        with write_transaction(self.db):
            execute_many(self.db, INSERT_STAGED, self._staged)
            execute_many(self.db, UPSERT_SEEN, self._seen)
            insert_dicts(self.db, Quarantine, self._quarantined)
            # Not a change of content: the record maps from this row too, so the next
            # run with the same row need not map it.
            execute_many(self.db, LEARN_ROW_HASH, self._learned)
            runs.heartbeat(self.run, {"stage": self.result.as_dict()})
        self._staged.clear()
        self._seen.clear()
        self._quarantined.clear()
        self._learned.clear()


INSERT_STAGED = (
    f"INSERT INTO {StagedRecord._meta.table_name} (run_id, entity, local_id, action, place, review, "
    "data, content_hash, mapping_version, schema_version, scope_school, scope_period, ministry_id, "
    "personal_id, decision, record_id, row_hash, keep_fields) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SEEN = SeenRecord._meta.table_name
# A second row that gives the same record again is counted as a repeat.
UPSERT_SEEN = (
    f"INSERT INTO {_SEEN} (run_id, record_id, entity, place, repeats) VALUES (?, ?, ?, ?, 0) "
    f"ON CONFLICT (run_id, record_id) DO UPDATE SET repeats = {_SEEN}.repeats + 1"
)
LEARN_ROW_HASH = f"UPDATE {Record._meta.table_name} SET row_hash = ? WHERE id = ?"


def _problem_dict(problem: GatewayError) -> dict[str, Any]:
    """Return one problem of a rejected row as the quarantine's ``problems`` list stores it."""
    entry: dict[str, Any] = {"reason": problem.key}
    entry.update((name, value) for name, value in problem.place.as_dict().items()
                 if name in ("column", "field"))
    entry["params"] = problem.as_dict()["params"]
    return entry


def _column_of(mapping: CompiledMapping, field_path: str | None) -> str | None:
    return mapping.column_of(field_path)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return str(value[0]) if value else None
    return str(value)


@lru_cache(maxsize=256)
def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _place_json(place: Place) -> str:
    """Return ``canonical_json(place.as_dict())``, built directly for the usual file-and-row place."""
    if place.column is not None or place.field is not None or place.row is None or place.file is None:
        return canonical_json(place.as_dict())
    text = f'{{"file":{_json_string(place.file)},"row":{int(place.row)}'
    if place.sheet is not None:
        text += f',"sheet":{_json_string(place.sheet)}'
    return text + "}"




def first_place_params(first_place: dict[str, Any]) -> dict[str, Any]:
    """Return the message parameters that name the first row of a repeated key: its row and table.

    The table is the file, with the sheet in brackets, so that a key repeated in another
    file or sheet of the package can be found.
    """
    return {"first_row": first_place.get("row"),
            "first_table": table_label(first_place.get("file") or "", first_place.get("sheet"))}


def mark_duplicates(db: peewee.Database, run: Run, columns: KeyColumns | None = None) -> Counter[str]:
    """Reject later rows that repeat a local id or an identifier of an earlier row of the run.

    The first row keeps its place. Each later one is quarantined with the line
    of the first, because two rows that claim one key cannot both be right, and
    the gateway does not guess which one is. A later row that gives the very same
    record (same local id and content hash) is a harmless repeat and is dropped
    without a rejection. ``columns`` names the header of the repeated key in each rejection.
    """
    rejected: Counter[str] = Counter()
    _drop_repeats(db, run)
    for column, key in (("local_id", "ingest.duplicate_local_id"),
                        ("ministry_id", "ingest.duplicate_ministry_id"),
                        ("personal_id", "ingest.duplicate_personal_id")):
        rejected.update(_reject_duplicates_by(db, run, column, key, columns or {}))
        if column == "local_id":
            # Before the identifiers: the row whose id lost its zeros may carry the same
            # Ministry id, and this message names the cause.
            rejected.update(_reject_ids_without_zeros(db, run, columns or {}))
            rejected.update(_reject_ids_without_zeros_of_seen(db, run, columns or {}))
            rejected.update(_reject_school_codes_without_zeros(db, run, columns or {}))
        else:
            rejected.update(_reject_identifiers_of_seen(db, run, column, key, columns or {}))
    rejected.update(_reject_references_of_duplicates(db, run, columns or {}))
    return rejected


DUPLICATE_ROW_KEY = "ingest.duplicate_row_reference"
# Entities of people: the row that repeats one repeats the person, so the other records of
# that row (an enrollment in the class of the repeated row) are rejected with it. A school
# code repeated with another name is no repeated person, so its row's class stays.
_PEOPLE = ("student", "staff")
# Rejected duplicate rows read per step, so that memory stays bounded in a run of any size.
_DUPLICATE_CHUNK = 500


def _reject_references_of_duplicates(db: peewee.Database, run: Run,
                                     columns: KeyColumns) -> Counter[str]:
    """Reject the records that a rejected duplicate person row gives and that name that person.

    A pupil row that repeats the local id of an earlier row, with other values, is rejected.
    The enrollment of the same input row names the pupil too, and the pupil's record exists
    (from the first row), so the reference check lets it through: a hidden sheet with last
    year's list would enroll every pupil in last year's class as well. Such a staged row, of
    the same file, sheet and row as the rejected one, is rejected with it. Rejections made
    while staging (``_reject_changed_after_unchanged``) count too.
    """
    entities = load_entities()
    dependents = sorted(name for name, entity in entities.items() if _reference_fields(entity))
    rejected: Counter[str] = Counter()
    last_id = 0
    while True:
        people = ", ".join(f"'{name}'" for name in _PEOPLE)
        sql = (f"SELECT id, entity, file, sheet, row, params FROM {Quarantine._meta.table_name} "
               f"WHERE run_id = ? AND reason = 'ingest.duplicate_local_id' "
               f"AND entity IN ({people}) AND id > ? ORDER BY id LIMIT {_DUPLICATE_CHUNK}")
        duplicates = select_rows(db, sql, [run.id, last_id])
        if not duplicates:
            return rejected
        last_id = duplicates[-1][0]
        by_place = {
            _place_json(Place(file=file, sheet=sheet, row=row)): (entity, json.loads(params))
            for _, entity, file, sheet, row, params in duplicates if row is not None
        }
        rejected.update(_reject_dependents(db, run, entities, dependents, by_place, columns))


def _reject_dependents(db: peewee.Database, run: Run, entities: dict[str, Entity],
                       dependents: list[str], by_place: dict[str, tuple[str, dict[str, Any]]],
                       columns: KeyColumns) -> Counter[str]:
    """Reject the staged rows at the places of ``by_place`` that name the duplicated person."""
    table = StagedRecord._meta.table_name
    found = []
    for entity_name in dependents:
        for marks, places in in_lists(sorted(by_place)):
            sql = (f"SELECT id, place, data FROM {table} WHERE run_id = ? AND entity = ? "
                   f"AND action = 'upsert' AND place IN ({marks})")
            for staged_id, place, data in select_rows(db, sql, [run.id, entity_name, *places]):
                person, params = by_place[place]
                field_ = _field_naming(entities[entity_name], json.loads(data or "{}"), person,
                                       str(params.get("value")))
                if field_ is not None:
                    found.append((staged_id, entity_name, place, data, field_, person, params))
    rejected: Counter[str] = Counter()
    with write_transaction(db):
        for staged_id, entity_name, place, data, field_, person, params in found:
            reject_duplicate(run, staged_id, entity_name, place, data, field_, DUPLICATE_ROW_KEY,
                              columns, {"field": field_, "target": person,
                                        "value": params.get("value"),
                                        "first_row": params.get("first_row"),
                                        "first_table": params.get("first_table")})
            rejected[DUPLICATE_ROW_KEY] += 1
    return rejected


def _reference_fields(entity: Entity) -> list[str]:
    return [*entity.references, *entity.references_by_role]


def _field_naming(entity: Entity, record: dict[str, Any], target: str, value: str) -> str | None:
    """Return the reference field of ``record`` that names the ``target`` record ``value``."""
    for field_ in _reference_fields(entity):
        if entity.reference_target(field_, record.get("role")) != target:
            continue
        named = record.get(field_)
        if value in (named if isinstance(named, list) else [named]):
            return field_
    return None


LOST_ZEROS_KEY = "ingest.duplicate_local_id_zeros"
# The first character of an id once its leading zeros are removed: a digit from 1 to 9.
_CORE_STARTS_WITH_DIGIT = ("substr(ltrim({id}, '0'), 1, 1) IN "
                           "('1', '2', '3', '4', '5', '6', '7', '8', '9')")


def _reject_ids_without_zeros(db: peewee.Database, run: Run, columns: KeyColumns) -> Counter[str]:
    """Reject staged rows whose local id another row of the run has with more leading zeros.

    Excel drops the leading zeros of a code in a General cell and never adds any, so of
    "0620010001" and "620010001" in one list the longer id is the one as issued. Its row is
    kept and every shorter one of the same entity is rejected, whatever the row order. Only ids
    that start with a digit once their zeros are removed are compared. The database groups
    the run's rows, so only the groups that repeat an id are read into memory.
    """
    table = StagedRecord._meta.table_name
    condition = _CORE_STARTS_WITH_DIGIT.format(id="local_id")
    sql = (f"SELECT entity, ltrim(local_id, '0'), MAX(LENGTH(local_id)) FROM {table} "
           f"WHERE run_id = ? AND action = 'upsert' AND {condition} "
           f"GROUP BY entity, ltrim(local_id, '0') HAVING COUNT(DISTINCT local_id) > 1")
    rejected: Counter[str] = Counter()
    for entity, core, longest in select_rows(db, sql, [run.id]):
        # Every id of the group is the core with some zeros before it.
        variants = ["0" * zeros + str(core) for zeros in range(int(longest) - len(core) + 1)]
        rows = list(StagedRecord.select().where(
            (StagedRecord.run == run.id) & (StagedRecord.entity == entity)
            & StagedRecord.local_id.in_(variants) & (StagedRecord.action == "upsert"))
            .order_by(peewee.fn.LENGTH(StagedRecord.local_id).desc(), StagedRecord.id))
        kept, *shorter = rows
        params = {"first_local_id": kept.local_id, **first_place_params(json.loads(kept.place))}
        with write_transaction(db):
            for row in shorter:
                reject_duplicate(run, row.id, row.entity, row.place, row.data, "local_id",
                                  LOST_ZEROS_KEY, columns, {"value": row.local_id, **params})
                rejected[LOST_ZEROS_KEY] += 1
    return rejected


def _reject_ids_without_zeros_of_seen(db: peewee.Database, run: Run,
                                      columns: KeyColumns) -> Counter[str]:
    """Reject staged rows whose local id, with one or two more leading zeros, a seen record has.

    The record that another row of the run gave unchanged has no staged row
    (``SeenRecord``), so ``_reject_ids_without_zeros`` does not see it. Without this, the
    second run of the same list would store the row that the first run rejected.
    """
    staged, seen, records = (StagedRecord._meta.table_name, SeenRecord._meta.table_name,
                             Record._meta.table_name)
    condition = _CORE_STARTS_WITH_DIGIT.format(id="s.local_id")
    sql = (
        f"SELECT s.id, s.entity, s.local_id, s.place, s.data, v.place, r.local_id "
        f"FROM {staged} s JOIN {records} r ON r.entity = s.entity AND r.source = ? "
        f"AND r.local_id IN ('0' || s.local_id, '00' || s.local_id) "
        f"JOIN {seen} v ON v.run_id = s.run_id AND v.record_id = r.id "
        f"WHERE s.run_id = ? AND s.action = 'upsert' AND {condition}"
    )
    rejected: Counter[str] = Counter()
    rows = select_rows(db, sql, [run.source, run.id])
    with write_transaction(db):
        for staged_id, entity, value, place_text, data, first_place_text, first_local_id in rows:
            params = {"value": value, "first_local_id": first_local_id,
                      **first_place_params(json.loads(first_place_text or "{}"))}
            reject_duplicate(run, staged_id, entity, place_text, data, "local_id",
                              LOST_ZEROS_KEY, columns, params)
            rejected[LOST_ZEROS_KEY] += 1
    return rejected


SCHOOL_ZEROS_KEY = "ingest.school_code_zeros"


def _reject_school_codes_without_zeros(db: peewee.Database, run: Run,
                                       columns: KeyColumns) -> Counter[str]:
    """Reject staged rows whose school code another row of the run has with more leading zeros.

    A school code in a General cell loses its zeros ("620010" for "0620010"). Such a row would
    be stored under a school that does not exist, outside the scope of the school's snapshot.
    As for local ids, the longest code of a group is the one as issued, and the rows with a
    shorter one are rejected, whatever the row order. The rows that another row of the run gave
    unchanged count too. A run names few schools, so their codes are read into memory.
    """
    firsts = _school_code_places(db, run)
    groups: dict[str, list[str]] = {}
    for code in firsts:
        core = code.lstrip("0")
        if core[:1].isdigit():
            groups.setdefault(core, []).append(code)
    entities = load_entities()
    rejected: Counter[str] = Counter()
    for codes in groups.values():
        if len(codes) < 2:
            continue
        kept, *shorter = sorted(codes, key=len, reverse=True)
        params = {"first_school": kept, **first_place_params(firsts[kept])}
        rows = list(StagedRecord.select().where(
            (StagedRecord.run == run.id) & StagedRecord.scope_school.in_(shorter)
            & (StagedRecord.action == "upsert")).order_by(StagedRecord.id))
        with write_transaction(db):
            for row in rows:
                field_ = entities[row.entity].scope_school or "school_ref"
                reject_duplicate(run, row.id, row.entity, row.place, row.data, field_,
                                  SCHOOL_ZEROS_KEY, columns,
                                  {"value": row.scope_school, "field": field_, **params})
                rejected[SCHOOL_ZEROS_KEY] += 1
    return rejected


def _school_code_places(db: peewee.Database, run: Run) -> dict[str, dict[str, Any]]:
    """Return each school code of the run's rows with the place of one row that has it.

    The rows are the staged ones (the first row of each code) and, for records that a row gave
    unchanged, the seen ones.
    """
    staged, seen, records = (StagedRecord._meta.table_name, SeenRecord._meta.table_name,
                             Record._meta.table_name)
    queries = (
        f"SELECT s.scope_school, s.place FROM {staged} s WHERE s.id IN "
        f"(SELECT MIN(f.id) FROM {staged} f WHERE f.run_id = ? AND f.action = 'upsert' "
        f"AND f.scope_school IS NOT NULL GROUP BY f.scope_school)",
        f"SELECT r.scope_school, v.place FROM {seen} v JOIN {records} r ON r.id = v.record_id "
        f"WHERE v.run_id = ? AND v.record_id IN (SELECT MIN(w.record_id) FROM {seen} w "
        f"JOIN {records} q ON q.id = w.record_id WHERE w.run_id = ? "
        f"AND q.scope_school IS NOT NULL GROUP BY q.scope_school)",
    )
    places: dict[str, dict[str, Any]] = {}
    for sql in queries:
        for code, place in select_rows(db, sql, [run.id] * sql.count("?")):
            places.setdefault(str(code), json.loads(place or "{}"))
    return places


def _holder_row(run: Run, entity: str, column: str, value: str) -> StagedRecord | None:
    """Return the staged row of this source's stored record that has the identifier ``value``.

    The Ministry id and the personal id are permanent. When the pupil whose record
    already has one is among the rows that repeat it, that row is kept and the
    others are rejected, whichever came first.
    """
    holder = (Record.select(Record.local_id)
              .join(Alias, on=(Alias.record == Record.id))
              .where((Alias.entity == entity) & (Alias.namespace == column) & (Alias.value == value)
                     & (Record.source == run.source) & (Record.state == "active"))
              .scalar())
    if holder is None:
        return None
    return (StagedRecord.select()
            .where((StagedRecord.run == run.id) & (StagedRecord.entity == entity)
                   & (StagedRecord.local_id == holder) & (StagedRecord.action == "upsert")
                   & (getattr(StagedRecord, column) == value))
            .order_by(StagedRecord.id).first())


def _reject_identifiers_of_seen(db: peewee.Database, run: Run, column: str, key: str,
                                columns: KeyColumns) -> Counter[str]:
    """Reject staged rows whose identifier belongs to a record that another row gave unchanged.

    Such a record has no staged row (``SeenRecord``), so ``_reject_duplicates_by``
    does not see it. The staged row is the one rejected, whichever came first:
    the unchanged row matches the store, and the message names both rows.
    """
    staged, seen = StagedRecord._meta.table_name, SeenRecord._meta.table_name
    sql = (
        f"SELECT s.id, s.entity, s.{column}, s.place, s.data, v.place, r.local_id "
        f"FROM {staged} s JOIN {Alias._meta.table_name} a ON a.entity = s.entity "
        f"AND a.namespace = '{column}' AND a.value = s.{column} "
        f"JOIN {seen} v ON v.run_id = s.run_id AND v.record_id = a.record_id "
        f"JOIN {Record._meta.table_name} r ON r.id = a.record_id "
        f"WHERE s.run_id = ? AND s.action = 'upsert' AND s.{column} IS NOT NULL "
        f"AND r.local_id <> s.local_id"
    )
    rejected: Counter[str] = Counter()
    rows = select_rows(db, sql, [run.id])
    with write_transaction(db):
        for staged_id, entity, value, place_text, data, first_place_text, first_local_id in rows:
            first_place = json.loads(first_place_text)
            reject_duplicate(run, staged_id, entity, place_text, data, column, key, columns,
                              {"value": value, **first_place_params(first_place),
                               "first_local_id": first_local_id})
            rejected[key] += 1
    return rejected


def reject_duplicate(run: Run, staged_id: int, entity: str, place_text: str, data: str | None,
                      column: str, key: str, columns: KeyColumns, params: dict[str, Any]) -> None:
    """Quarantine the staged row ``staged_id`` as a duplicate of ``column`` and keep it as seen."""
    place = json.loads(place_text)
    Quarantine.create(
        run=run.id, source=run.source, stream=None, entity=entity,
        file=place.get("file"), sheet=place.get("sheet"), row=place.get("row"),
        column=columns.get((place.get("file"), entity, column)), field=column, reason=key,
        params=canonical_json(params), cells=data, created_at=utcnow(),
    )
    # The row's own key was read, so a bulk snapshot must still see it.
    StagedRecord.update(action="seen", data=None, content_hash=None, decision=None,
                        ministry_id=None, personal_id=None).where(
        StagedRecord.id == staged_id).execute()


def staged_entities(db: peewee.Database, run_id: int) -> list[str]:
    """Return the entities that ``run_id`` staged rows of."""
    sql = f"SELECT DISTINCT entity FROM {StagedRecord._meta.table_name} WHERE run_id = ?"
    return [str(row[0]) for row in select_rows(db, sql, [run_id])]


def _drop_repeats(db: peewee.Database, run: Run) -> None:
    """Mark every later row that gives the very record of the first row of its key a ``repeat``.

    One statement per entity: a school or class named on each pupil's row repeats
    thousands of times in a list export. Only keys staged more than once are looked at.
    """
    table = StagedRecord._meta.table_name
    first = (f"(SELECT MIN(g.id) FROM {table} g WHERE g.run_id = {table}.run_id "
             f"AND g.entity = {table}.entity AND g.local_id = {table}.local_id AND g.action = 'upsert')")
    sql = (
        f"UPDATE {table} SET action = 'repeat', decision = 'repeat', data = NULL, "
        f"ministry_id = NULL, personal_id = NULL, row_hash = NULL "
        f"WHERE run_id = ? AND entity = ? AND action = 'upsert' AND content_hash IS NOT NULL "
        f"AND local_id IN (SELECT d.local_id FROM {table} d WHERE d.run_id = ? AND d.entity = ? "
        f"AND d.action = 'upsert' GROUP BY d.local_id HAVING COUNT(*) > 1) "
        f"AND content_hash = (SELECT f.content_hash FROM {table} f WHERE f.id = {first}) "
        f"AND id <> {first}"
    )
    with write_transaction(db):
        for entity in staged_entities(db, run.id):
            execute_counted(db, sql, [run.id, entity, run.id, entity])


def _reject_duplicates_by(db: peewee.Database, run: Run, column: str, key: str,
                          columns: KeyColumns) -> Counter[str]:
    field_ = getattr(StagedRecord, column)
    groups = (
        StagedRecord.select(StagedRecord.entity, field_.alias("value"),
                            peewee.fn.MIN(StagedRecord.id).alias("first_id"))
        .where((StagedRecord.run == run.id) & (StagedRecord.action == "upsert") & field_.is_null(False))
        .group_by(StagedRecord.entity, field_)
        .having(peewee.fn.COUNT(StagedRecord.id) > 1)
    )
    rejected: Counter[str] = Counter()
    for group in list(groups.dicts().iterator()):
        first = StagedRecord.get_by_id(group["first_id"])
        if column != "local_id":
            first = _holder_row(run, group["entity"], column, group["value"]) or first
        first_place = json.loads(first.place)
        later = StagedRecord.select().where(
            (StagedRecord.run == run.id) & (StagedRecord.entity == group["entity"])
            & (field_ == group["value"]) & (StagedRecord.action == "upsert")
            & (StagedRecord.id != first.id)
        )
        with write_transaction(db):
            for row in later:
                if column == "local_id" and row.content_hash and row.content_hash == first.content_hash:
                    # The same record repeated (a class named on every pupil's row, say) is
                    # no conflict: keep the first and let the repeat go without a rejection.
                    row.action, row.data, row.decision = "repeat", None, None
                    row.ministry_id = row.personal_id = None
                    row.save()
                    continue
                reject_duplicate(run, row.id, row.entity, row.place, row.data, column, key, columns,
                                  {"value": group["value"], **first_place_params(first_place),
                                   "first_local_id": first.local_id})
                rejected[key] += 1
    return rejected
