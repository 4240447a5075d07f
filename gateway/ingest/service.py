"""The ingest jobs: ``ingest`` a path, ``approve`` a held run, ``resume`` an interrupted apply."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import peewee

from adapters.base import Limits, ReadHints
from adapters.readahead import read_ahead
from adapters.registry import get_adapter
from gateway import schema_versions
from gateway.clock import get_clock, utcnow
from gateway.errors import GatewayError, InputError, TransientError, row_label
from gateway.ingest import runs
from gateway.ingest.apply import apply_run, counts_by_decision
from gateway.ingest.cascade import stage_dependent_ends
from gateway.ingest.changes import summarize_updates
from gateway.ingest.compare import CHANGE_DECISIONS, Comparer, LinkDifferences, check_guard
from gateway.ingest.date_order import DateOrders, reject_unknown_order, unchanged_unknown_order
from gateway.ingest.dropped import add_kept_counts
from gateway.ingest.homeroom import reject_second_homerooms
from gateway.ingest.references import check_references
from gateway.ingest.rejected_classes import leave_out_rejected_classes
from gateway.ingest.rekey import follow_new_ids
from gateway.ingest.school_ends import hold_schools_all_ended
from gateway.ingest.school_names import same_name_schools
from gateway.ingest.short_ids import find_short_ids
from gateway.ingest.stage import KeyColumns, Snapshot, Stager, UnreadEntities, mark_duplicates
from gateway.logs import fields
from gateway.mapping.compiler import column_groups
from gateway.mapping.registry import active_specs
from gateway.mapping.spec import MappingSpec
from gateway.reports import rejections_by_entity
from gateway.settings import Settings
from gateway.store.database import discard_open_transaction, write_transaction
from gateway.store.models import Record, Run, Source, StagedRecord
from gateway.text import match_key

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    """The outcome of a run, for the CLI summary and ``--json``."""

    run_id: int
    state: str
    source: str
    counts: dict[str, Any] = field(default_factory=dict)
    notices: list[dict[str, Any]] = field(default_factory=list)
    guard: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    approved_by: str | None = None
    job: str = "ingest"

    @property
    def file_errors(self) -> int:
        """Files or tables the run could not read (error notices); their records were kept."""
        return sum(1 for notice in self.notices if notice.get("level") == "error")

    @property
    def changes(self) -> int:
        """Inserts, updates and ends this run decided (applied once it has succeeded)."""
        return sum(
            count for per_entity in self.counts.get("decisions", {}).values()
            for decision, count in per_entity.items() if decision in CHANGE_DECISIONS
        )

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "state": self.state, "source": self.source,
                "changes": self.changes, "file_errors": self.file_errors, "counts": self.counts,
                "notices": self.notices, "guard": self.guard, "error": self.error,
                "approved_by": self.approved_by, "job": self.job}


def ensure_source(name: str, adapter: str) -> Source:
    source = Source.get_or_none(Source.name == name)
    if source is None:
        Source.insert(name=name, adapter=adapter, created_at=utcnow()).on_conflict_ignore().execute()
        source = Source.get(Source.name == name)
    if source.adapter != adapter:
        raise InputError("error.source_adapter_mismatch", source=name, adapter=source.adapter,
                         requested=adapter)
    return source


def ingest(db: peewee.Database, settings: Settings, path: Path, adapter_key: str, source: str,
           progress: Any = None, given: dict[str, str] | None = None) -> RunReport:
    """Stage, compare, guard and apply ``path`` for ``source``; return the run's report.

    ``given`` maps column names to values that rows without them take (the
    school of a school's own list; see ``gateway.ingest.given``).

    Raises ``InputError`` (recorded on a failed run) when the input as a whole
    cannot be read, and ``RunStateError`` when another live run has the source's lock.
    """
    adapter = get_adapter(adapter_key)
    # Schema upgrades on write read the unit correspondence that these settings name.
    schema_versions.configure(settings)
    ensure_source(source, adapter_key)
    run = runs.new_run("ingest", source, adapter_key, str(path))
    started = get_clock().monotonic()
    try:
        # Inside the try: a run that cannot take its source is marked failed, not left staging.
        superseded = runs.claim_source(db, run, settings.section("runs")["lease_seconds"])
        log.info("run started", extra=fields(run_id=run.id, source=source, adapter=adapter_key))
        staged = _stage(db, settings, run, adapter, path, progress, superseded, given or {})
        _log_phase(run, "run staged", started)
        report = _compare_and_apply(db, settings, run, staged, progress)
    except GatewayError as exc:
        _fail(run, exc)
        raise
    except peewee.DatabaseError as exc:
        error = TransientError("error.store_failed", run_id=run.id, detail=type(exc).__name__)
        _fail(run, error)
        raise error from exc
    except KeyboardInterrupt:
        if _state_of(run) == "applying":
            # Stopped while writing: left as after a crash, so that `gateway runs resume`
            # finishes the chunks not yet applied without reading the input again.
            log.warning("run stopped while applying", extra=fields(run_id=run.id))
        else:
            # Nothing of the run is in the store yet: the next run reads the input again.
            _fail(run, GatewayError("error.interrupted", run_id=run.id))
        raise
    except BaseException:
        _fail(run, GatewayError("error.internal"))
        raise
    log.info("run finished", extra=fields(run_id=run.id, state=report.state,
                                           seconds=round(get_clock().monotonic() - started, 3)))
    return report


def read_hints(specs: list[MappingSpec]) -> ReadHints:
    """Collect the column names and streams the mappings read, for adapters that need them."""
    columns: set[str] = set()
    required: set[str] = set()
    labels: dict[str, str] = {}
    for spec in specs:
        for definition in spec.document["fields"].values():
            names = [name for group in column_groups(definition) for name in group]
            keys = {match_key(name) for name in names}
            for name in names:
                labels.setdefault(match_key(name), name)
            columns |= keys
            if definition.get("required"):
                required |= keys
    return ReadHints(frozenset(columns), frozenset(required), frozenset(s.stream for s in specs),
                     tuple(sorted(labels.items())))


def _state_of(run: Run) -> str | None:
    try:
        return str(runs.get_run(run.id).state)
    except (peewee.DatabaseError, GatewayError):
        return None


def _fail(run: Run, error: GatewayError) -> None:
    """Record the failure on the run and free its source; best effort if the store is down."""
    try:
        discard_open_transaction(Run._meta.database.obj)
        runs.mark(run, "failed", error=json.dumps(error.as_dict(), ensure_ascii=False))
        # A failed run is neither approved nor resumed, and its staged rows carry personal data.
        runs.discard_staged([run.id])
        runs.release_source(run)
    except peewee.DatabaseError:
        log.warning("run failure not recorded", extra=fields(run_id=run.id))
    # Input that cannot be read is the sender's to fix, and the caller shows it to people in
    # their language: an English error line on the console beside that message only confuses.
    level = logging.INFO if isinstance(error, InputError) else logging.ERROR
    log.log(level, "run failed", extra=fields(run_id=run.id, error=error.key))


@dataclass
class _Staged:
    """The results of staging that compare and the reference check read."""

    counts: dict[str, Any]
    snapshots: list[Snapshot]
    columns: KeyColumns
    # Per table, the entities it lacks a column for; per entity, the file that was not read.
    unread_entities: UnreadEntities
    unread_files: dict[str, str]


def _stage(db: peewee.Database, settings: Settings, run: Run, adapter: Any, path: Path,
           progress: Any, superseded: list[int], given: dict[str, str]) -> _Staged:
    specs = active_specs(adapter.key, run.source)
    if not specs:
        raise InputError("error.no_mappings", adapter=adapter.key)
    limits = Limits.from_settings(settings.section("limits"))
    date_orders = DateOrders()
    stager = Stager(db, run, specs, settings.section("runs")["stage_chunk_size"], progress, given,
                    adapter.school_columns or (), date_orders)
    read_ahead_enabled = bool(settings.section("runs")["read_ahead"])
    hints = read_hints(specs)
    if stager.titles.needs_input_titles:
        # Without --school-name, the given code fits only an input whose titles name one school.
        hints = replace(hints, title_schools=True)
    with read_ahead(adapter, path, limits, hints, read_ahead_enabled) as package:
        result = stager.stage_package(package)
    duplicates = mark_duplicates(db, run, result.columns)
    duplicates.update(reject_second_homerooms(db, run, result.columns))
    # After the duplicate checks: rejected before them, an ambiguous row would leave a later
    # row with its local id and other values as the one kept.
    duplicates.update(reject_unknown_order(db, run, date_orders))
    result.rejected.update(duplicates)
    result.notices.extend(_warning(error) for error in unchanged_unknown_order(db, run, date_orders))
    same_name = same_name_schools(db, run)
    if same_name is not None:
        result.notices.append(_warning(same_name))
    counts = result.as_dict()
    result.notices.extend(_superseded_notices(run, superseded))
    run.notices = json.dumps(result.notices, ensure_ascii=False)
    run.save()
    return _Staged(counts, result.snapshots, result.columns, result.unread_entities,
                   result.unread_files)


def _compare_and_apply(db: peewee.Database, settings: Settings, run: Run, staged: _Staged,
                       progress: Any) -> RunReport:
    snapshots, stage_counts = staged.snapshots, staged.counts
    runs.mark(run, "comparing")
    identity = settings.section("identity")
    comparer = Comparer(db, run, identity["precedence"], confirm_fields=identity["confirm_fields"],
                        warn_fields=identity["warn_fields"])
    phase_started = get_clock().monotonic()
    comparer.compare(snapshots)
    rekeyed = follow_new_ids(db, run)
    # The records that followed their pupil to its new id are no longer ended for their absence.
    comparer.ended_absent.subtract(rekeyed.followed)
    dependent = stage_dependent_ends(db, run)
    _log_phase(run, "run compared", phase_started)
    warnings = _compare_warnings(comparer, run.id)
    warnings.extend(GatewayError("ingest.ids_rekeyed", entities=entity, count=found.count,
                                 old=found.old, new=found.new)
                    for entity, found in sorted(rekeyed.rekeyed.items()))
    warnings.extend(GatewayError("ingest.ids_followed", entities=entity, count=count)
                    for entity, count in sorted(rekeyed.followed.items()))
    warnings.extend(GatewayError("ingest.ended_with_reference", entities=entity, count=count)
                    for entity, count in sorted(dependent.items()))
    warnings.extend(GatewayError("ingest.ids_maybe_lost_zeros", entities=entity, count=short.count,
                                 new=short.short, other=short.common)
                    for entity, short in sorted(find_short_ids(db, run).items()))
    if warnings:
        _add_notices(run, warnings)
    _add_kept_counts(run, comparer)
    for reason, count in comparer.rejected.items():
        stage_counts["rejected"][reason] = stage_counts["rejected"].get(reason, 0) + count
    phase_started = get_clock().monotonic()
    for reason, count in check_references(db, run, columns=staged.columns,
                                          unread=staged.unread_entities,
                                          unread_files=staged.unread_files).items():
        stage_counts["rejected"][reason] = stage_counts["rejected"].get(reason, 0) + count
    _log_phase(run, "references checked", phase_started)
    # After the reference check, which rejects the enrollments of rejected pupils.
    left_out = leave_out_rejected_classes(db, run)
    if left_out is not None:
        _add_notices(run, [left_out])
    # Counted now, because the retention settings may prune the quarantine rows later.
    stage_counts["rejected_by_entity"] = rejections_by_entity(run.id)
    decisions = with_rejected_entities(counts_by_decision(run), stage_counts)
    guard_settings = settings.section("guard")
    guard = check_guard(run, decisions, snapshots, guard_settings["max_change_ratio"],
                        guard_settings["min_existing"], guard_settings["min_existing_per_school"])
    hold_schools_all_ended(run, guard, snapshots, guard_settings["min_existing_all_ended"])
    # Read before apply overwrites the stored data, so that a held run can be reviewed.
    counts = {"stage": stage_counts, "decisions": decisions, "updates": summarize_updates(db, run),
              "kept": _kept_by_path(comparer)}
    if guard.held:
        runs.mark(run, "held", guard=json.dumps(guard.as_dict()), counts=json.dumps(counts))
        runs.release_source(run)
        schools = {figures["school"] for entity in guard.entities.values()
                   for key in ("schools", "schools_all_ended")
                   for figures in entity.get(key, [])}
        log.warning("run held by guard", extra=fields(run_id=run.id, source=run.source,
                                                      schools=len(schools)))
        return run_report(run)
    runs.mark(run, "applying", guard=json.dumps(guard.as_dict()), counts=json.dumps(counts))
    return _apply(db, settings, run, progress, decisions)


def with_rejected_entities(decisions: dict[str, dict[str, int]],
                           stage_counts: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Add an empty entry to ``decisions`` for each entity with rejected rows but no decision.

    Rows rejected before their local id was read give no staged row, so an entity whose rows
    were all rejected that way has no decision at all, and the report would leave it out.
    Returns ``decisions``, changed in place.
    """
    for entity in stage_counts.get("rejected_by_entity", {}):
        decisions.setdefault(entity, {})
    return decisions


def _compare_warnings(comparer: Comparer, run_id: int) -> list[GatewayError]:
    """Return the warnings that compare found: ids that lost leading zeros, ends by absence, and
    links to records of other sources that differ from the row."""
    warnings = [
        GatewayError(key, entities=entity, count=count, old=old, new=new)
        for key, found in (("ingest.codes_lost_zeros", comparer.zeros_dropped),
                           ("ingest.codes_zeros_restored", comparer.zeros_restored),
                           ("ingest.new_ids_lost_zeros", comparer.zeros_missing))
        for entity, (count, old, new) in sorted(found.items())
    ]
    # Without this notice an end by absence is only a count among the decisions, beside the
    # ends that rows ask for, and the admin cannot tell that the input left records out.
    warnings.extend(GatewayError("ingest.ended_absent", entities=entity, count=count)
                    for entity, count in sorted(comparer.ended_absent.items()) if count > 0)
    warnings.extend(_link_warning(run_id, entity, found)
                    for entity, found in sorted(comparer.link_differs.items()))
    return warnings


def _link_warning(run_id: int, entity: str, found: LinkDifferences) -> GatewayError:
    """Return the warning about rows linked to another source's record that differs from them.

    It names the fields and the first places and record ids, never a value.
    """
    record_ids = [record_id for _, record_id in found.examples]
    # INFO, because the run's notice already reaches the admin, in their language.
    log.info("linked rows differ from the stored records",
             extra=fields(run_id=run_id, entity=entity, count=found.count,
                          fields=sorted(found.fields), record_ids=record_ids))
    places = "; ".join(row_label(place.get("file"), place.get("sheet"), place.get("row"))
                       for place, _ in found.examples)
    return GatewayError("ingest.link_differs", entities=entity, count=found.count,
                        differing_fields=", ".join(sorted(found.fields)), places=places,
                        record_ids=", ".join(f"#{record_id}" for record_id in record_ids))


def _add_kept_counts(run: Run, comparer: Comparer) -> None:
    """Put into the run's ``ingest.field_dropped`` warnings how many rows kept a stored value."""
    for (entity, path, reason), count in sorted(comparer.kept.items()):
        log.info("stored values kept", extra=fields(run_id=run.id, entity=entity, field=path,
                                                    reason=reason, count=count))
    notices = json.loads(run.notices or "[]")
    if add_kept_counts(notices, comparer.kept):
        run.notices = json.dumps(notices, ensure_ascii=False)
        run.save()


def _kept_by_path(comparer: Comparer) -> dict[str, int]:
    """Return the rows that kept a stored value, by "entity.path", for the run's counts."""
    kept: dict[str, int] = {}
    for (entity, path, _), count in sorted(comparer.kept.items()):
        kept[f"{entity}.{path}"] = kept.get(f"{entity}.{path}", 0) + count
    return kept


def _add_notices(run: Run, errors: list[GatewayError]) -> None:
    """Add warning notices that compare found to the run's notices."""
    notices = json.loads(run.notices or "[]")
    notices.extend(_warning(error) for error in errors)
    run.notices = json.dumps(notices, ensure_ascii=False)
    run.save()


def _warning(error: GatewayError) -> dict[str, Any]:
    """Return ``error`` as a warning notice of a run."""
    return {"level": "warning", **error.as_dict()}


def _superseded_notices(run: Run, superseded: list[int]) -> list[dict[str, Any]]:
    """Return a warning for each held run of the source that ``run`` superseded."""
    return [_warning(GatewayError("ingest.held_run_superseded", held_run_id=old, run_id=run.id))
            for old in superseded]


def _log_phase(run: Run, event: str, started: float) -> None:
    seconds = round(get_clock().monotonic() - started, 3)
    log.info(event, extra=fields(run_id=run.id, source=run.source, seconds=seconds))


def _apply(db: peewee.Database, settings: Settings, run: Run, progress: Any,
           decisions: dict[str, dict[str, int]] | None = None) -> RunReport:
    """Apply the run; ``decisions`` are its counts by decision when the caller has just read them."""
    started = get_clock().monotonic()
    apply_run(db, run, settings.section("runs")["chunk_size"], progress)
    _log_phase(run, "run applied", started)
    counts = json.loads(run.counts or "{}")
    # Applying does not change a decision, so counts read before it still hold.
    if decisions is None:
        decisions = with_rejected_entities(counts_by_decision(run), counts.get("stage", {}))
    counts["decisions"] = decisions
    runs.mark(run, "succeeded", counts=json.dumps(counts))
    # Staged rows carry personal data and are no longer needed once applied.
    runs.discard_staged([run.id])
    runs.release_source(run)
    return run_report(run)


def approve(db: peewee.Database, settings: Settings, run_id: int, approver: str,
            progress: Any = None) -> RunReport:
    """Apply a held run without re-reading its input; raise ``RunStateError`` otherwise."""
    run = runs.get_run(run_id)
    runs.require_state(run, ("held",), "approve")
    runs.claim_source(db, run, settings.section("runs")["lease_seconds"])
    run = runs.get_run(run_id)
    runs.require_state(run, ("held",), "approve")
    runs.mark(run, "applying", approved_by=approver, approved_at=utcnow(), pid=_pid())
    log.info("held run approved", extra=fields(run_id=run.id, source=run.source))
    return _apply(db, settings, run, progress)


def reject(db: peewee.Database, settings: Settings, run_id: int, rejecter: str) -> RunReport:
    """End a held run without applying it; raise ``RunStateError`` unless it is held.

    Its staged rows are deleted, so it can no longer be approved. The store keeps every
    record as it was, and ``approved_by`` records who rejected the run.
    """
    run = runs.get_run(run_id)
    runs.require_state(run, ("held",), "reject")
    # The source's lock is claimed as approve claims it, so a run cannot be approved and rejected at once.
    runs.claim_source(db, run, settings.section("runs")["lease_seconds"])
    try:
        run = runs.get_run(run_id)
        runs.require_state(run, ("held",), "reject")
        runs.mark(run, "rejected", approved_by=rejecter, approved_at=utcnow())
        # Staged rows carry personal data, and a rejected run is never applied.
        runs.discard_staged([run.id])
    finally:
        runs.release_source(run)
    log.info("held run rejected", extra=fields(run_id=run.id, source=run.source))
    return run_report(run)


@dataclass
class EndResult:
    """The outcome of ``end_records``: one run report per source, and the ids it could not end."""

    reports: list[RunReport]
    unknown: list[int]
    not_active: list[int]


def end_records(db: peewee.Database, settings: Settings, record_ids: list[int], by: str) -> EndResult:
    """End active records by hand, one run of job ``end`` per source, through the change log.

    Each run takes its source's lock as an ingest does, so a held run of that source is
    superseded, and its report has a notice for that. Ids of no record and records already
    ended are returned, not ended.
    """
    found = {record.id: record for record in Record.select().where(Record.id.in_(record_ids))}
    unknown = sorted({record_id for record_id in record_ids if record_id not in found})
    not_active = sorted(record_id for record_id, record in found.items() if record.state != "active")
    by_source: dict[str, list[Record]] = {}
    for record in found.values():
        if record.state == "active":
            by_source.setdefault(record.source, []).append(record)
    reports = []
    for source, records in sorted(by_source.items()):
        known = Source.get_or_none(Source.name == source)
        run = runs.new_run("end", source, known.adapter if known else "", None)
        superseded = runs.claim_source(db, run, settings.section("runs")["lease_seconds"])
        with write_transaction(db):
            StagedRecord.insert_many([
                {"run": run.id, "entity": record.entity, "local_id": record.local_id,
                 "action": "end", "decision": "end", "record_id": record.id}
                for record in sorted(records, key=lambda record: record.id)
            ]).execute()
        # A pupil ended by hand takes its enrollments with it, as in an ingest.
        dependent = stage_dependent_ends(db, run)
        notices = [*_superseded_notices(run, superseded),
                   *(_warning(GatewayError("ingest.ended_with_reference", entities=entity,
                                           count=count))
                     for entity, count in sorted(dependent.items()))]
        decisions = counts_by_decision(run)
        runs.mark(run, "applying", approved_by=by, approved_at=utcnow(),
                  notices=json.dumps(notices, ensure_ascii=False),
                  counts=json.dumps({"stage": {}, "decisions": decisions}))
        log.info("records ended by hand", extra=fields(run_id=run.id, source=source,
                                                       count=len(records)))
        reports.append(_apply(db, settings, run, None, decisions))
    return EndResult(reports, unknown, not_active)


def resume(db: peewee.Database, settings: Settings, run_id: int, progress: Any = None) -> RunReport:
    """Finish applying a run whose process died while applying."""
    run = runs.get_run(run_id)
    lease = settings.section("runs")["lease_seconds"]
    if run.state == "applying" and runs.is_dead(run, lease):
        runs.mark(run, "applying", pid=_pid())
        runs.claim_source(db, run, lease)
        return _apply(db, settings, run, progress)
    runs.require_state(run, ("applying",), "resume")
    raise runs.RunStateError("error.run_still_live", run_id=run.id)


def _pid() -> int:
    import os

    return os.getpid()


def run_report(run: Run) -> RunReport:
    """Return the report of a stored run, as ``runs show`` prints it."""
    return RunReport(
        run_id=run.id, state=run.state, source=run.source,
        counts=json.loads(run.counts or "{}"), notices=json.loads(run.notices or "[]"),
        guard=json.loads(run.guard) if run.guard else None,
        error=json.loads(run.error) if run.error else None, approved_by=run.approved_by,
        job=run.job,
    )


def report_of(run_id: int) -> RunReport:
    return run_report(runs.get_run(run_id))
