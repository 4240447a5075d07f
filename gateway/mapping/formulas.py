"""Cells that contain the text of a spreadsheet formula instead of its value.

A CSV written by a program may contain ``=A1&B1`` where the pupil code should be. Stored,
such text is no code or name, and a spreadsheet that opens an export of it runs it as a
formula. The compiler checks the cells of identifier
fields and of one-line name fields with ``formula_checked`` before their steps run.
``="0123"``, the formula that only quotes a code, is unwrapped by the table adapter before
this check (``adapters.table.grid.unmark_text``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from gateway.mapping.steps import StepError

Getter = Callable[[Sequence[str]], str | None]

# Spreadsheets start a formula with "=", and also with "+", "-" or "@" (Excel, LibreOffice).
_FORMULA_SIGNS = ("=", "+", "-", "@")
# After "+", "-" or "@", an identifier is formula text when the rest has a function call, an
# operator, a reference mark or a space. A plain token such as "-1" or "+84" is kept, because
# it does no more than show its own value when a spreadsheet opens it.
_FORMULA_SYNTAX = re.compile(r"""[()&!"'*/^<>=|;,$%+\s]""")


def is_formula_text(value: str, identifier: bool) -> bool:
    """Tell whether ``value`` is the text of a formula in a field of that kind.

    A name never starts with a formula sign. An identifier is formula text when it starts
    with "=", or with "+", "-" or "@" followed by formula syntax (``+A1+B1``, ``@SUM(A1)``).
    """
    text = value.lstrip()
    if not text.startswith(_FORMULA_SIGNS):
        return False
    if not identifier or text.startswith("="):
        return True
    return _FORMULA_SYNTAX.search(text, 1) is not None


def formula_checked(get: Getter, column: str | None, identifier: bool) -> Getter:
    """Wrap a cell getter so that formula text raises ``StepError`` (``mapping.formula_text``)."""

    def checked(cells: Sequence[str]) -> str | None:
        value = get(cells)
        if value is not None and is_formula_text(value, identifier):
            raise StepError("mapping.formula_text", value=value, column=column or "")
        return value

    return checked
