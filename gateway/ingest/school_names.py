"""Two school codes with one name in a run: a warning, because one of them is likely a typo.

A school list typed by hand may give a school's code twice, once mistyped ("062001" for
"0620010") on a row that names the same school. Both codes are valid as text, so each
becomes an organization of its own, and the pupils of the mistyped rows go to the second one.
Nothing here rejects a row: two schools may share a name in different communes. The run
warns once, naming the schools, their codes and a row of each, so that an admin can check.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import peewee

from gateway.errors import InputError, Place, table_label
from gateway.store.bulk import json_text, select_rows
from gateway.store.models import Record, Run, SeenRecord, StagedRecord
from gateway.text import tone_key

ENTITY = "organization"
KEY = "ingest.school_name_two_codes"
# Names listed in one warning; the others are counted.
SHOWN = 3


def same_name_schools(db: peewee.Database, run: Run) -> InputError | None:
    """Return a warning when organizations of the run share one name under different codes."""
    by_name: defaultdict[str, dict[str, tuple[str, dict[str, Any]]]] = defaultdict(dict)
    for local_id, name, place in _organizations(db, run):
        if name:
            by_name[tone_key(str(name))].setdefault(str(local_id), (str(name), json.loads(place or "{}")))
    shared = [codes for codes in by_name.values() if len(codes) > 1]
    if not shared:
        return None
    shown = []
    for codes in shared[:SHOWN]:
        # The name as the first of these rows in the input writes it.
        name = min(codes.values(), key=lambda entry: _order(entry[1]))[0]
        listed = ", ".join(f"{code} ({_where(place)})" for code, (_, place) in sorted(codes.items()))
        shown.append(f'"{name}": {listed}')
    first = next(iter(shared[0].values()))[1]
    return InputError(KEY, place=Place(file=first.get("file"), sheet=first.get("sheet")),
                      count=len(shared), schools="; ".join(shown))


def _organizations(db: peewee.Database, run: Run) -> list[tuple[Any, Any, Any]]:
    """Return the local id, name and place of each organization that a row of the run gives."""
    staged, seen, records = (StagedRecord._meta.table_name, SeenRecord._meta.table_name,
                             Record._meta.table_name)
    rows = select_rows(db, f"SELECT local_id, {json_text(db, 'data', 'name')}, place FROM {staged} "
                           f"WHERE run_id = ? AND entity = ? AND action = 'upsert'", [run.id, ENTITY])
    rows += select_rows(db, f"SELECT r.local_id, {json_text(db, 'r.data', 'name')}, v.place "
                            f"FROM {seen} v JOIN {records} r ON r.id = v.record_id "
                            f"WHERE v.run_id = ? AND r.entity = ?", [run.id, ENTITY])
    return rows


def _order(place: dict[str, Any]) -> tuple[str, str, int]:
    return (str(place.get("file") or ""), str(place.get("sheet") or ""), int(place.get("row") or 0))


def _where(place: dict[str, Any]) -> str:
    """Return a row's place as other run warnings write it: ``file [sheet]: row``."""
    table = table_label(place.get("file") or "", place.get("sheet"))
    return f"{table}: {place['row']}" if place.get("row") else table
