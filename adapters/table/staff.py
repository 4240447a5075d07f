"""Telling a staff list from a pupil list, so that a pupil adapter never reads staff as pupils.

A school's list of its staff ("DANH SÁCH CÁN BỘ, GIÁO VIÊN, NHÂN VIÊN") has "Họ và tên",
"Ngày sinh" and often "Mã định danh", which the school-export student mapping reads too. Read
as pupils, its people would be stored as pupils, and the school's real pupils would end for
being absent from the list. ``staff_evidence`` decides from the rows above the header, the
header and the first data rows:

- a list title that names pupils ("DANH SÁCH HỌC SINH LỚP 6A1 - GVCN: ...", "Danh sách trẻ
  ..."), a title line that names a class ("Lớp: 6A1") or a pupil column ("Mã học sinh",
  "Mã HS", "Họ tên cha") makes the table a pupil list. A class column ("Lớp") does not: a
  teacher list may name each teacher's homeroom class;
- otherwise a title line that names staff makes it a staff list. Such a line opens with
  "Danh sách", "Bảng", "Thống kê" or "Báo cáo", then a staff word ("cán bộ", "giáo viên",
  "nhân viên", "nhân sự", "viên chức", "đội ngũ"), or it has an abbreviation such as "CBGVNV"
  anywhere. "Cán bộ lớp" (pupils who hold a class office) is no staff word. A
  "label: value" line ("GVCN: Trần Thị B", "Giáo viên chủ nhiệm: ...") is never a title;
- otherwise two or more staff columns ("Chức vụ", "Chức danh", "Vị trí việc làm", "Trình độ
  ...", "Hạng chức danh") make it a staff list. One staff column does only when the birth
  years of the first data rows are those of adults, because a pupil list may have "Chức vụ"
  for the class monitor. Birth years alone never decide.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from adapters.table.grid import GridRow
from gateway.clock import utcnow
from gateway.text import collapse_spaces, match_key, spelling_key

# Words that open a list's title, and words that may come between them and what is listed.
_TITLE_OPENERS = tuple(spelling_key(words).split() for words in
                       ("danh sách", "bảng", "thống kê", "báo cáo"))
_TITLE_FILLERS = tuple(spelling_key(words).split() for words in
                       ("trích ngang", "tổng hợp", "thông tin", "theo dõi"))
_STAFF_WORDS = tuple(spelling_key(words).split() for words in (
    "cán bộ", "giáo viên", "nhân viên", "nhân sự", "viên chức", "công chức", "đội ngũ",
    "người lao động", "cbgvnv", "cbgv", "cbql", "cbccvc", "cb gv nv",
))
# Abbreviations that name the staff of a school wherever they appear in a title line.
_STAFF_ABBREVIATIONS = tuple(spelling_key(words).split() for words in
                             ("cbgvnv", "cbqlgvnv", "cbccvc", "cb gv nv", "cbql gv nv"))
# "Cán bộ lớp" and "cán bộ đội" are pupils who hold an office in their class or pioneer troop.
_CAN_BO = spelling_key("cán bộ").split()
_NOT_STAFF_AFTER_CAN_BO = frozenset(spelling_key(word) for word in ("lớp", "đội"))
_CLASS_WORD = spelling_key("lớp")
_PUPIL_TITLE_WORDS = tuple(spelling_key(words).split() for words in
                           ("học sinh", "hs", "trẻ", "học viên", "thiếu nhi"))

# Header names by ``match_key``.
_STAFF_COLUMNS = frozenset(match_key(name) for name in (
    "Chức vụ", "Chức danh", "Chức danh nghề nghiệp", "Hạng chức danh", "Vị trí việc làm",
    "Ngạch", "Mã ngạch", "Tổ chuyên môn", "Ngày vào ngành", "Ngày tuyển dụng", "Hệ số lương",
    "Môn dạy", "Chuyên ngành đào tạo",
))
# Staff columns that come with a qualifier: "Trình độ chuyên môn", "Trình độ đào tạo".
_STAFF_COLUMN_PREFIXES = (match_key("Trình độ"),)
# A class column alone does not make a pupil list: a teacher list may name each teacher's
# homeroom class ("Lớp"). Only the title and the staff columns decide such a table.
_PUPIL_COLUMNS = frozenset(match_key(name) for name in (
    "Mã HS", "Họ tên cha", "Họ tên mẹ", "Họ và tên cha", "Họ và tên mẹ",
))
_PUPIL_COLUMN_WORDS = (match_key("học sinh"), match_key("phụ huynh"))
_BIRTH_COLUMNS = frozenset(match_key(name) for name in
                           ("Ngày sinh", "Sinh ngày", "Ngày tháng năm sinh", "Năm sinh"))
_BIRTH_COLUMN_PREFIXES = (match_key("Ngày sinh"), match_key("Ngày tháng năm sinh"))

_LABEL = re.compile(r"[^:]{1,40}:")
_YEAR = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")
ADULT_AGE = 18
# Birth years needed for the adult hint, and the share of them that must be adults.
_MIN_YEARS = 2
_ADULT_SHARE = 0.8


@dataclass(frozen=True)
class StaffEvidence:
    """Why a table was taken for a staff list: the title line that names staff, or its staff columns."""

    title: str
    columns: tuple[str, ...]


def staff_evidence(titles: Iterable[str], names: Sequence[str],
                   data_rows: Sequence[GridRow]) -> StaffEvidence | None:
    """Return why a table is a staff list, or ``None`` for a pupil list (see the module docstring).

    ``titles`` are the texts above the header (cells and page text, each may hold several
    lines), ``names`` the header's column names and ``data_rows`` the first rows below it.
    """
    keys = [match_key(name) for name in names]
    if any(_is_pupil_column(key) for key in keys):
        return None
    staff_title = ""
    for line in _lines(titles):
        words = spelling_key(line).split()
        if _is_pupil_title(words):
            return None
        if not staff_title and _is_staff_title(line, words):
            staff_title = line
    columns = tuple(name for name, key in zip(names, keys, strict=True) if _is_staff_column(key))
    if staff_title:
        return StaffEvidence(staff_title, columns)
    if len(columns) >= 2 or (columns and _adults(keys, data_rows)):
        return StaffEvidence("", columns)
    return None


def _lines(texts: Iterable[str]) -> Iterable[str]:
    for text in texts:
        for line in text.splitlines():
            line = collapse_spaces(unicodedata.normalize("NFC", line))
            if line:
                yield line


def _is_staff_title(line: str, words: list[str]) -> bool:
    if _LABEL.match(line):
        return False
    if _has_phrase(words, _STAFF_ABBREVIATIONS):
        return True
    rest = _after_any(words, _TITLE_OPENERS)
    if rest is None:
        return False
    while (after := _after_any(rest, _TITLE_FILLERS)) is not None:
        rest = after
    for phrase in _STAFF_WORDS:
        if rest[:len(phrase)] == phrase:
            following = rest[len(phrase):len(phrase) + 1]
            return not (phrase == _CAN_BO and following
                        and following[0] in _NOT_STAFF_AFTER_CAN_BO)
    return False


def _is_pupil_title(words: list[str]) -> bool:
    """Tell whether a title line names pupils ("DANH SÁCH HỌC SINH ...") or a class ("Lớp: 6A1")."""
    if words[:1] == [_CLASS_WORD] and len(words) > 1:
        return True
    return _after_any(words, _TITLE_OPENERS) is not None and _has_phrase(words, _PUPIL_TITLE_WORDS)


def _after_any(words: list[str], openers: tuple[list[str], ...]) -> list[str] | None:
    """Return the words after the first of ``openers`` that ``words`` start with, or ``None``."""
    for opener in openers:
        if words[:len(opener)] == opener:
            return words[len(opener):]
    return None


def _has_phrase(words: list[str], phrases: tuple[list[str], ...]) -> bool:
    return any(words[start:start + len(phrase)] == phrase
               for phrase in phrases for start in range(len(words)))


def _is_pupil_column(key: str) -> bool:
    padded = f" {key} "
    return key in _PUPIL_COLUMNS or any(f" {word} " in padded for word in _PUPIL_COLUMN_WORDS)


def _is_staff_column(key: str) -> bool:
    return key in _STAFF_COLUMNS or any(key.startswith(prefix) for prefix in _STAFF_COLUMN_PREFIXES)


def _adults(keys: list[str], rows: Sequence[GridRow]) -> bool:
    """Tell whether the birth years in the first data rows are, nearly all, those of adults."""
    columns = [index for index, key in enumerate(keys)
               if key in _BIRTH_COLUMNS or key.startswith(_BIRTH_COLUMN_PREFIXES)]
    if not columns:
        return False
    latest_adult = utcnow().year - ADULT_AGE
    years = [int(found.group(1))
             for row in rows if row.error is None
             for index in columns
             if (found := _YEAR.search(row.cell(index)))]
    if len(years) < _MIN_YEARS:
        return False
    adults = sum(1 for year in years if year <= latest_adult)
    return adults >= _ADULT_SHARE * len(years)
