"""The transform steps a mapping field may name, each compiled once into a ``Step``.

A step takes a value (text, a list, or a converted value) and the output fields computed so
far, and returns the new value. A value it cannot transform raises ``StepError`` with a
catalogue key and parameters, and the compiler adds the place (file, row, column, field) and
turns it into a ``MappingError``.
A step that is wrong in the mapping file itself (an invalid regular expression, a two-digit
year format) raises ``ConfigurationError`` when it is compiled, before any row is read.

``None`` (an empty cell) skips every step except those compiled with ``takes_empty``
(``flag``, which reads an empty cell as "not marked").

Every step keeps text as text: no step turns ``"00123"`` into a number, and a chain whose
output cannot be text is caught at compile time by its ``kind`` (the JSON type it gives).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from gateway.codelists import CodeAmbiguous, CodeList, get_codelist
from gateway.errors import ConfigurationError
from gateway.text import match_key

Row = Mapping[str, Any]
StepFunction = Callable[[Any, Row], Any]

# The kinds of value a chain carries, named by their JSON Schema type.
TEXT, BOOLEAN, ARRAY = "string", "boolean", "array"

TRUE_WORDS = frozenset({"true", "1", "yes", "y", "x", "c", "v", "co", "dung"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "khong", "sai"})

_NO_ROW: Row = {}


class StepError(Exception):
    """A value that a step cannot transform: the row is rejected with ``key`` and ``params``.

    ``column_key`` is the message to use instead when the field reads one column of the
    file, and the mapping then adds that column to ``params`` as ``column``. Without a
    column, the message keeps ``key`` and gets the field's name as ``field``.
    ``at_column`` names the column at fault when a field reads several columns (the day, month
    or year of a date built from three), in place of the field's column.
    """

    def __init__(self, key: str, column_key: str | None = None, *, at_column: str | None = None,
                 **params: Any):
        super().__init__(key)
        self.key = key
        self.column_key = column_key
        self.params = params
        self.column = at_column


@dataclass(frozen=True)
class StepContext:
    """The facts a step may read when it is compiled: the stream's properties and the place.

    ``properties`` are facts about the whole stream (``date_system``: ``"1900"`` or ``"1904"``).
    ``mapping`` and ``field`` name the place in configuration-error messages.
    """

    properties: Mapping[str, str] = field(default_factory=dict)
    mapping: str = ""
    field: str = ""


@dataclass(frozen=True)
class Step:
    """One compiled step.

    ``accepts`` lists the kinds of input it takes, ``gives`` returns its output kind for an
    input kind, and ``reads`` names the output fields it reads from the row. A step with
    ``takes_empty`` also runs on an empty value, which every other step skips.
    """

    name: str
    function: StepFunction
    accepts: frozenset[str] = frozenset({TEXT})
    gives: Callable[[str], str] = lambda kind: TEXT
    takes_empty: bool = False
    reads: frozenset[str] = frozenset()


def _same_kind(kind: str) -> str:
    return kind


def _plain(function: Callable[[Any], Any]) -> StepFunction:
    """Adapt a one-argument function to the step signature, for steps that read no other field."""
    return lambda value, row: function(value)


class Chain:
    """Steps run in order on one value; built by ``compile_steps``.

    ``kind`` is the kind of the chain's output for a text input, and ``reads`` the output fields
    that any step of the chain reads, which must be computed first.
    """

    def __init__(self, steps: list[Step], kind: str):
        self.steps = tuple(steps)
        self.kind = kind
        self.reads = frozenset().union(*(step.reads for step in steps))

    def __call__(self, value: Any, row: Row = _NO_ROW) -> Any:
        for step in self.steps:
            if value is None and not step.takes_empty:
                continue
            value = step.function(value, row)
        return value


# -- text, lists and booleans ----------------------------------------------------------------------


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    word = match_key(str(value))
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise StepError("mapping.boolean_invalid", value=value)


def _school_year_from_end_year(value: Any) -> Any:
    """Read ``2026`` as the school year ``2025-2026``; a written range passes if consecutive."""
    text = str(value).replace(" ", "").replace("/", "-")
    if re.fullmatch(r"\d{4}", text):
        return f"{int(text) - 1}-{text}"
    years = re.fullmatch(r"(\d{4})-(\d{4})", text)
    if years and int(years.group(2)) == int(years.group(1)) + 1:
        return text
    raise StepError("mapping.school_year_invalid", value=value)


# Spaces, dots and every Unicode dash, as people type them inside phone and id numbers.
_NUMBER_SEPARATORS = re.compile(r"[\s.\-\u2010-\u2015\u2212]+")


def _digits(value: Any) -> Any:
    """Remove spaces, dots and dashes: ``0901 234 567`` gives ``0901234567``, still text."""
    return _NUMBER_SEPARATORS.sub("", str(value)) or None


# A date as the spreadsheet readers give a date cell: an ISO date, or an ISO date and time. Or a
# date as Excel writes one into a CSV: a whole date ("01/06/2025"), or a day and a month name
# ("6-Jan", "Jan-06", "6-Thg1").
_DATE_CELL = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
    r"|\d{1,2}[/.-]\d{1,2}[/.-]\d{4}"
    r"|\d{1,2}-(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|thg ?\d{1,2})(?:-\d{2,4})?"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)-\d{1,2}",
    re.IGNORECASE,
)


def _not_date(value: Any) -> Any:
    """Reject a date in a text column: Excel turns a class typed "6/1" into 6 January."""
    if _DATE_CELL.fullmatch(str(value)):
        raise StepError("mapping.value_is_date", value=value)
    return value


def _split(separator: str, context: StepContext) -> Step:
    def split(value: Any) -> Any:
        if isinstance(value, list):
            return value
        parts = [part.strip() for part in str(value).split(separator)]
        return [part for part in parts if part] or None

    return Step("split", _plain(split), frozenset({TEXT, ARRAY}), lambda kind: ARRAY)


_NAME_PARTS = ("family", "middle", "given")


def _split_name(part: str, context: StepContext) -> Step:
    """Take one part of a Vietnamese full name: the first word is the family name, the last the
    given name, and the words between them the middle name. A single word is a given name."""
    index = _NAME_PARTS.index(part)

    def split_name(value: Any) -> Any:
        words = str(value).split()
        if not words:
            return None
        if len(words) == 1:
            return words[0] if part == "given" else None
        parts = (words[0], " ".join(words[1:-1]), words[-1])
        return parts[index] or None

    return Step("split_name", _plain(split_name))


# -- the "Nữ" column -------------------------------------------------------------------------------

# match_key forms of the marks that tick a box, and the marks match_key would erase.
_FLAG_WORDS = frozenset({"x", "1", "c", "v", "co"})
# Check marks, the square-root sign that some spreadsheets use as one, and "ü", which is
# what a cell holds when the tick was typed in Excel's Wingdings font.
_FLAG_SYMBOLS = frozenset({"✓", "✔", "☑", "✅", "√", "ü"})
FLAG_MARKS_SHOWN = "x, X, 1, c, v, có, ✓, √"
# match_key forms of the cells that mean "not marked", as an empty cell does: 0, "không" and
# its short form "K", the counterpart of "C" for "có".
_UNMARKED_WORDS = frozenset({"0", "khong", "k"})


_FLAG_OPTIONS = ("mark_words", "other_words")


def _flag_values(argument: Mapping[Any, Any], context: StepContext) -> tuple[Any, Any]:
    """Return the (marked, empty) values of a ``flag`` step.

    YAML reads unquoted ``true:`` and ``false:`` keys as booleans, and the store keeps the
    canonical JSON, where they are text, so both spellings are accepted.
    """
    keys = {str(key).lower(): value for key, value in argument.items()
            if key not in _FLAG_OPTIONS}
    if set(keys) != {"true", "false"}:
        raise ConfigurationError("error.mapping_flag_invalid", mapping=context.mapping,
                                 field=context.field)
    marked, empty = keys["true"], keys["false"]
    kinds = {type(marked), type(empty)}
    if kinds not in ({str}, {bool}):
        raise ConfigurationError("error.mapping_flag_invalid", mapping=context.mapping,
                                 field=context.field)
    return marked, empty


@dataclass(frozen=True)
class TickReader:
    """Reads one cell of a tick-box column as marked (``True``) or not marked (``False``).

    ``mark_words`` are words that count as a mark as well, such as "Nữ" typed in the "Nữ"
    column. ``other_words`` are the words of another choice ("Nam" in the "Nữ" column), which
    are rejected with ``mapping.flag_other_word`` rather than read as either. Both compare by
    ``match_key``, so case, tone marks and NFD text do not count.
    """

    mark_words: tuple[str, ...] = ()
    other_words: tuple[str, ...] = ()

    def __call__(self, value: Any) -> bool:
        if value is None:
            return False
        text = str(value).strip()
        key = match_key(text)
        if text in _FLAG_SYMBOLS or key in _FLAG_WORDS:
            return True
        if not text or key in _UNMARKED_WORDS:
            return False
        if key in {match_key(word) for word in self.mark_words}:
            return True
        if key in {match_key(word) for word in self.other_words}:
            raise StepError("mapping.flag_other_word", value=value,
                            marked=self.mark_words[0] if self.mark_words else "x")
        raise StepError("mapping.flag_invalid", value=value, accepted=self.accepted)

    @property
    def accepted(self) -> str:
        return ", ".join([FLAG_MARKS_SHOWN, *self.mark_words])


def _flag(argument: Mapping[Any, Any], context: StepContext) -> Step:
    """Read a tick-box column: a mark gives the ``true`` value and an empty cell the ``false`` one."""
    marked, empty = _flag_values(argument, context)
    kind = BOOLEAN if isinstance(marked, bool) else TEXT
    read = TickReader(tuple(argument.get("mark_words") or ()),
                      tuple(argument.get("other_words") or ()))

    def flag(value: Any) -> Any:
        return marked if read(value) else empty

    return Step("flag", _plain(flag), gives=lambda _: kind, takes_empty=True)


# -- regular expressions and identifiers -----------------------------------------------------------


def _regex(argument: Mapping[str, Any], context: StepContext) -> Step:
    """Extract ``group`` of the first match of ``pattern``; no match rejects the value."""
    source = str(argument["pattern"])
    group = argument.get("group", 0)
    try:
        pattern = re.compile(source)
    except re.error as exc:
        raise ConfigurationError("error.mapping_regex_invalid", mapping=context.mapping,
                                 field=context.field, pattern=source, detail=str(exc)) from exc
    known = group in pattern.groupindex if isinstance(group, str) else 0 <= group <= pattern.groups
    if not known:
        raise ConfigurationError("error.mapping_regex_group", mapping=context.mapping,
                                 field=context.field, pattern=source, group=group)

    def extract(value: Any) -> Any:
        match = pattern.search(str(value))
        if match is None:
            raise StepError("mapping.regex_no_match", value=value, pattern=source)
        # A group that took no part in the match, or matched nothing, gives no value.
        return match.group(group) or None

    return Step("regex", _plain(extract))


# Excel shows a number of 12 digits or more in a General cell as "7.93197E+11", and a CSV
# saved from that sheet keeps only the digits shown. The sign is part of Excel's form, so a
# class named "10E1" is not taken for one.
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d+)?[eE][+-]\d+")
# A whole number written as a decimal ("1625191602.0"), as a float column of a data frame
# saves it. Five digits at least, so that a class named "10.0" stays as it is.
_WHOLE_DECIMAL = re.compile(r"(\d{5,})[.,]0+")


# Any Unicode white space: the space, the no-break space (U+00A0), the narrow no-break and
# figure spaces (U+202F, U+2007), the ideographic space (U+3000), a tab or a line break.
_ANY_SPACE = re.compile(r"\s+")
# Full-width digits, as an East Asian input method types them. NFKC would give the same
# ASCII digits, but cells are only put in NFC (gateway.text.clean).
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def identifier_text(value: str | None) -> str | None:
    """Check a cell that contains an identifier, before the field's steps run.

    Digits typed in groups for reading (``0620 010 001``, a no-break space between groups,
    full-width digits) give the ASCII digits alone, so that the same code written without
    spaces names the same record. Only a value that has nothing but digits and spaces is
    changed: an id with letters (``HS 001``) or with other separators (``0620-010-001``)
    is kept as written. A number in scientific notation has lost its last digits, so it is
    rejected. A whole number written with ``.0`` gives its digits, as an XLSX number cell
    does.
    """
    if value is None or (value.isascii() and value.isdigit()):
        return value
    compact = _ANY_SPACE.sub("", value).translate(_FULL_WIDTH_DIGITS)
    if compact.isascii() and compact.isdigit():
        return compact
    if ("E" in value or "e" in value) and _SCIENTIFIC.fullmatch(value):
        raise StepError("mapping.identifier_scientific", value=value)
    whole = _WHOLE_DECIMAL.fullmatch(value) if "." in value or "," in value else None
    return whole.group(1) if whole else value


def _pad_left(argument: Mapping[str, Any], context: StepContext) -> Step:
    """Pad on the left to ``width`` with ``char``; a longer value passes unchanged.

    With ``max_missing``, a value that lacks more characters than that is rejected instead
    of padded: a 9-digit number is no 12-digit one that lost its leading zeros. With
    ``reject_longer``, a value longer than ``width`` is rejected too.
    """
    width = int(argument["width"])
    char = str(argument.get("char", "0"))
    digits_only = bool(argument.get("digits_only", False))
    max_missing = argument.get("max_missing")
    reject_longer = bool(argument.get("reject_longer", False))
    if len(char) != 1:
        raise ConfigurationError("error.mapping_pad_char", mapping=context.mapping,
                                 field=context.field, char=char)

    def pad(value: Any) -> Any:
        text = str(value)
        if digits_only and not (text.isascii() and text.isdigit()):
            raise StepError("mapping.pad_left_not_digits", value=value, width=width)
        if max_missing is not None and width - len(text) > max_missing:
            raise StepError("mapping.pad_left_too_short", value=value, width=width,
                            length=len(text))
        if reject_longer and len(text) > width:
            raise StepError("mapping.pad_left_too_long", value=value, width=width,
                            length=len(text))
        return text.rjust(width, char)

    return Step("pad_left", _plain(pad))


# -- dates -----------------------------------------------------------------------------------------

_FORMAT_WORDS = {"%Y": "YYYY", "%y": "YY", "%m": "MM", "%d": "DD", "%H": "hh", "%M": "mm", "%S": "ss"}
# An ISO date and time, as some spreadsheet readers write a date cell. A time zone may follow,
# as in "2010-05-01T00:00:00.000Z" in some OneRoster exports. The date is the one written, and
# only midnight passes, so a date moved to another zone is rejected.
_ISO_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?"
                           r"(?:Z|[+-]\d{2}:?\d{2})?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_FORMAT = "%Y-%m-%d"
# A date with the year first and slashes or dots ("2019/08/29"), as some Excel locales write
# it. Nothing reads it day first, so it is read as ISO is.
_YEAR_FIRST = re.compile(r"\d{4}([/.])\d{1,2}\1\d{1,2}")
# A date written out in words ("ngày 29 tháng 8 năm 2019", "29 tháng 8, 2019"), read from its
# match_key. The words name the day, the month and the year, so it is never ambiguous.
_WORDS_DATE = re.compile(r"(?:ngay )?(\d{1,2}) thang (\d{1,2}),? (?:nam )?(\d{4})")
_YEAR_ALONE = re.compile(r"\d{4}")


def human_format(pattern: str) -> str:
    """Turn a strptime pattern into the form people read: ``%d/%m/%Y`` -> ``DD/MM/YYYY``."""
    for directive, word in _FORMAT_WORDS.items():
        pattern = pattern.replace(directive, word)
    return pattern


class _DateReader:
    """Read a date under an explicit list of formats, never guessing (see ``_date``)."""

    def __init__(self, formats: list[str], allow_year_only: bool, context: StepContext):
        for pattern in formats:
            if "%y" in pattern.replace("%%", ""):
                raise ConfigurationError("error.mapping_date_two_digit_format",
                                         mapping=context.mapping, field=context.field,
                                         format=pattern)
        # A listed date and time also reads without seconds ("29/08/2019 00:00"), as Excel's
        # format "dd/mm/yyyy hh:mm" writes it.
        self.formats = [*formats, *(f[:-3] for f in formats
                                    if f.endswith("%H:%M:%S") and f[:-3] not in formats)]
        # With ISO as the only format no reading can be ambiguous, so the fast parser serves.
        self.iso_only = formats == [_ISO_FORMAT]
        self.shown = " | ".join(human_format(f) for f in formats)
        self.year_only = allow_year_only and "%Y" in formats
        # The same formats with a two-digit year, only to say why a value is rejected.
        self.short_year_formats = [f.replace("%Y", "%y") for f in formats if "%Y" in f]

    def __call__(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return self._midnight(value, value)
        if isinstance(value, date):
            return value.isoformat()
        text = str(value).strip()
        stamp = _ISO_DATETIME.fullmatch(text)
        if stamp:
            return self._iso_datetime(stamp, value)
        if _YEAR_ALONE.fullmatch(text):
            if self.year_only:
                return text
            raise StepError("mapping.date_year_only", value=value, formats=self.shown)
        words = _WORDS_DATE.fullmatch(match_key(text)) if " " in text else None
        if words:
            return self._words(words, value)
        return self._parse(text, value)

    def _words(self, words: re.Match[str], value: Any) -> str:
        day, month, year = (int(part) for part in words.groups())
        try:
            return date(year, month, day).isoformat()
        except ValueError:
            raise StepError("mapping.date_invalid", value=value, formats=self.shown) from None

    def _midnight(self, moment: datetime, value: Any) -> str:
        if moment.time() != time(0):
            raise StepError("mapping.date_has_time", value=value)
        return moment.date().isoformat()

    def _iso_datetime(self, stamp: re.Match[str], value: Any) -> str:
        try:
            day = date.fromisoformat(stamp.group(1))
        except ValueError:
            raise StepError("mapping.date_invalid", value=value, formats=self.shown) from None
        if any(part and int(part) for part in stamp.groups()[1:]):
            raise StepError("mapping.date_has_time", value=value)
        return day.isoformat()

    def _parse(self, text: str, value: Any) -> str:
        if self.iso_only and _ISO_DATE.fullmatch(text):
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                pass  # an impossible date such as 2023-02-30: rejected below with its message
        readings: dict[datetime, list[str]] = {}
        # ISO dates are read even when unlisted, because excel_serial and spreadsheet readers
        # write dates that way. A listed format that reads them otherwise makes them ambiguous.
        formats = self.formats
        if _ISO_FORMAT not in formats and _ISO_DATE.fullmatch(text):
            formats = [*formats, _ISO_FORMAT]
        year_first = _YEAR_FIRST.fullmatch(text)
        if year_first:
            separator = year_first.group(1)
            formats = [*formats, separator.join(("%Y", "%m", "%d"))]
        for pattern in formats:
            try:
                readings.setdefault(datetime.strptime(text, pattern), []).append(pattern)
            except ValueError:
                continue
        if len({moment.date() for moment in readings}) > 1:
            candidates = ", ".join(
                f"{moment.date().isoformat()} ({' | '.join(human_format(p) for p in patterns)})"
                for moment, patterns in sorted(readings.items())
            )
            raise StepError("mapping.date_ambiguous", value=value, candidates=candidates)
        if readings:
            return self._midnight(min(readings), value)
        for pattern in self.short_year_formats:
            try:
                datetime.strptime(text, pattern)
            except ValueError:
                continue
            raise StepError("mapping.date_two_digit_year", value=value, formats=self.shown)
        reading = _month_first_reading(text, self.formats)
        if reading is not None:
            # "12/25/2013" under dd/mm/yyyy: the file most likely writes month first.
            raise StepError("mapping.date_month_first", value=value, reading=reading,
                            formats=self.shown)
        raise StepError("mapping.date_invalid", value=value, formats=self.shown)


def _month_first_reading(text: str, formats: Sequence[str]) -> str | None:
    """Return the ISO date that ``text`` gives under a day-first format with day and month swapped."""
    for pattern in formats:
        day, month = pattern.find("%d"), pattern.find("%m")
        if day < 0 or month < 0 or day > month:
            continue
        swapped = pattern.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
        try:
            return datetime.strptime(text, swapped).date().isoformat()
        except ValueError:
            continue
    return None


def _date(argument: Mapping[str, Any], context: StepContext) -> Step:
    """Read a date under every listed format and return it as ISO ``YYYY-MM-DD``.

    A value that two formats read as different dates is ambiguous, and a two-digit year is never
    expanded: both are rejected. A year alone is rejected unless the formats list ``%Y`` and
    ``allow_year_only`` is true, when it passes as ``YYYY``. An ISO date (``YYYY-MM-DD``), or
    one with slashes or dots in its place (``2019/08/29``), is read even when no format lists
    it, and so is a date in words (``ngày 29 tháng 8 năm 2019``). A listed format with a time
    also reads the time without seconds. An ISO date and time at midnight gives its date, and
    any other time of day is rejected.
    """
    reader = _DateReader(list(argument["formats"]), bool(argument.get("allow_year_only")), context)
    return Step("date", _plain(reader))


# Excel counts days from 1900-01-01 as 1, but also counts 1900-02-29, which never existed,
# so serials from 61 on are one day ahead of a plain count.
_EXCEL_1900_BEFORE_LEAP = date(1899, 12, 31)
_EXCEL_1900_AFTER_LEAP = date(1899, 12, 30)
_EXCEL_1900_FICTITIOUS = 60
_EXCEL_1904_EPOCH = date(1904, 1, 1)
_SERIAL = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")
_DATE_SYSTEMS = ("1900", "1904")


def excel_serial_date(serial: int, system: str) -> date:
    """Return the date of an Excel serial day number in the ``1900`` or ``1904`` date system.

    Raises ``ValueError`` for 1900-02-29, which Excel counts but which never existed. Raises
    ``OverflowError`` for a serial outside the dates Excel shows (1900-01-01 or 1904-01-01 to
    9999-12-31).
    """
    if serial < 0:
        raise OverflowError(serial)
    if system == "1904":
        return _EXCEL_1904_EPOCH + timedelta(days=serial)
    if serial == _EXCEL_1900_FICTITIOUS:
        raise ValueError("1900-02-29")
    if serial < 1:
        raise OverflowError(serial)
    epoch = _EXCEL_1900_BEFORE_LEAP if serial < _EXCEL_1900_FICTITIOUS else _EXCEL_1900_AFTER_LEAP
    return epoch + timedelta(days=serial)


def _date_system(argument: Mapping[str, Any], context: StepContext) -> str:
    system = str(argument.get("system", "auto"))
    if system == "auto":
        system = str(context.properties.get("date_system") or "1900")
    if system not in _DATE_SYSTEMS:
        raise ConfigurationError("error.mapping_date_system", mapping=context.mapping,
                                 field=context.field, system=system)
    return system


def _excel_serial(argument: Mapping[str, Any], context: StepContext) -> Step:
    """Read a whole number as an Excel serial date and return ISO ``YYYY-MM-DD``.

    Other text passes untouched, so a ``date`` step may follow for dates written as text. So do
    numbers with leading zeros, which a spreadsheet never writes for a number, four-digit
    numbers, which are more likely a year alone than a date in 1902 to 1927 (1900 system),
    unless ``four_digits`` is ``serial``, and numbers of one to three digits, which are more
    likely a day or a month alone than a date in 1900 to 1902, unless ``short_numbers`` is
    ``serial``.
    """
    system = _date_system(argument, context)
    years_are_serials = argument.get("four_digits") == "serial"
    short_are_serials = argument.get("short_numbers") == "serial"

    def convert(value: Any) -> Any:
        number = _SERIAL.fullmatch(str(value).strip())
        if number is None:
            return value
        if number.group(2) and number.group(2).strip("0"):
            raise StepError("mapping.excel_serial_time", value=value)
        serial = int(number.group(1))
        if 1000 <= serial <= 9999 and not years_are_serials:
            return value
        if serial < 1000 and not short_are_serials:
            return value
        try:
            return excel_serial_date(serial, system).isoformat()
        except OverflowError:
            raise StepError("mapping.excel_serial_range", value=value, system=system) from None
        except ValueError:
            raise StepError("mapping.excel_serial_fictitious", value=value) from None

    return Step("excel_serial", _plain(convert))


# -- code lists ------------------------------------------------------------------------------------


_WITH_OTHER_NAME = re.compile(r"(.+?)\s*\((.+)\)")


def _code(argument: Mapping[str, Any], context: StepContext) -> Step:
    """Look the value up in a code list: by its spellings, by the code itself (``by: code``),
    and within the parent named by another output field (``parent_field``).

    A name followed by another name in brackets ("Kinh (Việt)") is found when both name the
    same entry. With ``output: maps_to`` the step gives the value of the other code system that
    the entry implies (the list's ``maps_to``: a learner status gives an enrollment status).
    """
    codelist = get_codelist(argument["list"], argument.get("version"))
    by_code = argument.get("by", "name") == "code"
    if argument.get("output") == "maps_to" and codelist.maps_to is None:
        raise ConfigurationError("error.mapping_code_no_maps_to", mapping=context.mapping,
                                 field=context.field, codelist=codelist.label)
    implied = argument.get("output") == "maps_to"
    parent_field = argument.get("parent_field")
    if parent_field and codelist.parent_list is None:
        raise ConfigurationError("error.mapping_code_not_nested", mapping=context.mapping,
                                 field=context.field, codelist=codelist.label)

    def lookup(value: Any, row: Row) -> Any:
        text = str(value)
        parent = None
        if parent_field:
            parent = row.get(parent_field)
            if parent is None:
                raise _rejection(codelist, "parent_missing", "mapping.code_parent_missing",
                                 value=value, codelist=codelist.label, parent_field=parent_field)
        def find(name: str) -> Any:
            if by_code:
                return _lookup_code(codelist, name, parent)
            if parent is not None:
                return codelist.lookup_in(name, str(parent))
            return codelist.lookup(name)

        try:
            try:
                return find(text)
            except KeyError:
                both = _WITH_OTHER_NAME.fullmatch(text)
                if by_code or both is None:
                    raise
                # "Kinh (Việt)": a name with another name of the same entry in brackets.
                code = find(both.group(1))
                if code is None or find(both.group(2)) != code:
                    raise KeyError(text) from None
                return code
        except KeyError:
            raise _unknown(codelist, value, by_code, parent) from None
        except CodeAmbiguous as exc:
            raise StepError(exc.key, **exc.params) from None

    reads = frozenset({parent_field}) if parent_field else frozenset()
    if implied:
        def implied_value(value: Any, row: Row) -> Any:
            code = lookup(value, row)
            return None if code is None else codelist.entry(code).maps_to

        return Step("code", implied_value, reads=reads)
    return Step("code", lookup, reads=reads)


def _lookup_code(codelist: CodeList, text: str, parent: Any) -> str:
    """Return the code ``text`` as the list writes it, under ``parent`` when one is given."""
    code = codelist.lookup_code(text)
    if parent is not None and codelist.entry(code).parent != str(parent):
        raise KeyError(text)
    return code


def _unknown(codelist: CodeList, value: Any, by_code: bool, parent: Any) -> StepError:
    """Return the rejection of a value that the list lacks, in the list's own words if it has them."""
    if parent is not None:
        parent_name = _parent_name(codelist, str(parent))
        elsewhere = _under_other_parents(codelist, str(value), by_code)
        if elsewhere:
            return _rejection(codelist, "in_other_parent", "mapping.code_in_other_parent",
                              value=value, codelist=codelist.label, parent=parent,
                              parent_name=parent_name, found=elsewhere)
        return _rejection(codelist, "unknown_in", "mapping.code_unknown_in", value=value,
                          codelist=codelist.label, parent=parent, parent_name=parent_name)
    if len(codelist.codes) <= SHORT_LIST_MAX:
        # The person who fixes the file reads the accepted values, by name in their language
        # (or by code). ``codelist`` stays in the parameters for --json, not in the text.
        return StepError("mapping.code_not_accepted_field", column_key="mapping.code_not_accepted",
                         value=value, codelist=codelist.label, accepted_from=codelist.label,
                         accepted_by="code" if by_code else "name")
    if by_code:
        return StepError("mapping.code_not_in_list", value=value, codelist=codelist.label)
    if str(value).strip().isdigit() and codelist.numbered:
        # Lists such as the ethnic groups are numbered differently by different sources, so a
        # bare number is never looked up as a name.
        return StepError("mapping.code_number_not_name", value=value, codelist=codelist.label)
    current = codelist.former_unit(str(value))
    if current is not None:
        # The former-unit messages name the column, so they get it like a list's own messages.
        return StepError(codelist.message_key("former", "mapping.code_former"), value=value,
                         codelist=codelist.label, code=current,
                         current=codelist.name_of(current, "vi") or current, column=None)
    return _rejection(codelist, "unknown", "mapping.code_unknown", value=value,
                      codelist=codelist.label)


def _rejection(lookup_list: CodeList, kind: str, default: str, /, **params: Any) -> StepError:
    """Return a rejection of ``kind``, in the list's own message when its ``messages`` name one.

    A list's own message names the column, so it gets ``column=None``, which the compiler
    fills in with the field's column.
    """
    key = lookup_list.message_key(kind, default)
    if key != default:
        params["column"] = None
    return StepError(key, **params)


def _parent_name(codelist: CodeList, parent: str) -> str:
    """Return the name of ``parent`` in the list's parent list ("Thành phố Cần Thơ"), else the code."""
    if codelist.parent_list is None:
        return parent
    try:
        parents = get_codelist(codelist.parent_list)
    except ConfigurationError:
        return parent
    return parents.name_of(parent, "vi") or parent


SHORT_LIST_MAX = 12
"""Largest code list whose rejection message lists every accepted value (gender: Nam, Nữ)."""


def _under_other_parents(codelist: CodeList, text: str, by_code: bool) -> str | None:
    """Return the codes that ``text`` names anywhere in the list, with their parents, if any.

    Runs only for a value that its own parent lacks, so that a commune written under the wrong
    province is distinguished from a name that no province has.
    """
    try:
        code = codelist.lookup_code(text) if by_code else codelist.lookup(text)
    except KeyError:
        return None
    except CodeAmbiguous as exc:
        return str(exc.params["candidates"])
    if code is None:
        return None
    entry = codelist.entry(code)
    label = " ".join(part for part in (code, entry.name.get("vi")) if part)
    return f"{label} ({entry.parent})"


# -- composition -----------------------------------------------------------------------------------


def _each(argument: list[Any], context: StepContext) -> Step:
    inner = compile_steps(argument, context)

    def each(value: Any, row: Row) -> Any:
        if not isinstance(value, list):
            return inner(value, row)
        results = [inner(item, row) for item in value]
        return [item for item in results if item is not None] or None

    def gives(kind: str) -> str:
        return ARRAY if kind == ARRAY else inner.kind

    return Step("each", each, frozenset({TEXT, ARRAY}), gives, reads=inner.reads)


_ANY_TEXT = frozenset({TEXT, ARRAY})

SIMPLE_STEPS: dict[str, Step] = {
    "upper": Step("upper", _plain(_upper), _ANY_TEXT, _same_kind),
    "lower": Step("lower", _plain(_lower), _ANY_TEXT, _same_kind),
    "first": Step("first", _plain(_first), _ANY_TEXT),
    "boolean": Step("boolean", _plain(_boolean), frozenset({TEXT, BOOLEAN}), lambda kind: BOOLEAN),
    "school_year_from_end_year": Step("school_year_from_end_year",
                                      _plain(_school_year_from_end_year)),
    "digits": Step("digits", _plain(_digits)),
    "not_date": Step("not_date", _plain(_not_date)),
}

STEP_BUILDERS: dict[str, Callable[[Any, StepContext], Step]] = {
    "split": _split,
    "date": _date,
    "excel_serial": _excel_serial,
    "code": _code,
    "each": _each,
    "split_name": _split_name,
    "flag": _flag,
    "regex": _regex,
    "pad_left": _pad_left,
}


def compile_step(spec: Any, context: StepContext | None = None) -> Step:
    """Return the ``Step`` for one step of a mapping file.

    Raises ``ConfigurationError`` for an unknown step or an invalid argument.
    """
    context = context or StepContext()
    if isinstance(spec, str):
        if spec not in SIMPLE_STEPS:
            raise ConfigurationError("error.mapping_step_unknown", step=spec)
        return SIMPLE_STEPS[spec]
    (name, argument), = spec.items()
    builder = STEP_BUILDERS.get(name)
    if builder is None:
        raise ConfigurationError("error.mapping_step_unknown", step=name)
    return builder(argument, context)


def compile_steps(specs: list[Any], context: StepContext | None = None) -> Chain:
    """Compile the steps of one field into a ``Chain``, checking that each step gets its kind.

    A step that cannot take what the step before gives (a ``date`` after ``split``, which gives
    a list) raises ``ConfigurationError``.
    """
    context = context or StepContext()
    steps = [compile_step(spec, context) for spec in specs]
    kind = TEXT
    for step in steps:
        if kind not in step.accepts:
            raise ConfigurationError("error.mapping_step_input", mapping=context.mapping,
                                     field=context.field, step=step.name, kind=kind)
        kind = step.gives(kind)
    return Chain(steps, kind)

