"""The day and month order of text dates under day-first formats."""

from __future__ import annotations

import pytest

from gateway.mapping.compiler import CompiledMapping
from gateway.mapping.day_month import (
    DAY_FIRST,
    EITHER,
    MONTH_FIRST,
    day_first_formats,
    read_order,
)
from gateway.mapping.spec import MAPPING_DIR, read_spec

FORMATS = day_first_formats(
    [{"excel_serial": {"system": "auto"}},
     {"date": {"formats": ["%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%Y %H:%M:%S"]}}])


@pytest.mark.parametrize("value, expected", [
    ("03/04/2013", EITHER),
    ("4/3/2013", EITHER),
    ("03.04.2013", EITHER),
    ("03/04/2013 00:00", EITHER),
    ("12/25/2013", MONTH_FIRST),
    ("1-13-2014", MONTH_FIRST),
    ("25/12/2013", DAY_FIRST),
    ("05/05/2013", None),
    ("31/04/2013", None),
    ("02/30/2013", None),
    ("13/13/2013", None),
    ("05/09/13", None),
    ("2013", None),
    ("2013-04-03", None),
    ("", None),
    (None, None),
], ids=lambda value: repr(value))
def test_read_order(value: str | None, expected: str | None) -> None:
    assert read_order(value, FORMATS) == expected


def test_day_first_formats_listed() -> None:
    assert FORMATS == ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M")


def test_iso_formats_not_day_first() -> None:
    assert day_first_formats([{"date": {"formats": ["%Y-%m-%d"]}}]) == ()
    assert day_first_formats([{"date": {"formats": ["%m/%d/%Y"]}}]) == ()


@pytest.mark.parametrize("label, headers, expected", [
    ("school-export/student/v6", ["Mã học sinh", "Họ và tên", "Ngày sinh"], ["birth_date"]),
    ("school-export/student/v6",
     ["Mã học sinh", "Họ và tên", "Ngày sinh", "Tháng sinh", "Năm sinh"], []),
    ("oneroster/student/v2", ["sourcedId", "role", "status", "givenName", "birthDate"], []),
], ids=["one column", "split columns", "oneroster iso"])
def test_day_first_columns_of_mapping(label: str, headers: list[str], expected: list[str]) -> None:
    mapping = CompiledMapping(read_spec(MAPPING_DIR / f"{label}.yaml"), headers)

    assert [column.field for column in mapping.day_first_columns] == expected
