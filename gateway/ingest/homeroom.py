"""One homeroom class per pupil and school year.

A pupil listed in the sheets of two homeroom classes (a copy left in last term's sheet, a pupil
pasted into the wrong class list) would get an enrollment in each. Both enrollments are valid
records with different local ids, so the duplicate checks of ``stage.mark_duplicates`` do not
see them. This check runs after those and before compare. For each pupil and school year whose
rows of the run name more than one homeroom class, one enrollment is kept. The others are
rejected with ``ingest.second_homeroom``, which names the row and class that were kept.

The enrollment that another row of the run gave unchanged is kept, because it matches the
store. Otherwise the first row read is kept. A class counts as a homeroom class when its record
in this run, or else the active record of this source, has ``class_type: homeroom``.
"""

from __future__ import annotations

import json
from collections import Counter
from itertools import groupby
from typing import Any

import peewee

from gateway.ingest.stage import KeyColumns, first_place_params, reject_duplicate
from gateway.store.bulk import json_text, select_rows
from gateway.store.database import write_transaction
from gateway.store.models import Record, Run, SeenRecord, StagedRecord

SECOND_HOMEROOM_KEY = "ingest.second_homeroom"
HOMEROOM = "homeroom"


def reject_second_homerooms(db: peewee.Database, run: Run, columns: KeyColumns) -> Counter[str]:
    """Reject the enrollments that put a pupil in a second homeroom class of one school year.

    Returns the count of rejections by reason. Only the enrollments of pupils with more than one
    class in the run are read into memory.
    """
    rejected: Counter[str] = Counter()
    homeroom: dict[str, bool] = {}
    for (person, year), rows in groupby(_enrollments_in_several_classes(db, run),
                                        key=lambda row: (row["person"], row["school_year"])):
        enrollments = []
        for row in rows:
            if row["class_ref"] not in homeroom:
                homeroom[row["class_ref"]] = _is_homeroom(run, row["class_ref"])
            if homeroom[row["class_ref"]]:
                enrollments.append(row)
        if not enrollments:
            continue
        kept = enrollments[0]
        later = [row for row in enrollments[1:]
                 if row["staged_id"] is not None and row["class_ref"] != kept["class_ref"]]
        params = {"first_class": kept["class_ref"],
                  **first_place_params(json.loads(kept["place"] or "{}"))}
        with write_transaction(db):
            for row in later:
                reject_duplicate(run, row["staged_id"], "enrollment", row["place"], row["data"],
                                 "class_ref", SECOND_HOMEROOM_KEY, columns,
                                 {"value": person, "class_ref": row["class_ref"],
                                  "school_year": year, **params})
                rejected[SECOND_HOMEROOM_KEY] += 1
    return rejected


def _enrollment_rows_sql(db: peewee.Database) -> str:
    """Return SQL for the run's pupil enrollments, staged and unchanged, with their place and data.

    Each row has the staged id (NULL for an unchanged one), an order, the place, the data, the
    pupil, the class and the school year. Unchanged enrollments have order 0, so they come first
    and are the ones kept. The SQL takes the run id twice.
    """
    staged, seen, records = (StagedRecord._meta.table_name, SeenRecord._meta.table_name,
                             Record._meta.table_name)

    def fields(data: str) -> str:
        return (f"{json_text(db, data, 'person_ref')} AS person, "
                f"{json_text(db, data, 'class_ref')} AS class_ref, "
                f"COALESCE({json_text(db, data, 'school_year')}, '') AS school_year, "
                f"{json_text(db, data, 'role')} AS role")

    return (
        f"SELECT * FROM (SELECT s.id AS staged_id, s.id AS ord, s.place AS place, s.data AS data, "
        f"{fields('s.data')} FROM {staged} s WHERE s.run_id = ? AND s.entity = 'enrollment' "
        f"AND s.action = 'upsert' "
        f"UNION ALL SELECT NULL, 0, v.place, r.data, {fields('r.data')} FROM {seen} v "
        f"JOIN {records} r ON r.id = v.record_id WHERE v.run_id = ? AND v.entity = 'enrollment') "
        f"AS enrollments WHERE role = 'student'"
    )


def _enrollments_in_several_classes(db: peewee.Database, run: Run) -> list[dict[str, Any]]:
    """Return the run's enrollments of each pupil and school year that name several classes.

    They are ordered by pupil and school year, and within one pupil the one to keep comes first.
    """
    rows = _enrollment_rows_sql(db)
    sql = (f"SELECT e.staged_id, e.place, e.data, e.person, e.class_ref, e.school_year "
           f"FROM ({rows}) AS e JOIN (SELECT person, school_year FROM ({rows}) AS p "
           f"GROUP BY person, school_year HAVING COUNT(DISTINCT class_ref) > 1) AS g "
           f"ON g.person = e.person AND g.school_year = e.school_year "
           f"ORDER BY e.person, e.school_year, e.ord, e.staged_id")
    names = ("staged_id", "place", "data", "person", "class_ref", "school_year")
    return [dict(zip(names, row, strict=True))
            for row in select_rows(db, sql, [run.id] * 4)]


def _is_homeroom(run: Run, class_ref: str) -> bool:
    """Tell whether the class ``class_ref`` of this run, or else of the store, is a homeroom class."""
    staged = (StagedRecord.select(StagedRecord.data)
              .where((StagedRecord.run == run.id) & (StagedRecord.entity == "class")
                     & (StagedRecord.local_id == class_ref) & (StagedRecord.action == "upsert"))
              .order_by(StagedRecord.id).scalar())
    if staged is None:
        staged = (Record.select(Record.data)
                  .where((Record.source == run.source) & (Record.entity == "class")
                         & (Record.local_id == class_ref) & (Record.state == "active"))
                  .scalar())
    return staged is not None and json.loads(staged).get("class_type") == HOMEROOM
