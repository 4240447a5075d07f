"""Ends that follow from other ends: a record that needs a record this run ends is ended too.

An enrollment names its pupil and its class, and cannot stand without either: both are
required references (the schema's ``required`` list). When a run ends a pupil, by absence
from a bulk snapshot or because its row requests it, an enrollment of that pupil that the run
does not give again would stay active and name an ended pupil. That happens when the run
could not end the enrollments themselves: their rows were rejected without an id, or their
file was not part of the input. The store would then tell the city hub that an ended pupil
still sits in a class.

The same holds when the run gives the enrollment again: a OneRoster bulk file that marks a
pupil `tobedeleted` usually still lists the pupil's enrollment unchanged.

So, after compare, every active record of the run's source whose required reference names a
record that the run ends is ended as well. This goes entity by entity in dependency order: a
school's end reaches its classes, and the classes' ends reach their enrollments. A record that rows
left out or gave unchanged gets a staged end, and is no longer counted as unchanged. A row
that would update such a record becomes its end. A new row that names an ended record is left
to the reference check, which rejects it. Optional references (a pupil's school) are not
followed: a pupil is not ended because a school record ended.
"""

from __future__ import annotations

import logging
from collections import Counter

import peewee

from gateway.entities import Entity, load_entities
from gateway.ingest.references import dependency_order, required_reference_fields
from gateway.logs import fields
from gateway.mapping.spec import canonical_json
from gateway.store.bulk import execute_counted, execute_many, in_lists, json_text, placeholders, select_rows
from gateway.store.database import write_transaction
from gateway.store.models import Run

log = logging.getLogger(__name__)


def stage_dependent_ends(db: peewee.Database, run: Run) -> Counter[str]:
    """Stage an end for each record that requires a record this run ends; return counts by entity."""
    entities = load_entities()
    ended: Counter[str] = Counter()
    for target in sorted(entities, key=dependency_order):
        if not _ends_any(db, run, target):
            continue
        for name in sorted(entities, key=dependency_order):
            for field_name, roles in fields_naming(entities[name], target):
                count = _stage_ends(db, run, name, field_name, target, roles)
                if count:
                    ended[name] += count
                    log.info("dependent records to end",
                             extra=fields(run_id=run.id, entity=name, field=field_name,
                                          target=target, count=count))
    return ended


def fields_naming(entity: Entity, target: str) -> list[tuple[str, list[str] | None]]:
    """Return ``entity``'s required reference fields that can name ``target``.

    Each comes with the roles under which it names ``target`` (``None``: under any role).
    """
    found: list[tuple[str, list[str] | None]] = []
    for field_name in required_reference_fields(entity):
        if entity.references.get(field_name) == target:
            found.append((field_name, None))
            continue
        roles = sorted(role for role, named in entity.references_by_role.get(field_name, {}).items()
                       if named == target)
        if roles:
            found.append((field_name, roles))
    return found


def _ends_any(db: peewee.Database, run: Run, entity: str) -> bool:
    rows = select_rows(db, "SELECT 1 FROM staged_record WHERE run_id = ? AND entity = ? "
                           "AND decision = 'end' LIMIT 1", [run.id, entity])
    return bool(rows)


def _stage_ends(db: peewee.Database, run: Run, entity: str, field_name: str, target: str,
                roles: list[str] | None) -> int:
    """Stage ends for the active records of ``entity`` whose ``field_name`` names an ended ``target``.

    A record that a row gave unchanged (seen) is ended too, and is no longer counted as seen.
    A row that would update such a record becomes its end instead.
    """
    ended_targets = ("SELECT s.local_id FROM staged_record s "
                     "WHERE s.run_id = ? AND s.entity = ? AND s.decision = 'end'")
    role_condition, role_params = "", []
    if roles is not None:
        role_condition = f" AND {json_text(db, 'r.data', 'role')} IN ({placeholders(len(roles))})"
        role_params = list(roles)
    found = select_rows(db, (
        "SELECT r.id, r.local_id FROM record r "
        "WHERE r.entity = ? AND r.source = ? AND r.state = 'active' "
        f"AND {json_text(db, 'r.data', field_name)} IN ({ended_targets}) "
        "AND NOT EXISTS (SELECT 1 FROM staged_record g WHERE g.run_id = ? "
        f"AND g.entity = r.entity AND g.local_id = r.local_id){role_condition} ORDER BY r.id"
    ), [entity, run.source, run.id, target, run.id, *role_params])
    place = canonical_json({"ended_with": target})
    with write_transaction(db):
        execute_many(db, "INSERT INTO staged_record (run_id, entity, local_id, action, decision, "
                         "record_id, place) VALUES (?, ?, ?, 'end', 'end', ?, ?)",
                     [(run.id, entity, local_id, record_id, place) for record_id, local_id in found])
        ids = [record_id for record_id, _ in found]
        for marks, params in in_lists(ids):
            execute_counted(db, f"DELETE FROM seen_record WHERE run_id = ? AND record_id IN ({marks})",
                            [run.id, *params])
        updates = execute_counted(db, (
            "UPDATE staged_record SET action = 'end', decision = 'end' "
            "WHERE run_id = ? AND entity = ? AND decision = 'update' AND record_id IS NOT NULL "
            f"AND {json_text(db, 'data', field_name)} IN ({ended_targets})"
            f"{role_condition.replace('r.data', 'data')}"
        ), [run.id, entity, run.id, target, *role_params])
    return len(found) + updates
