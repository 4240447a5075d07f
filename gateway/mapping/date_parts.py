"""Dates built from a day, a month and a year column: the ``date_parts`` source of a field.

Ministry templates and some vnEdu and SMAS exports split "Ngày sinh" into "Ngày", "Tháng" and
"Năm" under a merged header cell. Each part is a whole number in its own column. The checks
are those of the ``date`` step: an impossible date (31/02) and a two-digit year are rejected,
never corrected or expanded. So are text, a month name, a fraction and a whole date in a
part's column, and a year outside the date limits of the field (``date_limits`` in
``mappings/entities.yaml``). Each rejection names the column at fault. A row whose three cells
are empty has no date.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from gateway.entities import DateLimit
from gateway.mapping.steps import StepError
from gateway.validation import latest_date

PARTS = ("day", "month", "year")
# The catalogue key that rejects a value that is no day, month or year, and the range of each.
_INVALID_KEYS = {"day": "mapping.date_day_invalid", "month": "mapping.date_month_invalid",
                 "year": "mapping.date_year_invalid"}
_RANGES = {"day": (1, 31), "month": (1, 12), "year": (1000, 9999)}
# A whole number, also written with a zero fraction ("7.0"), as a float column saves it.
_WHOLE = re.compile(r"([0-9]+)(?:[.,]0+)?")
# A whole date in a part's column: a date cell as the table readers write it ("2013-07-22",
# "2013-07-22T00:00:00", "1900-01-00"), or a date typed as text ("22/07/2013").
_WHOLE_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9:]+)?"
                         r"|[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{2,4}")
# Five digits without a leading zero: the Excel serial number of a date from 1927 to 2173, as a
# date cell shows when its format was changed to General or Number.
_SERIAL = re.compile(r"[1-9][0-9]{4}")


@dataclass(frozen=True)
class DateParts:
    """The day, month and year columns of one field, bound to a stream's headers.

    ``indexes`` and ``headers`` are in ``PARTS`` order. ``limit`` is the date range of the field
    that takes the date, from the entity's ``date_limits``, and ``limited_field`` names it.
    """

    indexes: tuple[int, int, int]
    headers: tuple[str, str, str]
    limit: DateLimit | None = None
    limited_field: str = ""

    @property
    def columns(self) -> str:
        """Return the three headers as messages list them: joined with ", "."""
        return ", ".join(self.headers)

    def __call__(self, cells: Sequence[str]) -> str | None:
        """Return the date of the row as ISO ``YYYY-MM-DD``, or ``None`` when all three cells are empty.

        Raises ``StepError`` at the column at fault for an empty part beside filled ones, a
        part that is no whole number in its range, a two-digit year, an impossible date and a
        date outside the field's limits.
        """
        values = [cells[i].strip() if i < len(cells) else "" for i in self.indexes]
        if not any(values):
            return None
        for value, header in zip(values, self.headers, strict=True):
            if not value:
                raise StepError("mapping.date_part_missing", at_column=header, column=header,
                                columns=self.columns)
        day, month, year = (self._number(part, value, header)
                            for part, value, header in zip(PARTS, values, self.headers, strict=True))
        try:
            built = date(year, month, day)
        except ValueError:
            raise StepError("mapping.date_parts_invalid", at_column=self.headers[0],
                            value="/".join(values), column=self.headers[0], month=month,
                            year=year, days=calendar.monthrange(year, month)[1]) from None
        self._check_limit(built, values[2])
        return built.isoformat()

    def _number(self, part: str, value: str, header: str) -> int:
        """Return the whole number of one part, or raise ``StepError`` naming its column."""
        whole = _WHOLE.fullmatch(value)
        digits = whole.group(1) if whole else ""
        if _WHOLE_DATE.fullmatch(value) or _SERIAL.fullmatch(digits):
            raise StepError("mapping.date_part_whole_date", at_column=header, value=value,
                            column=header, columns=self.columns)
        if part == "year" and 0 < len(digits) <= 2:
            raise StepError("mapping.date_part_two_digit_year", at_column=header, value=value,
                            column=header)
        low, high = _RANGES[part]
        if not digits or not low <= int(digits) <= high or (part == "year" and len(digits) != 4):
            raise StepError(_INVALID_KEYS[part], at_column=header, value=value, column=header)
        return int(digits)

    def _check_limit(self, built: date, year_text: str) -> None:
        """Reject a date outside the field's limits: at the year column when the year alone is out.

        A date whose year is allowed but whose day is not (later this year than today) has no
        one column at fault, so its rejection names the field's three columns.
        """
        if self.limit is None:
            return
        earliest, latest = self.limit.not_before, latest_date(self.limit.not_after)
        limit_params = {"field": self.limited_field,
                 "not_before": earliest.isoformat() if earliest else "-",
                 "not_after": latest.isoformat() if latest else "-"}
        if (earliest and built.year < earliest.year) or (latest and built.year > latest.year):
            raise StepError("mapping.date_part_year_limit", at_column=self.headers[2],
                            value=year_text, column=self.headers[2], **limit_params)
        if earliest and built < earliest:
            raise StepError("validation.date_too_early", value=built.isoformat(), **limit_params)
        if latest and built > latest:
            raise StepError("validation.date_too_late", value=built.isoformat(), **limit_params)
