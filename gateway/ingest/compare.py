"""Compare: decide what each staged record means for the store, then check the guard.

The decisions are:

- ``insert``: a new record;
- ``update``: changed content, or an ended record that is back;
- ``unchanged``: the same content hash, or content whose texts differ from the stored ones
  only in tone placement ("Hoà" and "Hòa"), so nothing is written and the stored text stays;
- ``end``: requested by the row, or the record is absent from a bulk snapshot in its scope;
- ``alias``: the record belongs to a source of higher precedence, so only the
  crosswalk learns the new local id. When the row's name, birth date or gender
  (``identity.warn_fields``) differ from the record's, the run gets a warning;
- ``outranked``: a local id linked to a record of a source of higher precedence
  gives other content than it gave last time. The change is not applied, and
  the crosswalk keeps the new content hash, so the change is counted once;
- ``conflict``: an identifier already names another record of this source, so
  the row is quarantined;
- ``seen`` and ``repeat``: a rejected row's key, or a row that repeats an earlier one.

Before the content hashes are compared, a row takes the stored record's values of the paths it
could not read (``gateway.ingest.kept``), so that it never erases them.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import peewee

from gateway.clock import utcnow
from gateway.entities import load_entities
from gateway.ingest.changes import changed_fields
from gateway.ingest.kept import keep_stored, read_keep_fields
from gateway.ingest.stage import LEARN_ROW_HASH, Snapshot, content_hash, staged_entities
from gateway.logs import fields
from gateway.mapping.spec import canonical_json
from gateway.schema_versions import convert
from gateway.store.bulk import execute_counted, execute_many, padded, plain_rows
from gateway.store.database import tuples, write_transaction
from gateway.store.models import Alias, Quarantine, Record, Run, SeenRecord, StagedRecord
from gateway.text import collapse_spaces, match_key, tone_key

log = logging.getLogger(__name__)

CHANGE_DECISIONS = ("insert", "update", "end")
SET_DECISION = f"UPDATE {StagedRecord._meta.table_name} SET decision = ?, record_id = ? WHERE id = ?"
SET_DATA = f"UPDATE {StagedRecord._meta.table_name} SET data = ?, content_hash = ? WHERE id = ?"
SET_ALIAS_HASH = (f"UPDATE {Alias._meta.table_name} SET content_hash = ? "
                  "WHERE entity = ? AND namespace = ? AND value = ?")


# The place of a ``SeenRecord`` kept for a row that names the record under another local id: a
# row that takes it over, or one rejected for a differing field. Such a record is not counted as
# unchanged, because the row counts under its own decision.
KEPT_PLACE = ""
KEEP_SEEN = (
    f"INSERT INTO {SeenRecord._meta.table_name} (run_id, record_id, entity, place, repeats) "
    f"VALUES (?, ?, ?, '{KEPT_PLACE}', 0) ON CONFLICT (run_id, record_id) DO NOTHING"
)


def source_namespace(source: str) -> str:
    return f"src:{source}"


# How many places a warning about linked rows names, per entity.
EXAMPLE_PLACES = 3


@dataclass
class LinkDifferences:
    """Rows of one entity linked to another source's record whose identity fields differ.

    ``examples`` contains the place (file, sheet, row) and the record id of the first rows.
    Only field names are kept, never the values, because they are names and birth dates.
    """

    count: int = 0
    fields: set[str] = field(default_factory=set)
    examples: list[tuple[dict[str, Any], int]] = field(default_factory=list)

    def add(self, place: dict[str, Any], record_id: int, differing: Sequence[str]) -> None:
        self.count += 1
        self.fields.update(differing)
        if len(self.examples) < EXAMPLE_PLACES:
            self.examples.append((place, record_id))


@dataclass
class GuardResult:
    """The guard's figures per entity, and whether they hold the run.

    ``entities[entity]`` has ``existing``, ``changed``, ``ratio`` and ``trips`` for the
    whole scope. For a school export it also has ``schools``: the schools whose own
    figures pass the ratio with at least ``min_existing_per_school`` records, each
    with its code and the same figures, in code order.
    """

    held: bool = False
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_change_ratio: float = 0.0
    min_existing: int = 0
    min_existing_per_school: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"held": self.held, "entities": self.entities,
                "max_change_ratio": self.max_change_ratio, "min_existing": self.min_existing,
                "min_existing_per_school": self.min_existing_per_school}


class Comparer:
    """Sets ``decision`` and ``record_id`` on every staged row of one run."""

    def __init__(self, db: peewee.Database, run: Run, precedence: Mapping[str, Sequence[str]],
                 chunk_size: int = 1000, confirm_fields: Sequence[str] = (),
                 warn_fields: Sequence[str] = ()):
        self.db = db
        self.run = run
        self.namespace = source_namespace(run.source)
        self.precedence = precedence
        self.chunk_size = chunk_size
        self.confirm_fields = tuple(confirm_fields)
        self.warn_fields = tuple(warn_fields)
        # Per entity, the rows linked to another source's record although a warn field differs.
        self.link_differs: dict[str, LinkDifferences] = {}
        self.decisions: defaultdict[str, Counter[str]] = defaultdict(Counter)
        # Rows rejected while deciding, by reason (each is also a ``conflict`` decision).
        self.rejected: Counter[str] = Counter()
        # Per entity, the records taken over under a shorter local id that differs from theirs
        # only in leading zeros, with the first (old id, new id), for a warning to the admin.
        self.zeros_dropped: dict[str, tuple[int, str, str]] = {}
        # Likewise, under a longer local id: the zeros are back, and the notice requests no fix.
        self.zeros_restored: dict[str, tuple[int, str, str]] = {}
        # Per entity, the new records whose local id an active record of this source has with
        # one or two more leading zeros (a school code "99008" beside "099008"), likewise.
        self.zeros_missing: dict[str, tuple[int, str, str]] = {}
        # Per entity, the active records that this run ends for their absence from a snapshot.
        self.ended_absent: Counter[str] = Counter()
        # Per chunk: the content hash on each local id's alias, and the aliases that have none.
        self._alias_hashes: dict[tuple[str, str], str | None] = {}
        self._unknown_hashes: list[tuple[str, str, str, str]] = []
        # Per chunk: (row hash, record id) of rows kept unchanged although their content hash
        # differs, so that the next run with the same row skips mapping it.
        self._learned_row_hashes: list[tuple[str, int]] = []
        # Per chunk: (data, content hash, staged id) of rows that took stored values (``kept``).
        self._kept_data: list[tuple[str, str, int]] = []
        # Rows that kept a stored value, by (entity, path, reason the row lost the path).
        self.kept: Counter[tuple[str, str, str]] = Counter()

    def compare(self, snapshots: list[Snapshot]) -> dict[str, dict[str, int]]:
        had_records = Record.select().where(
            (Record.source == self.run.source) & (Record.state == "active")).exists()
        self._decide_new_keys(zeros=had_records)
        for chunk in self._undecided_chunks():
            self._decide_chunk(chunk)
        if had_records:
            self._find_new_ids_without_zeros()
        for snapshot in snapshots:
            self._stage_absent_ends(snapshot)
        return {entity: dict(counter) for entity, counter in self.decisions.items()}

    def _decide_new_keys(self, zeros: bool) -> None:
        """Decide ``insert`` in one statement for every row whose keys the crosswalk lacks.

        A row is new when no alias names its local id in this source, nor its
        Ministry id or personal id in any source: ``_decide`` would find no record
        and no identifier match. On a first load that is nearly every row, so
        the rows are not read back one chunk at a time to be decided in Python.
        With ``zeros`` (the source has records), a row whose local id differs from
        an alias of this source only in one or two leading zeros is left to
        ``_decide`` too, which may let it take that record over.
        """
        staged, alias = StagedRecord._meta.table_name, Alias._meta.table_name
        absent = [f"NOT EXISTS (SELECT 1 FROM {alias} a WHERE a.entity = s.entity "
                  f"AND a.namespace = ? AND a.value = s.local_id)"]
        params = [self.namespace]
        if zeros:
            absent.append(f"NOT EXISTS (SELECT 1 FROM {alias} a WHERE a.entity = s.entity "
                          f"AND a.namespace = ? AND a.value IN ('0' || s.local_id, "
                          f"'00' || s.local_id, substr(s.local_id, 2), substr(s.local_id, 3)))")
            params.append(self.namespace)
        for namespace in ("ministry_id", "personal_id"):
            absent.append(f"(s.{namespace} IS NULL OR s.{namespace} = '' OR NOT EXISTS "
                          f"(SELECT 1 FROM {alias} a WHERE a.entity = s.entity "
                          f"AND a.namespace = '{namespace}' AND a.value = s.{namespace}))")
        sql = (f"UPDATE {staged} SET decision = 'insert' WHERE id IN (SELECT s.id FROM {staged} s "
               f"WHERE s.run_id = ? AND s.entity = ? AND s.decision IS NULL "
               f"AND s.action = 'upsert' AND {' AND '.join(absent)})")
        with write_transaction(self.db):
            for entity in staged_entities(self.db, self.run.id):
                count = execute_counted(self.db, sql, [self.run.id, entity, *params])
                if count:
                    self.decisions[entity]["insert"] += count

    def _undecided_chunks(self) -> Iterator[list[SimpleNamespace]]:
        last_id = 0
        while True:
            chunk = plain_rows(
                StagedRecord.select()
                .where((StagedRecord.run == self.run.id) & (StagedRecord.id > last_id)
                       & StagedRecord.decision.is_null())
                .order_by(StagedRecord.id)
                .limit(self.chunk_size)
            )
            if not chunk:
                return
            last_id = chunk[-1].id
            yield chunk

    def _find_new_ids_without_zeros(self) -> None:
        """Count the inserts whose local id an active record of this source has with leading zeros.

        Such a row is a new record, because nothing else ties it to the old one (an organization
        or a class has no Ministry id), so the admin is warned that Excel may have dropped zeros.
        """
        last_id = 0
        while True:
            rows = list(tuples(
                StagedRecord.select(StagedRecord.id, StagedRecord.entity, StagedRecord.local_id)
                .where((StagedRecord.run == self.run.id) & (StagedRecord.id > last_id)
                       & (StagedRecord.decision == "insert"))
                .order_by(StagedRecord.id).limit(self.chunk_size)
            ))
            if not rows:
                return
            last_id = rows[-1][0]
            candidates_by_entity: defaultdict[str, dict[str, str]] = defaultdict(dict)
            for _, entity, local_id in rows:
                if str(local_id)[:1].isdigit():
                    for zeros in ("0", "00"):
                        candidates_by_entity[str(entity)][zeros + str(local_id)] = str(local_id)
            for entity, candidates in candidates_by_entity.items():
                query = (
                    Alias.select(Alias.value).join(Record)
                    .where((Alias.entity == entity) & (Alias.namespace == self.namespace)
                           & Alias.value.in_(padded(list(candidates))) & (Record.state == "active")
                           & (Record.local_id == Alias.value))
                )
                for (value,) in tuples(query):
                    _count_example(self.zeros_missing, entity, str(value), candidates[str(value)])

    # -- one chunk ----------------------------------------------------------

    def _decide_chunk(self, chunk: list[SimpleNamespace]) -> None:
        self._alias_hashes = {}
        self._unknown_hashes = []
        self._learned_row_hashes = []
        self._kept_data = []
        by_local = self._records_by_local_id(chunk)
        by_identifier = self._records_by_identifier(chunk, by_local)
        with write_transaction(self.db):
            updates = []
            for staged in chunk:
                record = by_local.get((staged.entity, staged.local_id))
                decision = self._decide(staged, record, by_identifier)
                self.decisions[staged.entity][decision] += 1
                updates.append((decision, staged.record_id, staged.id))
            execute_many(self.db, SET_DECISION, updates)
            execute_many(self.db, SET_DATA, self._kept_data)
            # A link stored before aliases kept content hashes learns its source's content now.
            execute_many(self.db, SET_ALIAS_HASH, self._unknown_hashes)
            execute_many(self.db, LEARN_ROW_HASH, self._learned_row_hashes)

    def _records_by_local_id(self, chunk: list[SimpleNamespace]) -> dict[tuple[str, str], Record]:
        found: dict[tuple[str, str], Record] = {}
        for entity, local_ids in _group(chunk, "local_id").items():
            query = (
                Alias.select(Alias, Record).join(Record)
                .where((Alias.entity == entity) & (Alias.namespace == self.namespace)
                       & Alias.value.in_(padded(local_ids)))
            )
            for alias in query:
                found[(entity, alias.value)] = alias.record
                self._alias_hashes[(entity, alias.value)] = alias.content_hash
        return found

    def _records_by_identifier(self, chunk: list[SimpleNamespace],
                               by_local: dict[tuple[str, str], Record]) -> dict[tuple[str, str, str], Record]:
        """Find records of other sources by Ministry id or personal id, for new local ids."""
        found: dict[tuple[str, str, str], Record] = {}
        pending = [s for s in chunk if s.action == "upsert" and (s.entity, s.local_id) not in by_local]
        for namespace in ("ministry_id", "personal_id"):
            for entity, values in _group(pending, namespace).items():
                query = (
                    Alias.select(Alias, Record).join(Record)
                    .where((Alias.entity == entity) & (Alias.namespace == namespace)
                           & Alias.value.in_(padded(values)))
                )
                for alias in query:
                    found[(entity, namespace, alias.value)] = alias.record
        self._records_by_zeros(pending, found)
        return found

    def _records_by_zeros(self, pending: list[SimpleNamespace],
                          found: dict[tuple[str, str, str], Record]) -> None:
        """Find this source's active records whose local id differs from a new one only in leading zeros.

        Excel drops the zeros of a code typed as a number ("0620010003" becomes "620010003"),
        and a corrected list types them back. Such a row is the record's own, and
        ``_match_by_identifier`` lets it take the record over under the ``"zeros"`` key.
        """
        for entity, local_ids in _group(pending, "local_id").items():
            candidates: dict[str, str] = {}
            for local_id in local_ids:
                if not local_id[:1].isdigit():
                    continue
                for other in ("0" + local_id, "00" + local_id, local_id[1:], local_id[2:]):
                    if other[:1].isdigit() and _differ_in_zeros(local_id, other):
                        candidates.setdefault(other, local_id)
            if not candidates:
                continue
            query = (
                Alias.select(Alias, Record).join(Record)
                .where((Alias.entity == entity) & (Alias.namespace == self.namespace)
                       & Alias.value.in_(padded(list(candidates)))
                       & (Record.source == self.run.source) & (Record.state == "active")
                       & (Record.local_id == Alias.value))
            )
            for alias in query:
                found.setdefault((entity, "zeros", candidates[alias.value]), alias.record)

    # -- one row --------------------------------------------------------------

    def _decide(self, staged: SimpleNamespace, record: Record | None,
                by_identifier: dict[tuple[str, str, str], Record]) -> str:
        if staged.action in ("seen", "repeat"):
            return str(staged.action)
        if staged.action == "end":
            return self._decide_end(staged, record)
        if record is None:
            match, conflict = self._match_by_identifier(staged, by_identifier)
            if conflict:
                return "conflict"
            if match is None:
                return "insert"
            staged.record_id = match.id
            if match.source == self.run.source:
                # The identifier belongs to a record of this source that this run does not give
                # under its own local id, ended or re-keyed. The row is the same pupil under a
                # new local id, so it updates the record or brings it back.
                self._keep_stored_values(staged, match)
                return "update"
            # Another source described this person or school first: learn the local id,
            # and take the data over only with higher precedence.
            if self._outranks(staged.entity, match.source):
                self._keep_stored_values(staged, match)
                return "update"
            self._note_link_differences(staged, match)
            return "alias"
        staged.record_id = record.id
        if record.source == self.run.source and record.local_id != staged.local_id:
            # Found under an earlier local id of the record: the absence check, which compares
            # the current local id, must not end it.
            self._keep(record)
        if record.source != self.run.source and not self._outranks(staged.entity, record.source):
            return self._decide_outranked(staged)
        self._keep_stored_values(staged, record)
        if record.state == "active" and record.source == self.run.source:
            if record.content_hash == staged.content_hash:
                return "unchanged"
            if self._differs_in_tone_only(staged, record):
                if staged.row_hash:
                    self._learned_row_hashes.append((staged.row_hash, record.id))
                return "unchanged"
        return "update"

    def _keep_stored_values(self, staged: SimpleNamespace, record: Record) -> None:
        """Give the row the stored values of the paths it could not read (``gateway.ingest.kept``).

        Called before the content hashes are compared, so a row that differs from ``record``
        only in those paths is unchanged. The row's data and content hash change in place and
        are written back to its staged row with the chunk's decisions.
        """
        paths = read_keep_fields(staged.keep_fields)
        if not paths or not staged.data:
            return
        stored = json.loads(record.data)
        if record.schema_version != staged.schema_version:
            if record.schema_version > staged.schema_version:
                return
            # A record stored before its entity's current schema version is read as
            # ``gateway records migrate`` would convert it.
            stored = convert(staged.entity, stored, record.schema_version,
                             staged.schema_version).record
        data = json.loads(staged.data)
        copied = keep_stored(data, stored, paths)
        if not copied:
            return
        staged.data = canonical_json(data)
        staged.content_hash = content_hash(staged.schema_version, staged.data)
        self._kept_data.append((staged.data, staged.content_hash, staged.id))
        for path in copied:
            self.kept[(staged.entity, path, paths[path])] += 1

    @staticmethod
    def _differs_in_tone_only(staged: SimpleNamespace, record: Record) -> bool:
        """Tell whether the row's content equals the record's but for the tone placement of texts.

        Called only when the content hashes differ, so the common unchanged row is never parsed.
        A row of another schema version is a change, because the record must be written in it.
        """
        if not staged.data or staged.schema_version != record.schema_version:
            return False
        return not changed_fields(json.loads(record.data), json.loads(staged.data))

    def _decide_outranked(self, staged: SimpleNamespace) -> str:
        """Decide a row for a record that a source of higher precedence owns: nothing is applied.

        The row counts as ``outranked`` when its content differs from what this source gave
        last time, so that the report shows changes that the owner's data overrides.
        """
        known = self._alias_hashes.get((staged.entity, staged.local_id))
        if known is None:
            self._unknown_hashes.append((staged.content_hash, staged.entity, self.namespace,
                                         staged.local_id))
            return "unchanged"
        return "unchanged" if known == staged.content_hash else "outranked"

    def _decide_end(self, staged: SimpleNamespace, record: Record | None) -> str:
        if record is None or record.state != "active" or record.source != self.run.source:
            return "unchanged"
        staged.record_id = record.id
        return "end"

    def _match_by_identifier(self, staged: SimpleNamespace,
                             by_identifier: dict[tuple[str, str, str], Record]) -> tuple[Record | None, bool]:
        """Return the record this row's identifiers name, and whether they conflict.

        An active record of this source whose own local id this run also gives is a conflict:
        two local ids claim one pupil. Another record of this source, ended or absent from the
        run, is returned like another source's record, because the Ministry id and the personal
        number are permanent. Without this, a pupil re-keyed by the product, or whose identifier
        a wrong row once took, could never be stored again. The confirm fields must agree in
        every case, so a mistyped identifier does not turn one pupil's record into another's.
        """
        for namespace in ("ministry_id", "personal_id"):
            value = getattr(staged, namespace)
            record = by_identifier.get((staged.entity, namespace, value)) if value else None
            if record is None:
                continue
            active_here = record.source == self.run.source and record.state == "active"
            if active_here and self._gives_local_id(record):
                self._quarantine_conflict(staged, namespace, value, record)
                return None, True
            differing = self._differing_field(staged, record)
            if differing is not None:
                self._quarantine_conflict(staged, namespace, value, record, differing)
                if active_here:
                    # The rejected row names the record, as a rejected row with its local id would.
                    self._keep(record)
                return None, True
            if active_here:
                # The same pupil under a new local id, and this run does not give the old one
                # (a product re-keyed its pupils, or Excel dropped the codes' leading zeros). The
                # row takes the record over, and the old id's absence does not end it.
                self._keep(record)
                if _differ_in_zeros(staged.local_id, record.local_id):
                    self._count_zeros(staged, record)
            return record, False
        return self._match_by_zeros(staged, by_identifier), False

    def _match_by_zeros(self, staged: SimpleNamespace,
                        by_identifier: dict[tuple[str, str, str], Record]) -> Record | None:
        """Return the record of this source whose local id differs from the row's only in leading zeros.

        Only when this run does not give that record's own local id (both rows in one list
        are a duplicate, rejected at staging) and the confirm fields agree. The row takes
        the record over, so a list whose codes lost their zeros does not end every pupil
        and insert each again, and the corrected list brings the codes back.
        """
        record = by_identifier.get((staged.entity, "zeros", staged.local_id))
        if record is None or self._gives_local_id(record):
            return None
        if self._differing_field(staged, record) is not None:
            return None
        self._keep(record)
        self._count_zeros(staged, record)
        return record

    def _count_zeros(self, staged: SimpleNamespace, record: Record) -> None:
        """Count a row that takes over a record whose id differs from its own in leading zeros.

        A longer id is the stored code with its zeros back (the corrected list after one that
        lost them), which needs no fix, unlike a shorter one.
        """
        found = self.zeros_restored if len(staged.local_id) > len(record.local_id) else self.zeros_dropped
        _count_example(found, staged.entity, record.local_id, staged.local_id)

    def _differing_field(self, staged: SimpleNamespace, record: Record) -> str | None:
        """Return the first confirm field whose values in the row and the record differ."""
        if not self.confirm_fields or not staged.data:
            return None
        ours, theirs = json.loads(staged.data), json.loads(record.data)
        for name in self.confirm_fields:
            mine, other = ours.get(name), theirs.get(name)
            if mine in (None, "") or other in (None, ""):
                continue
            # Text is compared without case, accents or spacing, so that "Thuỷ" and "THỦY"
            # agree, while a date must be the same date.
            if match_key(str(mine)) != match_key(str(other)):
                return name
        return None

    def _note_link_differences(self, staged: SimpleNamespace, record: Record) -> None:
        """Count a row linked to ``record`` whose warn fields differ from the record's.

        The link is made, because the identifier and the confirm fields agree. The admin is
        warned, because two sources that disagree about a pupil's name or gender need a look.
        """
        if not self.warn_fields or not staged.data:
            return
        ours, theirs = json.loads(staged.data), json.loads(record.data)
        differing = [name for name in self.warn_fields
                     if _identity_values_differ(ours.get(name), theirs.get(name))]
        if not differing:
            return
        found = self.link_differs.setdefault(staged.entity, LinkDifferences())
        found.add(json.loads(staged.place or "{}"), int(record.id), differing)

    def _outranks(self, entity: str, owner: str) -> bool:
        """Return whether this run's source may overwrite a record owned by ``owner``.

        Ranks come from the adapters listed in ``identity.precedence``; only a source
        whose adapter is listed strictly earlier takes a record over. With equal
        ranks the first source keeps it, so two sources never overwrite each other
        in turn on every run.
        """
        order = list(self.precedence.get(entity, []))
        owner_adapter = _adapter_of(owner)

        def rank(adapter: str | None) -> int:
            return order.index(adapter) if adapter in order else len(order)

        return rank(self.run.adapter) < rank(owner_adapter)

    def _keep(self, record: Record) -> None:
        """Keep ``record`` from an end by absence: a row of this run gives it under another local id."""
        execute_counted(self.db, KEEP_SEEN, [self.run.id, record.id, record.entity])

    def _gives_local_id(self, record: Record) -> bool:
        """Tell whether a row of this run gives ``record``'s own local id, read or rejected."""
        staged = StagedRecord.select(StagedRecord.id).where(
            (StagedRecord.run == self.run.id) & (StagedRecord.entity == record.entity)
            & (StagedRecord.local_id == record.local_id))
        seen = SeenRecord.select(SeenRecord.record_id).where(
            (SeenRecord.run == self.run.id) & (SeenRecord.record_id == record.id)
            & (SeenRecord.place != KEPT_PLACE))
        return staged.exists() or seen.exists()

    def _quarantine_conflict(self, staged: SimpleNamespace, namespace: str, value: str,
                             record: Record, differing: str | None = None) -> None:
        """Reject a row whose identifier names a record it cannot be: of this source, or a differing one.

        A differing record's values are never copied into the rejection: only the field's name.
        """
        place = json.loads(staged.place)
        params: dict[str, Any] = {"field": namespace, "value": value, "other_local_id": record.local_id}
        reason = "ingest.identifier_taken"
        if differing is None and _differ_in_zeros(staged.local_id, record.local_id):
            # "620010001" beside "0620010001": Excel dropped the zeros of some codes only.
            reason = "ingest.identifier_taken_zeros"
            params["local_id"] = staged.local_id
        if differing is not None:
            reason = "ingest.identifier_mismatch"
            params.update(differs=differing, other_source=record.source)
        Quarantine.create(
            run=self.run.id, source=self.run.source, stream=None, entity=staged.entity,
            file=place.get("file"), sheet=place.get("sheet"), row=place.get("row"),
            column=None, field=differing or namespace, reason=reason,
            params=canonical_json(params), cells=staged.data, created_at=utcnow(),
        )
        self.rejected[reason] += 1

    # -- absence from a bulk snapshot ------------------------------------------

    def _stage_absent_ends(self, snapshot: Snapshot) -> None:
        """Stage an end for each active record of this source and entity, in scope, not seen."""
        staged = StagedRecord.select(StagedRecord.id).where(
            (StagedRecord.run == self.run.id) & (StagedRecord.entity == snapshot.entity)
            & (StagedRecord.local_id == Record.local_id)
        )
        seen = SeenRecord.select(SeenRecord.record_id).where(
            (SeenRecord.run == self.run.id) & (SeenRecord.record_id == Record.id)
        )
        # Seen first: in a re-read export most records are, and its key is two integers.
        condition = (
            (Record.entity == snapshot.entity) & (Record.source == self.run.source)
            & (Record.state == "active") & ~peewee.fn.EXISTS(seen) & ~peewee.fn.EXISTS(staged)
        )
        if snapshot.scope.periods is not None:
            condition &= Record.scope_period.in_(sorted(snapshot.scope.periods))
        if snapshot.scope.schools is not None:
            condition &= Record.scope_school.in_(sorted(snapshot.scope.schools))
        if snapshot.scope.named_schools:
            condition &= _in_named_schools(self.run.id, snapshot.entity)
        absent = Record.select(Record.id, Record.local_id).where(condition)
        rows = [
            {"run": self.run.id, "entity": snapshot.entity, "local_id": r.local_id, "action": "end",
             "decision": "end", "record_id": r.id, "place": canonical_json({"stream": snapshot.stream})}
            for r in absent.iterator()
        ]
        with write_transaction(self.db):
            for start in range(0, len(rows), 200):
                StagedRecord.insert_many(rows[start:start + 200]).execute()
        self.decisions[snapshot.entity]["end"] += len(rows)
        if rows:
            self.ended_absent[snapshot.entity] += len(rows)
            log.info("absent records to end", extra=fields(run_id=self.run.id,
                                                           entity=snapshot.entity, count=len(rows)))


