"""Fields that rows lost to ``on_error: drop``: counted per run, reported as warnings.

A mapping field with ``on_error: drop`` leaves its top-level object out of the record when its
steps fail (an address whose commune is not a 2025 unit), and the row is stored without it.
The run counts such rows by entity, object and reason, and gives one warning per group with
the count, the first rows and the first row's problem, so the admin learns how many records
lost what, and why. A stored record keeps its value of the object (``gateway.ingest.kept``),
so compare counts those rows, and ``add_kept_counts`` puts the count into the warning.

NOTE: only the first rows of each group are named. The others are counted, not listed, because
a stored row writes no quarantine row; the file's own column shows them all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import InputError, MappingError, row_label
from gateway.i18n import translate
from gateway.logs import fields

log = logging.getLogger(__name__)

# How many rows a warning names, per group.
EXAMPLE_ROWS = 3

FIELD_DROPPED = "ingest.field_dropped"


@dataclass
class _Group:
    count: int = 0
    rows: list[str] = field(default_factory=list)
    first: MappingError | None = None


class DroppedFields:
    """The dropped fields of one run, grouped by (entity, dropped object, reason)."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str, str], _Group] = {}

    def add(self, entity: str, scope: str, problem: MappingError) -> None:
        """Count one row of ``entity`` that lost ``scope`` for ``problem``."""
        group = self._groups.setdefault((entity, scope, problem.key), _Group())
        group.count += 1
        if group.first is None:
            group.first = problem
        if len(group.rows) < EXAMPLE_ROWS:
            place = problem.place
            group.rows.append(row_label(place.file, place.sheet, place.row))

    def warnings(self, run_id: int) -> list[InputError]:
        """Return one warning per group, in a stable order, and log their counts."""
        found = []
        for (entity, scope, reason), group in sorted(self._groups.items()):
            first = group.first
            if first is None:
                continue
            log.info("fields dropped", extra=fields(run_id=run_id, entity=entity, field=scope,
                                                    reason=reason, count=group.count))
            # No place of its own: the message names the column and the first rows.
            # ``kept`` is known once compare has run (``add_kept_counts``).
            found.append(InputError(
                FIELD_DROPPED, entities=entity, count=group.count,
                field=scope, column=first.place.column or "", rows="; ".join(group.rows),
                problem={"reason": reason, "params": dict(first.params)}, kept=0))
        return found


def add_kept_counts(notices: list[dict[str, Any]], kept: Mapping[tuple[str, str, str], int]) -> bool:
    """Set on each ``ingest.field_dropped`` notice how many of its rows kept the stored object.

    ``kept`` counts rows by (entity, dropped object, reason), as ``Comparer.kept`` does. The
    notice's ``message`` is written again with the count. Returns whether a notice changed.
    """
    changed = False
    for notice in notices:
        if notice.get("error") != FIELD_DROPPED:
            continue
        params = notice["params"]
        problem = params.get("problem") or {}
        group = (str(params.get("entities")), str(params.get("field")), str(problem.get("reason")))
        count = kept.get(group, 0)
        if params.get("kept") == count:
            continue
        params["kept"] = count
        notice["message"] = translate(FIELD_DROPPED, **params)
        changed = True
    return changed
