"""Field-level differences between a stored record and a staged row, for compare and review.

``changed_fields`` names the fields whose values differ, treating two texts that differ only in
tone placement ("Hoà" and "Hòa") as equal. Compare uses it to keep such a row ``unchanged``.
``summarize_updates`` counts, per entity, the fields that a run's updates change, with a few
example records, so that an admin can review a run the guard holds. It also counts the updates
that a newer mapping version writes over a record of another version, because a mapping change
(OneRoster grades "07" read as "7") can update most records of a source at once. A summary
carries field names, counts, record ids, local ids and mapping version labels, never a field's
value.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import peewee

from gateway.store.bulk import select_rows
from gateway.store.models import MappingVersion, Record, Run, StagedRecord
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
    "other_source": n, "mapping_changes": [{"from", "to", "count"}],
    "examples": [{"record_id", "local_id", "fields"}]}}``, the fields most changed
    first. ``restored`` counts ended records that the run makes active again, and
    ``other_source`` the records that the run takes over from a source of lower
    precedence. ``mapping_changes`` counts the updates whose mapping version differs
    from the one that wrote the stored record, by pair of version labels
    (``oneroster/student/v1`` to ``oneroster/student/v2``). Call it before apply,
    because apply overwrites the stored data that the rows are compared with.
    """
    staged, records = StagedRecord._meta.table_name, Record._meta.table_name
    sql = (f"SELECT s.id, s.entity, s.local_id, s.record_id, s.data, r.data, r.state, r.source, "
           f"s.mapping_version, r.mapping_version "
           f"FROM {staged} s JOIN {records} r ON r.id = s.record_id "
           f"WHERE s.run_id = ? AND s.decision = 'update' AND s.id > ? ORDER BY s.id LIMIT ?")
    summary: dict[str, dict[str, Any]] = {}
    versions: dict[str, Counter[tuple[str, str]]] = {}
    last_id = 0
    while rows := select_rows(db, sql, [run.id, last_id, chunk_size]):
        last_id = rows[-1][0]
        for _, entity, local_id, record_id, new, old, state, owner, new_mapping, old_mapping in rows:
            fields = changed_fields(json.loads(old), json.loads(new))
            entry = summary.setdefault(str(entity), {"updates": 0, "fields": Counter(),
                                                     "restored": 0, "other_source": 0,
                                                     "examples": []})
            entry["updates"] += 1
            entry["fields"].update(fields)
            entry["restored"] += state != "active"
            entry["other_source"] += owner != run.source
            if new_mapping and old_mapping and new_mapping != old_mapping:
                versions.setdefault(str(entity), Counter())[(old_mapping, new_mapping)] += 1
            if len(entry["examples"]) < examples:
                entry["examples"].append({"record_id": int(record_id), "local_id": str(local_id),
                                          "fields": fields})
    labels = _mapping_labels({version for pairs in versions.values() for pair in pairs for version in pair})
    for entity, entry in summary.items():
        entry["fields"] = dict(sorted(entry["fields"].items(), key=lambda item: (-item[1], item[0])))
        pairs = versions.get(entity, Counter())
        entry["mapping_changes"] = [
            {"from": labels.get(old, old[:12]), "to": labels.get(new, new[:12]), "count": count}
            for (old, new), count in pairs.most_common()]
    return dict(sorted(summary.items()))


def _mapping_labels(version_ids: set[str]) -> dict[str, str]:
    """Return ``adapter/entity/vN`` for each mapping version id that the registry holds."""
    if not version_ids:
        return {}
    query = MappingVersion.select().where(MappingVersion.id.in_(sorted(version_ids)))
    return {str(version.id): f"{version.adapter}/{version.entity}/v{version.number}"
            for version in query}
