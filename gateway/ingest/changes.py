"""Field-level differences between a stored record and a staged row, for compare and review.

``changed_fields`` names the fields whose values differ, treating two texts that differ only in
tone placement ("Hoà" and "Hòa") as equal. Compare uses it to keep such a row ``unchanged``.
``summarize_updates`` counts, per entity, the fields that a run's updates change, with a few
example records, so that an admin can review a run the guard holds. A summary carries field
names, counts, record ids and local ids, never a field's value.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import peewee

from gateway.store.bulk import select_rows
from gateway.store.models import Record, Run, StagedRecord
from gateway.text import tone_key

# Example records kept per entity in a run's summary of updates.
EXAMPLES_PER_ENTITY = 5


def changed_fields(old: Any, new: Any, path: str = "") -> list[str]:
    """Return the dotted paths of the fields whose values differ between ``old`` and ``new``.

    Objects are compared field by field, and a field that only one side has counts as
    changed. A list counts as one field: it changed when its length or any item differs.
    Texts are equal when their ``tone_key`` is, and other values when they are equal.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for name in sorted(old.keys() | new.keys()):
            inner = f"{path}.{name}" if path else str(name)
            if name not in old or name not in new:
                found.append(inner)
            else:
                found.extend(changed_fields(old[name], new[name], inner))
        return found
    return [] if _same_value(old, new) else [path]


def _same_value(old: Any, new: Any) -> bool:
    if isinstance(old, str) and isinstance(new, str):
        return old == new or tone_key(old) == tone_key(new)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(
            not changed_fields(a, b) for a, b in zip(old, new, strict=True))
    if isinstance(old, dict) or isinstance(new, dict):
        return isinstance(old, dict) and isinstance(new, dict) and not changed_fields(old, new)
    # bool is an int in Python, so the types are compared too: True is not 1.
    return type(old) is type(new) and old == new


def summarize_updates(db: peewee.Database, run: Run, chunk_size: int = 1000,
                      examples: int = EXAMPLES_PER_ENTITY) -> dict[str, dict[str, Any]]:
    """Count, per entity, the fields that the ``update`` rows of ``run`` change.

    Returns ``{entity: {"updates": n, "fields": {path: n}, "restored": n,
    "other_source": n, "examples": [{"record_id", "local_id", "fields"}]}}``, the
    fields most changed first. ``restored`` counts ended records that the run
    makes active again, and ``other_source`` the records that the run takes over
    from a source of lower precedence. Call it before apply, because apply
    overwrites the stored data that the rows are compared with.
    """
    staged, records = StagedRecord._meta.table_name, Record._meta.table_name
    sql = (f"SELECT s.id, s.entity, s.local_id, s.record_id, s.data, r.data, r.state, r.source "
           f"FROM {staged} s JOIN {records} r ON r.id = s.record_id "
           f"WHERE s.run_id = ? AND s.decision = 'update' AND s.id > ? ORDER BY s.id LIMIT ?")
    summary: dict[str, dict[str, Any]] = {}
    last_id = 0
    while rows := select_rows(db, sql, [run.id, last_id, chunk_size]):
        last_id = rows[-1][0]
        for _, entity, local_id, record_id, new, old, state, owner in rows:
            fields = changed_fields(json.loads(old), json.loads(new))
            entry = summary.setdefault(str(entity), {"updates": 0, "fields": Counter(),
                                                     "restored": 0, "other_source": 0,
                                                     "examples": []})
            entry["updates"] += 1
            entry["fields"].update(fields)
            entry["restored"] += state != "active"
            entry["other_source"] += owner != run.source
            if len(entry["examples"]) < examples:
                entry["examples"].append({"record_id": int(record_id), "local_id": str(local_id),
                                          "fields": fields})
    for entry in summary.values():
        entry["fields"] = dict(sorted(entry["fields"].items(), key=lambda item: (-item[1], item[0])))
    return dict(sorted(summary.items()))