def _in_named_schools(run_id: int, entity: str) -> Any:
    """Return the condition that a record of ``entity`` lies in the schools the run's rows name.

    A school's own record carries no scope school (``entities.yaml`` gives organization none),
    so a school is in scope when a row of the run gives that school itself, by its local id.
    """
    if _is_school_entity(entity):
        return Record.local_id.in_(_named_local_ids(run_id, entity))
    return Record.scope_school.in_(_named_schools(run_id, entity))


def _is_school_entity(entity: str) -> bool:
    """Tell whether ``entity`` is the one that other entities' scope school field references."""
    entities = load_entities()
    if entities[entity].scope_school is not None:
        return False
    return any(other.scope_school and other.references.get(other.scope_school) == entity
               for other in entities.values())


def _named_local_ids(run_id: int, entity: str) -> Any:
    """Return a subquery of the local ids of ``entity`` that the run's rows give, staged or seen."""
    staged = (StagedRecord.select(StagedRecord.local_id)
              .where((StagedRecord.run == run_id) & (StagedRecord.entity == entity)))
    seen = (Record.select(Record.local_id)
            .join(SeenRecord, on=(SeenRecord.record_id == Record.id))
            .where((SeenRecord.run == run_id) & (SeenRecord.entity == entity)))
    return staged | seen


