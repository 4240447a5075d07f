"""The school named in the title rows above a table's header ("TRƯỜNG TH AN BÌNH").

Products that export one school's lists (vnEdu, SMAS) name the school only in
a title row. ``school_in_title`` reads the rows above the header, which the
package has already read to find the header, and returns the first school
line found. It looks at each cell once (a merged title cell counts once) and
at each line of a cell. A line names a school when it is:

- "Trường: THCS Nguyễn Du" or "Tên trường: ...": the text after the colon;
- the word "Trường" followed by a school type and a name ("TRƯỜNG TH AN BÌNH",
  "Trường Tiểu học An Bình"). The types are those of the ``school-type`` code
  list. Without a type, the line must be in capitals ("TRƯỜNG LÊ QUÝ ĐÔN");
- a label whose value is such a line ("Đơn vị: TRƯỜNG TH AN BÌNH");
- the part after " - ", "/" or "|" of a line of the authority above the school
  ("PHÒNG GD&ĐT NINH KIỀU - TRƯỜNG TH AN BÌNH");
- the part from the word "Trường" and a school type on, inside a line of the
  authority or a list's title ("PHÒNG GD&ĐT NINH KIỀU TRƯỜNG TH AN BÌNH", as
  an HTML cell with a line break reads, or "DANH SÁCH HỌC SINH TRƯỜNG TH AN
  BÌNH").

A line of the authority itself ("PHÒNG GIÁO DỤC VÀ ĐÀO TẠO ...", "SỞ GIÁO DỤC
...", "UBND ...") never names the school. Neither does a note that starts with
"Trường hợp" ("in case"), a place and date line ("Trường Long, ngày 5 tháng 9
năm 2025": Trường Long is a commune) nor a mixed-case "Trường" and a name without
a type, which may be a place. A school year at the end ("- Năm học 2025-2026")
is not part of the name. Comparing is case- and accent-aware, so a title whose
accents were lost ("TRUONG TH AN BINH") names no school.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from adapters.table.grid import GridRow
from gateway.school_names import SCHOOL_WORD, parse_school_name
from gateway.text import collapse_spaces, spelling_key

# Labels whose value is the school's name: "Trường: THCS Nguyễn Du".
_SCHOOL_LABELS = frozenset(spelling_key(label) for label in ("trường", "tên trường"))
# Words that open a line of the authority above the school, never the school itself.
_AUTHORITIES = frozenset(spelling_key(word) for word in ("phòng", "sở", "ubnd", "ủy", "uỷ", "bộ"))
# The words that open a list's title: "DANH SÁCH HỌC SINH ...".
_LIST_TITLE = spelling_key("danh sách").split()
# Words after "Trường" that make the line no school's name: "Trường hợp ..." means "in case ...".
_NOT_A_SCHOOL = frozenset({spelling_key("hợp")})
_SCHOOL_WORD_INSIDE = re.compile(r"(?<=\s)trường\b", re.IGNORECASE)
_LABEL = re.compile(r"(?P<label>[^:]{1,40}):\s*(?P<value>\S.*)")
# The separators between the authority and the school on one line.
_SEPARATOR = re.compile(r"\s*[/|]\s*|\s+[-–—]\s+")
# "Cần Thơ, ngày 5 tháng 9 năm 2025": a place and a date.
_PLACE_AND_DATE = re.compile(r",\s*ngày\b", re.IGNORECASE)
# A school year at the end of a title: "- Năm học 2025-2026", "(năm học 2025 - 2026)".
_SCHOOL_YEAR = re.compile(
    r"\s*[-–—,(]?\s*n[aă]m h[oọ]c:?\s*\d{4}\s*[-–/]\s*\d{4}\s*\)?\s*$", re.IGNORECASE
)


def school_in_title(rows: Sequence[GridRow]) -> str:
    """Return the school named in ``rows`` (the rows above a header), or an empty string."""
    return school_in_texts(
        cell
        for row in rows if row.error is None
        for index, cell in enumerate(row.cells) if cell and not row.is_continued(index)
    )


def school_in_texts(texts: Iterable[str]) -> str:
    """Return the school named in the first line of ``texts`` that names one, or an empty string."""
    for text in texts:
        for line in text.splitlines():
            school = school_in_line(line)
            if school:
                return school
    return ""


def school_in_line(line: str) -> str:
    """Return the school that one line of a title names, as written, or an empty string."""
    text = collapse_spaces(unicodedata.normalize("NFC", line))
    if not text or _PLACE_AND_DATE.search(text):
        return ""
    words = spelling_key(text).split()
    if not words:
        return ""
    if words[0] in _AUTHORITIES:
        return _school_after_authority(text)
    if words[:2] == _LIST_TITLE:
        return _school_inside(text)
    label = _LABEL.fullmatch(text)
    if label is not None and spelling_key(label["label"]) in _SCHOOL_LABELS:
        return _without_school_year(label["value"])
    school = _school_line(text)
    if not school and label is not None:
        school = _school_line(label["value"])
    return school


def _school_after_authority(text: str) -> str:
    """Return the school that follows a separator on a line of the authority, if any."""
    for separator in _SEPARATOR.finditer(text):
        school = _school_line(text[separator.end():])
        if school:
            return school
    return _school_inside(text)


def _school_inside(text: str) -> str:
    """Return the school named from an inner word "Trường" on, when a school type follows it.

    The type is required, because inside a line "trường" is also part of other words
    ("SỞ TÀI NGUYÊN VÀ MÔI TRƯỜNG": environment).
    """
    for word in _SCHOOL_WORD_INSIDE.finditer(text):
        school = _school_line(text[word.start():], typed=True)
        if school:
            return school
    return ""


def _school_line(text: str, *, typed: bool = False) -> str:
    """Return ``text`` without a trailing school year when it is "Trường" and a school's name.

    The name needs a school type when ``typed`` is true, and else a type or capitals only.
    """
    text = _without_school_year(text.strip())
    words = spelling_key(text).split()
    if len(words) < 2 or words[0] != SCHOOL_WORD or words[1] in _NOT_A_SCHOOL:
        return ""
    parts = parse_school_name(text)
    if not parts.name:
        return ""
    if parts.types or (not typed and _in_capitals(text)):
        return text
    return ""


def _without_school_year(text: str) -> str:
    return _SCHOOL_YEAR.sub("", text).strip()


def _in_capitals(text: str) -> bool:
    letters = [char for char in text if char.isalpha()]
    return bool(letters) and all(char.isupper() for char in letters)
