"""The guard's check for a school export that would end every record of an entity in a school.

``check_guard`` checks each school from ``guard.min_existing_per_school`` (10) records only. So
a preschool of six pupils whose list was swapped for another list, such as its staff list,
lost every pupil without a hold. A run that ends every active record of an entity in a school
that its rows name is almost never meant, whether or not it inserts others in their place. It
is held from ``guard.min_existing_all_ended`` (3) records of the entity in that school.
"""

from __future__ import annotations

import logging
from typing import Any

import peewee

from gateway.ingest.compare import GuardResult, active_in_periods, named_school_scope
from gateway.ingest.stage import Snapshot
from gateway.logs import fields
from gateway.store.database import tuples
from gateway.store.models import Record, Run, StagedRecord

log = logging.getLogger(__name__)


def hold_schools_all_ended(run: Run, guard: GuardResult, snapshots: list[Snapshot],
                           minimum: int) -> None:
    """Hold the run when it ends every active record of an entity in a school, from ``minimum`` records.

    Only entities whose every snapshot covers just the schools its rows name (a school
    export) are checked, because an end by absence happens only in such a school. Each
    such school goes to ``guard.entities[entity]["schools_all_ended"]`` with its code, the
    count of existing records (all of which the run ends) and the count it inserts, in code
    order.
    """
    for entity, figures in guard.entities.items():
        if not figures.get("changed") or not named_school_scope(entity, snapshots):
            continue
        schools = _schools_all_ended(run, entity, snapshots, minimum)
        if schools:
            figures["schools_all_ended"] = schools
            guard.held = True
            log.info("schools would lose every record", extra=fields(
                run_id=run.id, entity=entity, schools=len(schools)))


def _schools_all_ended(run: Run, entity: str, snapshots: list[Snapshot],
                       minimum: int) -> list[dict[str, Any]]:
    """Return the schools of at least ``minimum`` records of ``entity`` whose every record the run ends.

    An end counts for the school that the stored record names, as in ``check_guard``.
    """
    ended = tuples(
        Record.select(Record.scope_school, peewee.fn.COUNT(StagedRecord.id))
        .join(StagedRecord, on=(StagedRecord.record_id == Record.id))
        .where((StagedRecord.run == run.id) & (StagedRecord.entity == entity)
               & (StagedRecord.decision == "end") & Record.scope_school.is_null(False))
        .group_by(Record.scope_school)
    )
    found = []
    for school, count in ended:
        if count < max(minimum, 1):
            continue
        existing = _active_in_school(run, entity, snapshots, str(school))
        if count >= existing:
            inserted = (StagedRecord.select()
                        .where((StagedRecord.run == run.id) & (StagedRecord.entity == entity)
                               & (StagedRecord.decision == "insert")
                               & (StagedRecord.scope_school == school))
                        .count())
            found.append({"school": str(school), "existing": existing, "ended": int(count),
                          "inserted": inserted})
    return sorted(found, key=lambda figures: figures["school"])


def _active_in_school(run: Run, entity: str, snapshots: list[Snapshot], school: str) -> int:
    """Count the source's active records of ``entity`` in ``school``, within the snapshots' periods."""
    condition = active_in_periods(run, entity, snapshots) & (Record.scope_school == school)
    return int(Record.select().where(condition).count())