def _named_schools(run_id: int, entity: str) -> Any:
    """Return a subquery of the schools that the rows of ``entity`` in the run name.

    The records that rows gave unchanged name theirs in the store.

    NOTE: a record stored without a school, before such rows were rejected, is outside
    every named-school scope, so no school export ends it by absence. `gateway records end` can.
    """
    staged = (StagedRecord.select(StagedRecord.scope_school)
              .where((StagedRecord.run == run_id) & (StagedRecord.entity == entity)
                     & StagedRecord.scope_school.is_null(False)))
    seen = (Record.select(Record.scope_school)
            .join(SeenRecord, on=(SeenRecord.record_id == Record.id))
            .where((SeenRecord.run == run_id) & (SeenRecord.entity == entity)
                   & Record.scope_school.is_null(False)))
    return staged | seen


def _adapter_of(source: str) -> str | None:
    from gateway.store.models import Source

    row = Source.get_or_none(Source.name == source)
    return row.adapter if row else None


def _identity_values_differ(mine: Any, other: Any) -> bool:
    """Tell whether two values of an identity field differ, where both are given.

    Texts that differ only in case, spacing or the place of tone marks ("Hoà" and "HÒA")
    are the same name. Other diacritics count, so "Văn" and "Vân" differ.
    """
    if mine in (None, "") or other in (None, ""):
        return False
    if isinstance(mine, str) and isinstance(other, str):
        return _name_key(mine) != _name_key(other)
    return bool(mine != other)


