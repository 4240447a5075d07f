"""Rejections of values that a spreadsheet formula would give, had the file stored its value.

A workbook written by a program that does not calculate keeps its formulas without their
values, so such a cell reads as empty (``SourceRow.uncalculated``). A row whose required
field comes from it would be rejected as if the cell were blank, which sends the admin
looking for a blank cell that is not blank. ``name_uncalculated`` replaces each such
problem of a rejected row with ``mapping.formula_not_calculated``, which names the cell
and gives the fix: save the file again with its values.

Only rejections change here. A row that is stored keeps the stored record's value of an
optional field that only such cells give (``gateway.ingest.kept``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gateway.errors import MappingError, RowError


def name_uncalculated(error: RowError, cells: Mapping[str, str] | None, table: str) -> RowError:
    """Return ``error`` with its problems about uncalculated formula cells replaced.

    ``cells`` gives the reference of each such cell of the row by column name, and ``table``
    names the file and sheet. A problem is replaced when it names one of those columns, as
    its place or among its ``columns``, and has a field. The other problems are kept as
    they are, in the same order. Returns ``error`` itself when nothing is replaced.
    """
    if not cells:
        return error
    problems = [error, *error.others]
    replaced = [_replaced(problem, cells, table) for problem in problems]
    if all(new is old for new, old in zip(replaced, problems, strict=True)):
        return error
    first, *others = replaced
    first.others = tuple(others)
    return first


def _replaced(problem: RowError, cells: Mapping[str, str], table: str) -> RowError:
    field = problem.place.field or problem.params.get("field")
    column = _uncalculated_column(problem, cells)
    if column is None or not field:
        return problem
    return MappingError("mapping.formula_not_calculated",
                        place=problem.place.with_(column=column, field=field),
                        field=field, column=column, cell=cells[column], table=table)


def _uncalculated_column(problem: RowError, cells: Mapping[str, str]) -> str | None:
    """Return the first column of ``cells`` that ``problem`` names, or ``None``.

    A problem names its column in its place, a joined column as its parts with " + "
    ("Họ đệm + Tên"), and the columns a field is built from in ``columns``, joined with ", ".
    A name is compared whole, between those separators or the ends of the text.
    """
    names = [problem.place.column, problem.params.get("columns")]
    texts = [name for name in names if isinstance(name, str) and name]
    for column in cells:
        whole = re.compile(rf"(?:^|, | \+ ){re.escape(column)}(?:$|, | \+ )")
        if any(whole.search(text) for text in texts):
            return column
    return None
