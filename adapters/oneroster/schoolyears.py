"""School years of OneRoster sessions, classes and enrollments.

OneRoster writes a school year as the calendar year in which it ends
(``schoolYear`` 2023 is the year from autumn 2022 to summer 2023). The gateway
writes it as ``2022-2023``, the form Vietnamese school years take.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping

from adapters.common.csvfile import CsvTable
from adapters.oneroster.columns import cell, column_index, split_list

_END_YEAR = re.compile(r"\d{4}")
_YEAR_RANGE = re.compile(r"(\d{4})\s*[-/\u2013]\s*(\d{4})")


def school_year_label(value: str) -> str:
    """Return ``2022-2023`` for ``2023`` or ``2022-2023``, and an empty string for anything else."""
    value = value.strip()
    if _END_YEAR.fullmatch(value):
        end = int(value)
        return f"{end - 1}-{end}"
    match = _YEAR_RANGE.fullmatch(value)
    if match and int(match.group(2)) == int(match.group(1)) + 1:
        return f"{match.group(1)}-{match.group(2)}"
    return ""


def read_session_years(table: CsvTable) -> tuple[dict[str, str], frozenset[str]]:
    """Return academic session sourcedId -> school year label, and every label found.

    Sessions are few (a handful per school), so they are held in memory.
    """
    id_index = column_index(table.headers, "sourcedId")
    year_index = column_index(table.headers, "schoolYear")
    years: dict[str, str] = {}
    found: set[str] = set()
    for row in table.rows:
        if row.cells is None:
            continue
        label = school_year_label(cell(row.cells, year_index))
        if not label:
            continue
        found.add(label)
        session_id = cell(row.cells, id_index)
        if session_id:
            years.setdefault(session_id, sys.intern(label))
    return years, frozenset(found)


def year_of_terms(term_ids: str, session_years: Mapping[str, str]) -> str:
    """Return the school year shared by every session in ``term_ids``.

    Returns an empty string when the list is empty, a session is unknown or has
    no year, or the sessions fall in different school years.
    """
    years = {session_years.get(term, "") for term in split_list(term_ids)}
    if len(years) != 1:
        return ""
    return years.pop()


def read_class_years(table: CsvTable, session_years: Mapping[str, str]) -> dict[str, str]:
    """Return class sourcedId -> school year label, for the classes whose year is known.

    Held in memory: about 100 bytes per class, so the 20,000 classes of a city
    take about 2 MB.
    """
    id_index = column_index(table.headers, "sourcedId")
    term_index = column_index(table.headers, "termSourcedIds")
    years: dict[str, str] = {}
    if id_index is None:
        return years
    for row in table.rows:
        if row.cells is None or not row.cells[id_index]:
            continue
        label = year_of_terms(cell(row.cells, term_index), session_years)
        if label:
            years.setdefault(row.cells[id_index], label)
    return years
