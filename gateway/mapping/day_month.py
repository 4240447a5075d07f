"""The day and month order of dates written as text under day-first formats.

A ``date`` step lists its formats explicitly, and a value that a day-first format reads
("03/04/2013" under ``%d/%m/%Y``) is stored as that format reads it. A product that exports
month first gives some values that only a month-first reading fits ("12/25/2013"), and the
``date`` step rejects those. Its values whose day and month are both at most 12 read either
way, so they would be stored with the day and month swapped. ``read_order`` classifies each
value, so that the stager can count the evidence of each column and reject the values that read
both ways (``gateway.ingest.date_order``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

MONTH_FIRST = "month_first"
"""Only a month-first reading fits: the second number is above 12 and the first at most 12."""
DAY_FIRST = "day_first"
"""Only the day-first reading fits: the first number is above 12."""
EITHER = "either"
"""Both readings fit and give different dates: day and month are both at most 12 and differ."""

# The first two numbers of a date such as "4/3/2013", to skip most values without strptime.
_TWO_NUMBERS = re.compile(r"\s*([0-9]{1,2})[^0-9]([0-9]{1,2})[^0-9]")


@dataclass(frozen=True)
class DayFirstColumn:
    """A stored field that reads whole dates from one column under day-first ``formats``.

    ``index`` and ``header`` locate the column in the stream.
    """

    field: str
    index: int
    header: str
    formats: tuple[str, ...]


def day_first_formats(steps: Sequence[Any] | None) -> tuple[str, ...]:
    """Return the formats of the ``date`` steps in ``steps`` that put the day before the month.

    A format with a time (``%d/%m/%Y %H:%M:%S``) is returned also without its seconds, as the
    ``date`` step reads it. ISO (``%Y-%m-%d``) and other month-first formats are left out.
    """
    found: list[str] = []
    for step in steps or []:
        if not isinstance(step, dict) or "date" not in step:
            continue
        for pattern in step["date"].get("formats", []):
            day, month = pattern.find("%d"), pattern.find("%m")
            if 0 <= day < month and "%Y" in pattern:
                found.append(pattern)
                if pattern.endswith("%H:%M:%S"):
                    found.append(pattern[:-3])
    return tuple(dict.fromkeys(found))


def read_order(value: str | None, formats: Sequence[str]) -> str | None:
    """Return how ``value`` reads under the day-first ``formats``: ``EITHER``, one order, or ``None``.

    ``MONTH_FIRST`` is a value that no day-first format reads but the same format with the day
    and month swapped does ("12/25/2013"). ``DAY_FIRST`` is a value whose day is above 12.
    ``EITHER`` is a value that a day-first format reads with a day and a month that are both at
    most 12 and differ ("03/04/2013"). ``None`` is any other value: an empty cell, a day equal
    to its month, a value that neither order reads (rejected by the ``date`` step), or one in
    another form (an ISO date from a date cell).
    """
    if not value:
        return None
    return _read_order(value, tuple(formats))


# Birth dates repeat across a city's lists (about 5,500 days in 15 school years), so most values
# are read from the cache, without strptime.
@lru_cache(maxsize=8192)
def _read_order(value: str, formats: tuple[str, ...]) -> str | None:
    numbers = _TWO_NUMBERS.match(value)
    if numbers is None:
        return None
    first, second = int(numbers.group(1)), int(numbers.group(2))
    if first == second or (first > 12 and second > 12):
        return None
    text = value.strip()
    for pattern in formats:
        moment = _parse(text, pattern)
        if moment is None:
            continue
        if moment.day > 12:
            return DAY_FIRST
        if moment.day != moment.month:
            return EITHER
        return None
    for pattern in formats:
        swapped = pattern.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
        if _parse(text, swapped) is not None:
            return MONTH_FIRST
    return None


def _parse(text: str, pattern: str) -> datetime | None:
    try:
        return datetime.strptime(text, pattern)
    except ValueError:
        return None
