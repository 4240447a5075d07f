"""Run state, heartbeats, the per-source lock and recovery of interrupted runs.

A run moves ``staging`` -> ``comparing`` -> (``held`` ->) ``applying`` ->
``succeeded``; or ends ``failed``, ``interrupted`` (its process died),
``superseded`` (a newer run of the same source replaced a held one) or
``rejected`` (a person rejected it while it was held). At most one
live run holds a source's lock. A run is taken as dead when its heartbeat is
older than the lease, or at once when it ran on this host and its process is
gone (after ``kill -9``, for example).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import timedelta
from typing import Any

import peewee

from gateway.clock import utcnow
from gateway.errors import RunStateError
from gateway.logs import fields
from gateway.store.database import write_transaction
from gateway.store.models import Run, SeenRecord, SourceLock, StagedRecord

log = logging.getLogger(__name__)

LIVE_STATES = ("staging", "comparing", "applying")
FINAL_STATES = ("succeeded", "failed", "interrupted", "superseded", "rejected")


def new_run(job: str, source: str, adapter: str, input_path: str | None) -> Run:
    now = utcnow()
    return Run.create(
        job=job, source=source, adapter=adapter, input_path=input_path, state="staging",
        started_at=now, heartbeat_at=now, host=socket.gethostname(), pid=os.getpid(),
    )


def _process_gone(run: Run) -> bool:
    if run.host != socket.gethostname():
        return False
    if run.pid == os.getpid():
        return False
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def is_dead(run: Run, lease_seconds: int) -> bool:
    """Return whether a live-state run has stopped without finishing."""
    stale = utcnow() - _aware(run.heartbeat_at) > timedelta(seconds=lease_seconds)
    return stale or _process_gone(run)


def _aware(moment: Any) -> Any:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def claim_source(db: peewee.Database, run: Run, lease_seconds: int) -> list[int]:
    """Give ``run`` the source's lock; raise ``RunStateError`` if a live run holds it.

    A dead holder is marked ``interrupted``; a held run is marked ``superseded``,
    because this newer run reads newer input. Their staged rows are dropped, and
    the ids of superseded runs are returned so the new run can report them.
    """
    with write_transaction(db):
        lock = SourceLock.select().where(SourceLock.source == run.source).for_update().first() \
            if not _is_sqlite(db) else SourceLock.get_or_none(SourceLock.source == run.source)
        if lock is not None and lock.run_id != run.id:
            holder = Run.get_or_none(Run.id == lock.run_id)
            if holder is not None:
                _release_holder(holder, lease_seconds)
        SourceLock.insert(source=run.source, run_id=run.id).on_conflict(
            conflict_target=[SourceLock.source], update={SourceLock.run_id: run.id}
        ).execute()
    return _supersede_held(run)


def _is_sqlite(db: peewee.Database) -> bool:
    return isinstance(db, peewee.SqliteDatabase)


def _release_holder(holder: Run, lease_seconds: int) -> None:
    if holder.state in LIVE_STATES:
        if not is_dead(holder, lease_seconds):
            raise RunStateError(
                "error.source_busy", source=holder.source, run_id=holder.id, state=holder.state
            )
        mark(holder, "interrupted")
        discard_staged([holder.id])
        log.warning("run interrupted", extra=fields(run_id=holder.id, source=holder.source))


def _supersede_held(run: Run) -> list[int]:
    """Mark older held runs of the source superseded; return their ids."""
    held = Run.select().where((Run.source == run.source) & (Run.state == "held") & (Run.id != run.id))
    superseded = []
    for old in held:
        mark(old, "superseded")
        discard_staged([old.id])
        log.warning("held run superseded", extra=fields(run_id=old.id, by_run_id=run.id))
        superseded.append(old.id)
    return superseded


def release_source(run: Run) -> None:
    SourceLock.delete().where((SourceLock.source == run.source) & (SourceLock.run_id == run.id)).execute()


def mark(run: Run, state: str, **changes: Any) -> None:
    """Set the run's state (and other columns) and persist it with a fresh heartbeat."""
    run.state = state
    run.heartbeat_at = utcnow()
    if state in FINAL_STATES:
        run.finished_at = run.heartbeat_at
    for name, value in changes.items():
        setattr(run, name, value)
    run.save()


def heartbeat(run: Run, counts: dict[str, Any] | None = None,
              applied_through: int | None = None) -> None:
    """Renew the run's lease; also store its counts and the last staged id applied, when given."""
    run.heartbeat_at = utcnow()
    update: dict[Any, Any] = {Run.heartbeat_at: run.heartbeat_at}
    if applied_through is not None:
        run.applied_through = applied_through
        update[Run.applied_through] = applied_through
    if counts is not None:
        run.counts = json.dumps(counts, ensure_ascii=False, sort_keys=True)
        update[Run.counts] = run.counts
    Run.update(update).where(Run.id == run.id).execute()


def require_state(run: Run, allowed: tuple[str, ...], action: str) -> None:
    """Raise ``RunStateError`` unless the run is in one of ``allowed``; ``action`` is a catalogue word."""
    if run.state not in allowed:
        from gateway.i18n import translate

        raise RunStateError("error.run_state", run_id=run.id, state=translate(f"run.state.{run.state}"),
                            action=translate(f"run.action.{action}"),
                            allowed=", ".join(f'"{translate(f"run.state.{state}")}"' for state in allowed))


def get_run(run_id: int) -> Run:
    run = Run.get_or_none(Run.id == run_id)
    if run is None:
        raise RunStateError("error.run_not_found", run_id=run_id)
    return run


def discard_staged(run_ids: Any) -> int:
    """Delete the staged and seen rows of ``run_ids`` (ids or a query); return the count.

    Staged rows carry personal data, and neither is needed once a run has ended.
    """
    deleted = 0
    for model in (StagedRecord, SeenRecord):
        deleted += model.delete().where(model.run.in_(run_ids)).execute()
    return deleted
