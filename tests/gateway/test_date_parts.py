"""Dates built from a day, a month and a year column (``date_parts``): what is read, what is
rejected and at which column, and how the source binds to a stream's headers."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.clock import FakeClock, use_clock
from gateway.errors import MappingError, Place, Problems
from gateway.i18n import translate
from gateway.mapping.compiler import CompiledMapping, MissingColumns, check_mapping, column_groups
from gateway.mapping.spec import MappingSpec, check_document

PARTS = {"day": ["Ngày sinh Ngày"], "month": ["Ngày sinh Tháng"], "year": ["Ngày sinh Năm"]}
DOCUMENT: dict[str, Any] = {
    "format": 1, "adapter": "vnedu", "entity": "student", "version": 1, "schema_version": 2,
    "stream": "students",
    "fields": {
        "local_id": {"column": "Mã học sinh", "required": True},
        "full_name": {"column": "Họ và tên", "required": True},
        "given_name": {"column": "Họ và tên", "steps": [{"split_name": "given"}], "required": True},
        "birth_date": {"column": "Ngày sinh", "date_parts": PARTS,
                       "steps": [{"excel_serial": {"system": "auto"}},
                                 {"date": {"formats": ["%d/%m/%Y"]}}]},
    },
}
HEADERS = ["Mã học sinh", "Họ và tên", "Ngày sinh Ngày", "Ngày sinh Tháng", "Ngày sinh Năm"]
PLACE = Place(file="ds.xlsx", sheet="6A1", row=7)


def compile_document(document: dict[str, Any] = DOCUMENT,
                     headers: list[str] = HEADERS) -> CompiledMapping:
    return CompiledMapping(MappingSpec(document=document, origin="test"), headers)


def row(day: str, month: str, year: str) -> list[str]:
    return ["0920030001", "Nguyễn Thị Lan", day, month, year]


def birth_date(day: str, month: str, year: str) -> Any:
    return compile_document().map(row(day, month, year), PLACE).record.get("birth_date")


def rejection(day: str, month: str, year: str,
              document: dict[str, Any] = DOCUMENT) -> MappingError:
    with pytest.raises(MappingError) as caught:
        compile_document(document).map(row(day, month, year), PLACE)
    return caught.value


@pytest.mark.parametrize(("cells", "expected"), [
    pytest.param(("22", "7", "2013"), "2013-07-22", id="numbers"),
    pytest.param(("02", "07", "2013"), "2013-07-02", id="leading-zeros"),
    pytest.param(("29", "2", "2012"), "2012-02-29", id="leap-day"),
    pytest.param(("5.0", "3,0", "2013.0"), "2013-03-05", id="zero-fractions"),
    pytest.param((" 5 ", "3", "2013"), "2013-03-05", id="spaces"),
    pytest.param(("", "", ""), None, id="all-empty"),
])
def test_parts_read(cells: tuple[str, str, str], expected: str | None) -> None:
    assert birth_date(*cells) == expected


@pytest.mark.parametrize(("cells", "key", "column"), [
    pytest.param(("31", "2", "2013"), "mapping.date_parts_invalid", "Ngày sinh Ngày", id="31-feb"),
    pytest.param(("29", "2", "2013"), "mapping.date_parts_invalid", "Ngày sinh Ngày",
                 id="29-feb-common-year"),
    pytest.param(("5", "3", "13"), "mapping.date_part_two_digit_year", "Ngày sinh Năm",
                 id="two-digit-year"),
    pytest.param(("5", "3", "213"), "mapping.date_year_invalid", "Ngày sinh Năm", id="three-digits"),
    pytest.param(("5", "Bảy", "2013"), "mapping.date_month_invalid", "Ngày sinh Tháng",
                 id="month-name"),
    pytest.param(("5", "Tháng 7", "2013"), "mapping.date_month_invalid", "Ngày sinh Tháng",
                 id="month-word-and-number"),
    pytest.param(("5", "13", "2013"), "mapping.date_month_invalid", "Ngày sinh Tháng",
                 id="month-13"),
    pytest.param(("0", "3", "2013"), "mapping.date_day_invalid", "Ngày sinh Ngày", id="day-0"),
    pytest.param(("32", "3", "2013"), "mapping.date_day_invalid", "Ngày sinh Ngày", id="day-32"),
    pytest.param(("7.5", "3", "2013"), "mapping.date_day_invalid", "Ngày sinh Ngày",
                 id="fraction"),
    pytest.param(("năm", "3", "2013"), "mapping.date_day_invalid", "Ngày sinh Ngày", id="text"),
    pytest.param(("2013-07-22", "7", "2013"), "mapping.date_part_whole_date", "Ngày sinh Ngày",
                 id="date-cell"),
    pytest.param(("22/07/2013", "7", "2013"), "mapping.date_part_whole_date", "Ngày sinh Ngày",
                 id="date-as-text"),
    pytest.param(("22", "7", "41477"), "mapping.date_part_whole_date", "Ngày sinh Năm",
                 id="serial-in-year"),
    pytest.param(("41477", "7", "2013"), "mapping.date_part_whole_date", "Ngày sinh Ngày",
                 id="serial-in-day"),
    pytest.param(("5", "", "2013"), "mapping.date_part_missing", "Ngày sinh Tháng",
                 id="month-empty"),
    pytest.param(("", "", "2013"), "mapping.date_part_missing", "Ngày sinh Ngày",
                 id="year-alone"),
    pytest.param(("5", "3", "1850"), "mapping.date_part_year_limit", "Ngày sinh Năm",
                 id="year-before-limit"),
    pytest.param(("5", "3", "2999"), "mapping.date_part_year_limit", "Ngày sinh Năm",
                 id="year-after-limit"),
])
def test_bad_part_rejected_at_its_column(cells: tuple[str, str, str], key: str,
                                         column: str) -> None:
    error = rejection(*cells)
    assert error.key == key
    assert error.place == PLACE.with_(column=column, field="birth_date")
    for lang in ("vi", "en"):
        text = translate(error.key, lang, **error.params)
        assert not text.startswith("mapping."), text
        assert column in text


def test_impossible_date_message_names_days() -> None:
    error = rejection("31", "2", "2013")
    text = translate(error.key, "en", **error.params)
    assert "31/2/2013" in text
    assert "has 28 days" in text


def test_later_this_year_names_all_columns() -> None:
    with use_clock(FakeClock(datetime(2026, 6, 30, 10, 0, tzinfo=UTC))):
        error = rejection("15", "12", "2026")
    assert error.key == "validation.date_too_late"
    assert error.place.column == "Ngày sinh Ngày + Ngày sinh Tháng + Ngày sinh Năm"
    assert error.params["not_after"] == "2026-07-01"


def test_whole_date_column_beside_some_parts() -> None:
    mapping = compile_document(headers=["Mã học sinh", "Họ và tên", "Ngày sinh",
                                        "Ngày sinh Năm"])
    cells = ["0920030001", "Nguyễn Thị Lan", "22/07/2013", "2000"]
    assert mapping.map(cells, PLACE).record["birth_date"] == "2013-07-22"
    assert mapping.column_of("birth_date") == "Ngày sinh"
    assert mapping.partial_columns == []


def test_all_parts_beside_whole_date_column() -> None:
    mapping = compile_document(headers=["Mã học sinh", "Họ và tên", "Ngày sinh",
                                        "Ngày sinh Ngày", "Ngày sinh Tháng", "Ngày sinh Năm"])
    cells = ["0920030001", "Nguyễn Thị Lan", "22/07/2013", "1", "2", "2000"]
    assert mapping.map(cells, PLACE).record["birth_date"] == "2000-02-01"


def test_flat_day_column_shares_date_name() -> None:
    document = copy.deepcopy(DOCUMENT)
    document["fields"]["birth_date"]["date_parts"] = {
        "day": ["Ngày sinh Ngày", "Ngày sinh"], "month": ["Tháng sinh"], "year": ["Năm sinh"]}
    flat = compile_document(document, ["Mã học sinh", "Họ và tên", "Ngày sinh", "Tháng sinh",
                                       "Năm sinh"])
    assert flat.map(["1", "Lan", "22", "7", "2013"], PLACE).record["birth_date"] == "2013-07-22"
    whole = compile_document(document, ["Mã học sinh", "Họ và tên", "Ngày sinh"])
    assert whole.map(["1", "Lan", "22/07/2013"], PLACE).record["birth_date"] == "2013-07-22"
    assert whole.partial_columns == []


def test_parts_alone_need_no_column() -> None:
    document = copy.deepcopy(DOCUMENT)
    document["fields"]["birth_date"] = {"date_parts": PARTS}
    mapping = compile_document(document)
    assert mapping.map(row("22", "7", "2013"), PLACE).record["birth_date"] == "2013-07-22"
    assert mapping.read_columns == (0, 1, 2, 3, 4)


def test_some_part_columns_missing_listed() -> None:
    mapping = compile_document(headers=["Mã học sinh", "Họ và tên", "Ngày sinh Ngày",
                                        "Ngày sinh Tháng"])
    assert mapping.partial_columns == [
        ("birth_date", ["Ngày sinh Ngày", "Ngày sinh Tháng"], ["Ngày sinh Năm"])]
    assert "birth_date" not in mapping.map(["1", "Lan", "22", "7"], PLACE).record


def test_no_part_column_lists_nothing() -> None:
    mapping = compile_document(headers=["Mã học sinh", "Họ và tên"])
    assert mapping.partial_columns == []


def test_required_parts_missing_name_columns() -> None:
    document = copy.deepcopy(DOCUMENT)
    document["fields"]["birth_date"]["required"] = True
    with pytest.raises(MissingColumns) as caught:
        compile_document(document, headers=["Mã học sinh", "Họ và tên", "Ngày sinh Ngày"])
    assert caught.value.names == ["Ngày sinh", "Ngày sinh Tháng", "Ngày sinh Năm"]


def test_required_empty_parts_rejected() -> None:
    document = copy.deepcopy(DOCUMENT)
    document["fields"]["birth_date"]["required"] = True
    error = rejection("", "", "", document)
    assert error.key == "mapping.required_missing"
    assert error.place.column == "Ngày sinh Ngày + Ngày sinh Tháng + Ngày sinh Năm"


def test_column_groups_list_parts() -> None:
    assert column_groups(DOCUMENT["fields"]["birth_date"]) == [
        ["Ngày sinh"], ["Ngày sinh Ngày"], ["Ngày sinh Tháng"], ["Ngày sinh Năm"]]


def test_mapping_file_schema_checks_parts() -> None:
    problems = Problems()
    assert check_document(DOCUMENT, "test", problems)
    broken = copy.deepcopy(DOCUMENT)
    broken["fields"]["birth_date"]["date_parts"] = {"day": "Ngày", "month": "Tháng"}
    assert not check_document(broken, "test", problems)
    joined = copy.deepcopy(DOCUMENT)
    joined["fields"]["birth_date"] = {"join_columns": ["A", "B"], "date_parts": PARTS}
    assert not check_document(joined, "test", problems)
    assert check_mapping(MappingSpec(document=DOCUMENT, origin="test")) == []