def _name_key(text: str) -> str:
    return tone_key(collapse_spaces(text).casefold())


def _differ_in_zeros(local_id: str, other: str) -> bool:
    """Tell whether two local ids differ only in their leading zeros ("620010001", "0620010001")."""
    return local_id != other and local_id.lstrip("0") == other.lstrip("0")


def _count_example(found: dict[str, tuple[int, str, str]], entity: str, old: str, new: str) -> None:
    """Count one more id pair of ``entity`` in ``found``, keeping the first pair as the example."""
    count, first_old, first_new = found.get(entity, (0, old, new))
    found[entity] = (count + 1, first_old, first_new)


def _group(chunk: list[SimpleNamespace], attribute: str) -> dict[str, list[str]]:
    grouped: defaultdict[str, list[str]] = defaultdict(list)
    for staged in chunk:
        value = getattr(staged, attribute)
        if value:
            grouped[staged.entity].append(value)
    return grouped


def check_guard(run: Run, decisions: dict[str, dict[str, int]], snapshots: list[Snapshot],
                max_ratio: float, min_existing: int, min_existing_per_school: int = 0) -> GuardResult:
    """Hold the run if, for any entity, changes and ends of existing records pass the ratio.

    Only updates and ends count, never inserts, so a first load never trips it.
    The base is the count of this source's active records of the entity in the
    snapshot's scope (all of them for a delta). For a school export, whose scope
    is the schools its rows name, each school is also checked on its own with
    ``min_existing_per_school``: one class list of a school would otherwise end
    the school's other classes while the whole run stays within the ratio.
    """
    result = GuardResult(max_change_ratio=max_ratio, min_existing=min_existing,
                         min_existing_per_school=min_existing_per_school)
    for entity, counts in decisions.items():
        changed = counts.get("update", 0) + counts.get("end", 0)
        existing = _existing_in_scope(run, entity, snapshots)
        ratio = changed / existing if existing else 0.0
        trips = existing >= min_existing and ratio > max_ratio
        figures: dict[str, Any] = {"existing": existing, "changed": changed,
                                   "ratio": round(ratio, 4), "trips": trips}
        if changed and named_school_scope(entity, snapshots):
            schools = _schools_over_ratio(run, entity, snapshots, max_ratio, min_existing_per_school)
            if schools:
                figures["schools"] = schools
        result.entities[entity] = figures
        result.held = result.held or trips or bool(figures.get("schools"))
    return result


