"""Read-only summaries of the store for people: records per entity and school, rejections."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import peewee

from gateway.store.database import tuples
from gateway.store.models import Quarantine, Record, Source


def records_summary(source: str | None = None) -> dict[str, Any]:
    """Count active records per entity and per school (with the school's name when known).

    ``sources`` lists the names of the sources in the store, each created at its first
    ingest. ``source_known`` is whether ``source`` is one of them, or ``None`` when no source
    is given, so that a caller can tell a misspelt name from a source or a store without
    active records.
    """
    condition = Record.state == "active"
    if source:
        condition &= Record.source == source
    per_entity: dict[str, int] = dict(
        tuples(Record.select(Record.entity, peewee.fn.COUNT(Record.id))
               .where(condition).group_by(Record.entity))
    )
    per_school: defaultdict[str, dict[str, int]] = defaultdict(dict)
    query = (
        Record.select(Record.scope_school, Record.entity, peewee.fn.COUNT(Record.id))
        .where(condition & Record.scope_school.is_null(False))
        .group_by(Record.scope_school, Record.entity)
    )
    for school, entity, count in tuples(query):
        per_school[str(school)][str(entity)] = int(count)
    names = _school_names(list(per_school), source)
    schools = [
        {"school": school, "name": names.get(school), "records": dict(sorted(counts.items()))}
        for school, counts in sorted(per_school.items())
    ]
    sources = [str(name) for (name,) in tuples(Source.select(Source.name).order_by(Source.name))]
    return {"source": source or None, "source_known": source in sources if source else None,
            "sources": sources, "entities": dict(sorted(per_entity.items())),
            "schools": schools, "ended": _ended_count(source)}


def _ended_count(source: str | None) -> int:
    condition = Record.state == "ended"
    if source:
        condition &= Record.source == source
    return Record.select().where(condition).count()


def _school_names(local_ids: list[str], source: str | None) -> dict[str, str]:
    if not local_ids:
        return {}
    condition = (Record.entity == "organization") & Record.local_id.in_(local_ids)
    if source:
        condition &= Record.source == source
    return {r.local_id: json.loads(r.data).get("name") for r in Record.select().where(condition)}


def rejected_rows(run_id: int) -> int:
    """Return how many input rows a run rejected: one row may be rejected for several entities.

    A rejection without a row (a whole file, say) counts as one of its own.
    """
    places: set[tuple[Any, ...]] = set()
    query = (Quarantine.select(Quarantine.id, Quarantine.file, Quarantine.sheet, Quarantine.row)
             .where(Quarantine.run == run_id))
    for row in query.iterator():
        places.add((row.file, row.sheet, row.row) if row.row is not None else ("id", row.id))
    return len(places)


def rejections_by_entity(run_id: int) -> dict[str, int]:
    """Return how many rows a run rejected per entity, read from its quarantine rows.

    A row rejected for several entities counts once for each. Rejections without an entity
    (a whole file) are left out.
    """
    query = (Quarantine.select(Quarantine.entity, peewee.fn.COUNT(Quarantine.id))
             .where((Quarantine.run == run_id) & Quarantine.entity.is_null(False))
             .group_by(Quarantine.entity))
    return {str(entity): int(count) for entity, count in sorted(tuples(query))}


def row_problems(reason: str, column: str | None, field: str | None,
                 params: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Split the stored parameters of a quarantine row into its first problem's and all problems.

    Returns the parameters of the first problem, without ``problems``, and the list of every
    problem of the row, each with ``reason``, ``column`` and ``field`` where known, and
    ``params``. A row stored with one problem gives a list of that one.
    """
    first = {name: value for name, value in params.items() if name != "problems"}
    stored = params.get("problems")
    if isinstance(stored, list) and stored:
        return first, stored
    only: dict[str, Any] = {"reason": reason}
    only.update((name, value) for name, value in (("column", column), ("field", field)) if value)
    only["params"] = first
    return first, [only]


def rejections_by_reason(run_id: int, examples: int = 1) -> list[dict[str, Any]]:
    """Group a run's quarantined rows by entity, reason and field, with a count and the first places.

    The entity is part of the group because one pupil row gives records of several
    entities (a student, a class, an enrollment), and the admin must see which of them
    was rejected. The field is part of it because one reason, such as an unknown
    reference, can fail on different fields, and a group shows its first row's message. The
    examples are the group's first rows by file, sheet and row, whichever check
    rejected them first. Each example has the row's ``problems`` (see ``row_problems``).
    """
    groups: dict[tuple[str | None, str, str | None], dict[str, Any]] = {}
    query = (Quarantine.select(Quarantine.id, Quarantine.entity, Quarantine.reason, Quarantine.field,
                               Quarantine.file, Quarantine.sheet, Quarantine.row, Quarantine.column,
                               Quarantine.params)
             .where(Quarantine.run == run_id).order_by(Quarantine.id).tuples())
    for row_id, entity, reason, field, file, sheet, line, column, params in query.iterator():
        group = groups.setdefault((entity, reason, field), {
            "entity": entity, "reason": reason, "field": field, "count": 0, "examples": [],
            "_keys": []})
        group["count"] += 1
        if examples <= 0:
            continue
        key = (file or "", sheet or "", line if line is not None else -1, row_id)
        if len(group["examples"]) == examples and key >= max(group["_keys"]):
            continue
        first, problems = row_problems(reason, column, field, json.loads(params or "{}"))
        example = {"file": file, "sheet": sheet, "row": line, "column": column,
                   "field": field, "params": first, "problems": problems}
        group["_keys"].append(key)
        group["examples"].append(example)
        ordered = sorted(zip(group["_keys"], group["examples"], strict=True), key=lambda pair: pair[0])
        group["_keys"] = [pair[0] for pair in ordered[:examples]]
        group["examples"] = [pair[1] for pair in ordered[:examples]]
    for group in groups.values():
        del group["_keys"]
    return sorted(groups.values(),
                  key=lambda g: (-g["count"], g["reason"], g["field"] or "", g["entity"] or ""))
