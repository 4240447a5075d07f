"""Two school codes with one name in a run: a warning, because one of them is likely a typo.

A school list typed by hand may give a school's code twice, once mistyped ("062001" for
"0620010") on a row that names the same school. Both codes are valid as text, so each
becomes an organization of its own, and the pupils of the mistyped rows go to the second one.
Nothing here rejects a row: two schools may share a name in different communes. The run
warns once, naming the schools, their codes and a row of each, so that an admin can check.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from typing import Any

import peewee

from gateway.errors import InputError, Place, row_label
from gateway.logs import fields
from gateway.store.bulk import json_text, select_rows
from gateway.store.models import Record, Run, SeenRecord, StagedRecord
from gateway.text import tone_key

log = logging.getLogger(__name__)

ENTITY = "organization"
KEY = "ingest.school_name_two_codes"
# Names listed in one warning; the others are only counted.
LISTED_NAMES = 3


def same_name_schools(db: peewee.Database, run: Run) -> InputError | None:
    """Return a warning when organizations of the run share one name under different codes."""
    # Per name key, each code with the name as written and the place of a row that gives it.
    by_name: defaultdict[str, dict[str, tuple[str, dict[str, Any]]]] = defaultdict(dict)
    for local_id, name, place in _organizations(db, run):
        if name:
            entry = (str(name), json.loads(place or "{}"))
            by_name[tone_key(str(name))].setdefault(str(local_id), entry)
    groups = [codes for codes in by_name.values() if len(codes) > 1]
    if not groups:
        return None

    described = [_describe(codes) for codes in groups[:LISTED_NAMES]]
    log.info("school names with several codes", extra=fields(run_id=run.id, count=len(groups)))
    first_place = next(iter(groups[0].values()))[1]
    return InputError(KEY, place=Place(file=first_place.get("file"), sheet=first_place.get("sheet")),
                      count=len(groups), schools="; ".join(described))


def _describe(codes: dict[str, tuple[str, dict[str, Any]]]) -> str:
    """Return one school name with its codes and a row of each: ``"X": 0620010 (a.xlsx [6A]: 4)``."""
    # The name as the first of these rows in the input writes it.
    name = min(codes.values(), key=lambda entry: _order(entry[1]))[0]
    listed = [f"{code} ({row_label(place.get('file'), place.get('sheet'), place.get('row'))})"
              for code, (_, place) in sorted(codes.items())]
    return f'"{name}": {", ".join(listed)}'


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