def named_school_scope(entity: str, snapshots: list[Snapshot]) -> bool:
    """Tell whether every snapshot of ``entity`` is complete only for the schools its rows name."""
    scopes = [s.scope for s in snapshots if s.entity == entity]
    return bool(scopes) and all(s.named_schools for s in scopes)


def _schools_over_ratio(run: Run, entity: str, snapshots: list[Snapshot], max_ratio: float,
                        min_existing: int) -> list[dict[str, Any]]:
    """Return the schools whose updates and ends of ``entity`` pass ``max_ratio`` of their records.

    A change counts for the school that the stored record names, because an end
    by absence has no row, and a pupil who moves is changed from the old school.
    """
    existing = dict(tuples(
        Record.select(Record.scope_school, peewee.fn.COUNT(Record.id))
        .where(_in_scope_condition(run, entity, snapshots) & Record.scope_school.is_null(False))
        .group_by(Record.scope_school)
    ))
    changed = tuples(
        Record.select(Record.scope_school, peewee.fn.COUNT(StagedRecord.id))
        .join(StagedRecord, on=(StagedRecord.record_id == Record.id))
        .where((StagedRecord.run == run.id) & (StagedRecord.entity == entity)
               & StagedRecord.decision.in_(("update", "end")) & Record.scope_school.is_null(False))
        .group_by(Record.scope_school)
    )
    found = []
    for school, count in changed:
        base = int(existing.get(school, 0))
        ratio = count / base if base else 0.0
        if base >= min_existing and ratio > max_ratio:
            found.append({"school": str(school), "existing": base, "changed": int(count),
                          "ratio": round(ratio, 4)})
    return sorted(found, key=lambda figures: figures["school"])


def _existing_in_scope(run: Run, entity: str, snapshots: list[Snapshot]) -> int:
    return Record.select().where(_in_scope_condition(run, entity, snapshots)).count()


def _in_scope_condition(run: Run, entity: str, snapshots: list[Snapshot]) -> Any:
    """Return the condition for this source's active records of ``entity`` in the snapshots' scope."""
    condition = active_in_periods(run, entity, snapshots)
    if named_school_scope(entity, snapshots):
        condition &= _in_named_schools(run.id, entity)
    return condition


def active_in_periods(run: Run, entity: str, snapshots: list[Snapshot]) -> Any:
    """Return the condition for this source's active records of ``entity`` in the snapshots' periods."""
    condition = (Record.entity == entity) & (Record.source == run.source) & (Record.state == "active")
    scopes = [s.scope for s in snapshots if s.entity == entity]
    if scopes and all(s.periods is not None for s in scopes):
        periods = sorted(set().union(*(s.periods or () for s in scopes)))
        condition &= Record.scope_period.in_(periods)
    return condition
