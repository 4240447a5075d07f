"""Mapping steps one by one: what each accepts, what it gives, and every reason it rejects."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
import yaml
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

from gateway.codelists import get_codelist
from gateway.errors import ConfigurationError
from gateway.i18n import translate
from gateway.mapping.steps import (
    ARRAY,
    BOOLEAN,
    TEXT,
    StepContext,
    StepError,
    compile_steps,
    excel_serial_date,
    identifier_text,
)


def run(steps: list[Any], value: Any, row: dict[str, Any] | None = None,
        properties: dict[str, str] | None = None) -> Any:
    chain = compile_steps(steps, StepContext(properties=properties or {}, mapping="t/e/v1", field="f"))
    return chain(value, row or {})


def rejection(steps: list[Any], value: Any, row: dict[str, Any] | None = None,
              properties: dict[str, str] | None = None) -> StepError:
    with pytest.raises(StepError) as caught:
        run(steps, value, row, properties)
    return caught.value


def configuration_error(steps: list[Any], properties: dict[str, str] | None = None) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        compile_steps(steps, StepContext(properties=properties or {}, mapping="t/e/v1", field="f"))
    return caught.value


def date_step(*formats: str, **options: Any) -> dict[str, Any]:
    return {"date": {"formats": list(formats), **options}}


DMY = "%d/%m/%Y"
MDY = "%m/%d/%Y"


# -- date ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("step", "value", "expected"), [
    pytest.param(date_step(DMY), "14/04/2021", "2021-04-14", id="slashes"),
    pytest.param(date_step("%d-%m-%Y"), "14-04-2021", "2021-04-14", id="dashes"),
    pytest.param(date_step("%d.%m.%Y"), "14.04.2021", "2021-04-14", id="dots"),
    pytest.param(date_step("%Y-%m-%d"), "2021-04-14", "2021-04-14", id="iso"),
    pytest.param(date_step(DMY), "1/5/2010", "2010-05-01", id="one-digit-day-and-month"),
    pytest.param(date_step(DMY, MDY), "13/04/2010", "2010-04-13", id="one-reading-of-two-formats"),
    pytest.param(date_step(DMY, MDY), "03/03/2010", "2010-03-03", id="two-formats-same-date"),
    pytest.param(date_step(DMY, "%d-%m-%Y"), "14-04-2021", "2021-04-14", id="second-format"),
    pytest.param(date_step(DMY), "2010-05-01T00:00:00", "2010-05-01", id="midnight-iso-t"),
    pytest.param(date_step(DMY), "2010-05-01 00:00:00", "2010-05-01", id="midnight-iso-space"),
    pytest.param(date_step(DMY), "2010-05-01 00:00:00.000", "2010-05-01", id="midnight-fraction"),
    pytest.param(date_step(DMY), "2010-05-01T00:00", "2010-05-01", id="midnight-no-seconds"),
    pytest.param(date_step(DMY), datetime(2010, 5, 1), "2010-05-01", id="midnight-datetime"),
    pytest.param(date_step(DMY), date(2010, 5, 1), "2010-05-01", id="date-object"),
    pytest.param(date_step(DMY), "2010-05-01", "2010-05-01", id="iso-date-unlisted"),
    pytest.param(date_step("%d/%m/%Y %H:%M"), "01/05/2010 00:00", "2010-05-01", id="format-with-midnight"),
    pytest.param(date_step(DMY, "%Y", allow_year_only=True), "2010", "2010", id="year-alone-allowed"),
    pytest.param(date_step(DMY), "2010/05/01", "2010-05-01", id="year-first-slashes-unlisted"),
    pytest.param(date_step(DMY), "2010.5.1", "2010-05-01", id="year-first-dots-unlisted"),
    pytest.param(date_step(DMY, "%d/%m/%Y %H:%M:%S"), "01/05/2010 00:00", "2010-05-01",
                 id="listed-time-without-seconds"),
    pytest.param(date_step(DMY), "Ngày 01 tháng 5 năm 2010", "2010-05-01", id="words"),
    pytest.param(date_step(DMY), "2010-05-01T00:00:00.000Z", "2010-05-01", id="midnight-utc"),
    pytest.param(date_step(DMY), "2010-05-01T00:00:00+07:00", "2010-05-01", id="midnight-offset"),
    pytest.param(date_step(DMY), "1 tháng 5, 2010", "2010-05-01", id="words-comma"),
])
def test_date_read(step: dict[str, Any], value: Any, expected: str) -> None:
    result = run([step], value)
    assert result == expected
    assert type(result) is str


@pytest.mark.parametrize(("step", "value", "key"), [
    pytest.param(date_step(DMY, MDY), "03/04/2010", "mapping.date_ambiguous", id="day-month-ambiguous"),
    pytest.param(date_step(DMY), "03/04/10", "mapping.date_two_digit_year", id="two-digit-year"),
    pytest.param(date_step("%d-%m-%Y"), "3-4-10", "mapping.date_two_digit_year", id="two-digit-year-dashes"),
    pytest.param(date_step(DMY), "2010", "mapping.date_year_only", id="year-alone-no-year-format"),
    pytest.param(date_step(DMY, "%Y"), "2010", "mapping.date_year_only", id="year-alone-not-allowed"),
    pytest.param(date_step(DMY), "2010-05-01T08:30:00", "mapping.date_has_time", id="iso-time"),
    pytest.param(date_step(DMY), "2010-04-30T17:00:00Z", "mapping.date_has_time", id="iso-shifted-utc"),
    pytest.param(date_step(DMY), "2010-05-01 00:00:01", "mapping.date_has_time", id="iso-one-second"),
    pytest.param(date_step(DMY), datetime(2010, 5, 1, 7), "mapping.date_has_time", id="datetime-time"),
    pytest.param(date_step("%d/%m/%Y %H:%M"), "01/05/2010 08:00", "mapping.date_has_time",
                 id="format-with-time"),
    pytest.param(date_step("%Y-%d-%m"), "2010-05-01", "mapping.date_ambiguous", id="iso-read-otherwise"),
    pytest.param(date_step(DMY), "31/02/2010", "mapping.date_invalid", id="no-such-day"),
    pytest.param(date_step(DMY), "2010-02-30 00:00:00", "mapping.date_invalid", id="iso-no-such-day"),
    pytest.param(date_step(DMY), "hôm qua", "mapping.date_invalid", id="text"),
    pytest.param(date_step(DMY), "40123", "mapping.date_invalid", id="serial-without-excel-step"),
    pytest.param(date_step("%Y-%m-%d"), "14/04/2021", "mapping.date_invalid", id="other-format"),
    pytest.param(date_step(DMY), "2010/13/01", "mapping.date_invalid", id="year-first-no-such-month"),
    pytest.param(date_step(DMY), "2010/05-01", "mapping.date_invalid", id="year-first-mixed-marks"),
    pytest.param(date_step(DMY), "ngày 31 tháng 2 năm 2010", "mapping.date_invalid", id="words-no-such-day"),
    pytest.param(date_step(DMY), "tháng 5 năm 2010", "mapping.date_invalid", id="words-no-day"),
    pytest.param(date_step("%Y/%d/%m"), "2010/05/01", "mapping.date_ambiguous",
                 id="year-first-read-otherwise"),
    pytest.param(date_step(DMY, "%d/%m/%Y %H:%M:%S"), "01/05/2010 07:30", "mapping.date_has_time",
                 id="time-without-seconds"),
])
def test_date_rejected(step: dict[str, Any], value: Any, key: str) -> None:
    error = rejection([step], value)
    assert error.key == key
    assert error.params["value"] == value


def test_ambiguous_date_lists_both_readings() -> None:
    error = rejection([date_step(DMY, MDY)], "03/04/2010")
    assert error.params["candidates"] == "2010-03-04 (MM/DD/YYYY), 2010-04-03 (DD/MM/YYYY)"
    message = translate(error.key, lang="en", **error.params)
    assert "03/04/2010" in message
    assert "2010-04-03 (DD/MM/YYYY)" in message


def test_rejected_date_names_formats() -> None:
    error = rejection([date_step(DMY, "%Y-%m-%d")], "03/04/10")
    assert error.params["formats"] == "DD/MM/YYYY | YYYY-MM-DD"


@pytest.mark.parametrize("pattern", ["%d/%m/%y", "%y-%m-%d", "%d%m%y"])
def test_two_digit_year_format_rejected_at_compile(pattern: str) -> None:
    error = configuration_error([date_step(DMY, pattern)])
    assert error.key == "error.mapping_date_two_digit_format"
    assert error.params["format"] == pattern


def test_literal_percent_y_is_not_a_year() -> None:
    assert run([date_step("%d/%m/%Y%%y")], "14/04/2021%y") == "2021-04-14"


# -- excel_serial ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("system", "value", "expected"), [
    pytest.param("1900", "1", "1900-01-01", id="1900-first-day"),
    pytest.param("1900", "59", "1900-02-28", id="1900-before-fictitious-leap-day"),
    pytest.param("1900", "61", "1900-03-01", id="1900-after-fictitious-leap-day"),
    pytest.param("1900", "43831", "2020-01-01", id="1900-2020"),
    pytest.param("1900", "43831.0", "2020-01-01", id="1900-decimal-zero"),
    pytest.param("1900", "44300", "2021-04-14", id="1900-2021"),
    pytest.param("1900", "2958465", "9999-12-31", id="1900-last-day"),
    pytest.param("1904", "0", "1904-01-01", id="1904-first-day"),
    pytest.param("1904", "42369", "2020-01-01", id="1904-2020"),
    pytest.param("1904", "42369.000", "2020-01-01", id="1904-decimal-zeros"),
    pytest.param("1904", "2957003", "9999-12-31", id="1904-last-day"),
])
def test_excel_serial_known_dates(system: str, value: str, expected: str) -> None:
    step = {"excel_serial": {"system": system, "short_numbers": "serial"}}
    assert run([step], value) == expected


@pytest.mark.parametrize("serial", [1, 2, 59, 61, 100, 1000, 10000, 25569, 40123, 43831, 50000])
@pytest.mark.parametrize(("system", "epoch"), [("1900", CALENDAR_WINDOWS_1900),
                                               ("1904", CALENDAR_MAC_1904)])
def test_excel_serial_agrees_with_openpyxl(serial: int, system: str, epoch: date) -> None:
    assert excel_serial_date(serial, system) == from_excel(serial, epoch).date()


@pytest.mark.parametrize(("properties", "value", "expected"), [
    pytest.param({"date_system": "1904"}, "42369", "2020-01-01", id="workbook-1904"),
    pytest.param({"date_system": "1900"}, "43831", "2020-01-01", id="workbook-1900"),
    pytest.param({}, "43831", "2020-01-01", id="no-property-is-1900"),
])
def test_excel_serial_auto_reads_stream_property(properties: dict[str, str], value: str,
                                                 expected: str) -> None:
    assert run([{"excel_serial": {"system": "auto"}}], value, properties=properties) == expected
    assert run([{"excel_serial": {}}], value, properties=properties) == expected


def test_excel_serial_system_written_as_number() -> None:
    # YAML reads `system: 1904` as an integer.
    assert run([{"excel_serial": {"system": 1904}}], "42369") == "2020-01-01"


@pytest.mark.parametrize(("system", "value", "key"), [
    pytest.param("1900", "60", "mapping.excel_serial_fictitious", id="1900-02-29"),
    pytest.param("1900", "0", "mapping.excel_serial_range", id="1900-day-zero"),
    pytest.param("1900", "2958466", "mapping.excel_serial_range", id="1900-after-9999"),
    pytest.param("1904", "2957004", "mapping.excel_serial_range", id="1904-after-9999"),
    pytest.param("1900", "99999999999999", "mapping.excel_serial_range", id="huge"),
    pytest.param("1900", "43831.5", "mapping.excel_serial_time", id="noon"),
    pytest.param("1904", "42369.25", "mapping.excel_serial_time", id="1904-time"),
])
def test_excel_serial_rejected(system: str, value: str, key: str) -> None:
    error = rejection([{"excel_serial": {"system": system, "short_numbers": "serial"}}], value)
    assert error.key == key
    assert error.params["value"] == value


@pytest.mark.parametrize("value", [
    pytest.param("14/04/2021", id="written-date"),
    pytest.param("Nguyễn", id="text"),
    pytest.param("00123", id="leading-zeros"),
    pytest.param("-5", id="negative"),
    pytest.param("2010", id="four-digits-year"),
    # A day or a month typed alone, not a date in January 1900.
    pytest.param("22", id="two-digits-day"),
    pytest.param("7", id="one-digit"),
    pytest.param("999", id="three-digits"),
    pytest.param("0", id="zero"),
    pytest.param("1e5", id="exponent"),
])
def test_excel_serial_passes_other_text(value: str) -> None:
    assert run([{"excel_serial": {"system": "1900"}}], value) == value


def test_excel_serial_day_alone_rejected_by_date() -> None:
    steps = [{"excel_serial": {}}, {"date": {"formats": ["%d/%m/%Y"]}}]
    assert rejection(steps, "22").key == "mapping.date_invalid"


def test_excel_serial_four_digits_as_serial_when_asked() -> None:
    assert run([{"excel_serial": {"system": "1900", "four_digits": "serial"}}], "2010") == "1905-07-02"


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("44300", "2021-04-14", id="serial"),
    pytest.param("14/04/2021", "2021-04-14", id="written"),
    pytest.param("2021-04-14 00:00:00", "2021-04-14", id="midnight"),
])
def test_excel_serial_then_date(value: str, expected: str) -> None:
    assert run([{"excel_serial": {}}, date_step(DMY)], value) == expected


def test_year_alone_through_serial_and_date_rejected() -> None:
    assert rejection([{"excel_serial": {}}, date_step(DMY)], "2010").key == "mapping.date_year_only"


@pytest.mark.parametrize("system", ["1905", "mac"])
def test_unknown_date_system_rejected_at_compile(system: str) -> None:
    error = configuration_error([{"excel_serial": {}}], properties={"date_system": system})
    assert error.key == "error.mapping_date_system"
    assert error.params["system"] == system


# -- code ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("step", "value", "expected"), [
    pytest.param({"code": {"list": "gender"}}, "Nữ", "female", id="gender-name"),
    pytest.param({"code": {"list": "gender"}}, "NAM", "male", id="gender-upper"),
    pytest.param({"code": {"list": "gender"}}, "unspecified", None, id="null-alias"),
    pytest.param({"code": {"list": "ethnic-group-1979", "by": "code"}}, "1", "01", id="code-zero-restored"),
    pytest.param({"code": {"list": "ethnic-group-1979", "by": "code"}}, "04", "04", id="code-1979"),
    pytest.param({"code": {"list": "ethnic-group-gso", "by": "code"}}, "04", "04", id="code-gso"),
    pytest.param({"code": {"list": "ethnic-group-1979", "by": "name"}}, "Khơ-me", "05", id="name-1979"),
    pytest.param({"code": {"list": "ethnic-group-gso"}}, "Khmer", "05", id="name-gso"),
    pytest.param({"code": {"list": "ethnic-group-1979"}}, "Kinh (Việt)", "01", id="other-name-bracketed"),
    pytest.param({"code": {"list": "ethnic-group-1979"}}, "Khơ me(Khmer)", "05", id="bracket-no-space"),
    pytest.param({"code": {"list": "learner-status", "output": "maps_to"}}, "Thôi học", "left",
                 id="implied-left"),
    pytest.param({"code": {"list": "learner-status", "output": "maps_to"}}, "Bỏ học", "left",
                 id="implied-dropped-out"),
    pytest.param({"code": {"list": "learner-status", "output": "maps_to"}}, "Chuyển đến",
                 "transferred_in", id="implied-transferred-in"),
])
def test_code_found(step: dict[str, Any], value: str, expected: str | None) -> None:
    assert run([step], value) == expected


@pytest.mark.parametrize(("step", "value", "key"), [
    pytest.param({"code": {"list": "gender"}}, "Martian", "mapping.code_not_accepted_field",
                 id="unknown-name-short-list"),
    pytest.param({"code": {"list": "ethnic-group-1979"}}, "01", "mapping.code_number_not_name",
                 id="bare-number-by-name"),
    pytest.param({"code": {"list": "ethnic-group-1979", "by": "code"}}, "Kinh", "mapping.code_not_in_list",
                 id="name-by-code"),
    pytest.param({"code": {"list": "ethnic-group-1979", "by": "code"}}, "55", "mapping.code_not_in_list",
                 id="number-not-in-list"),
    pytest.param({"code": {"list": "ethnic-group-1979"}}, "Kinh (Tày)", "mapping.code_unknown",
                 id="brackets-name-two-entries"),
    pytest.param({"code": {"list": "ethnic-group-1979"}}, "Kinh (mới)", "mapping.code_unknown",
                 id="brackets-not-a-name"),
    pytest.param({"code": {"list": "gender"}}, "Nữ (không xác định)", "mapping.code_not_accepted_field",
                 id="brackets-null-alias"),
])
def test_code_rejected(step: dict[str, Any], value: str, key: str) -> None:
    error = rejection([step], value)
    assert error.key == key
    assert error.params["value"] == value
    assert error.params["codelist"] == f"{step['code']['list']}@1"


def test_code_maps_to_needs_list_with_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        run([{"code": {"list": "gender", "output": "maps_to"}}], "Nữ")
    assert caught.value.key == "error.mapping_code_no_maps_to"


COMMUNE = {"code": {"list": "commune-2025", "parent_field": "province_code"}}
COMMUNE_BY_CODE = {"code": {"list": "commune-2025", "by": "code", "parent_field": "province_code"}}


@pytest.fixture()
def communes() -> None:
    pytest.importorskip("vietnam_provinces", reason="the commune list is built from vietnam-provinces")


@pytest.mark.usefixtures("communes")
@pytest.mark.parametrize(("step", "value", "expected"), [
    pytest.param(COMMUNE, "Thốt Nốt", "31212", id="name"),
    pytest.param(COMMUNE, "Phường Thốt Nốt", "31212", id="name-with-prefix"),
    pytest.param(COMMUNE, "P. Thốt Nốt", "31212", id="abbreviated-prefix"),
    pytest.param(COMMUNE_BY_CODE, "31212", "31212", id="code"),
])
def test_commune_found_in_province(step: dict[str, Any], value: str, expected: str) -> None:
    assert run([step], value, row={"province_code": "92"}) == expected


@pytest.mark.usefixtures("communes")
@pytest.mark.parametrize(("step", "row", "key"), [
    pytest.param(COMMUNE, {"province_code": "01"}, "mapping.commune_2025_in_other_province",
                 id="other-province"),
    pytest.param(COMMUNE, {"province_code": "00"}, "mapping.commune_2025_in_other_province",
                 id="unknown-province"),
    pytest.param(COMMUNE, {}, "mapping.commune_2025_province_missing", id="no-province"),
    pytest.param(COMMUNE_BY_CODE, {"province_code": "01"}, "mapping.commune_2025_in_other_province",
                 id="code-in-other-province"),
])
def test_commune_rejected(step: dict[str, Any], row: dict[str, Any], key: str) -> None:
    value = "31212" if step is COMMUNE_BY_CODE else "Thốt Nốt"
    error = rejection([step], value, row=row)
    assert error.key == key
    assert error.params["codelist"] == "commune-2025@1"


@pytest.mark.usefixtures("communes")
def test_commune_other_province_named() -> None:
    error = rejection([COMMUNE], "Phường Long Xuyên", row={"province_code": "92"})
    assert error.key == "mapping.commune_2025_in_other_province"
    assert error.params["parent"] == "92"
    assert error.params["found"] == "30307 Phường Long Xuyên (91)"
    assert "30307 Phường Long Xuyên (91)" in translate(error.key, lang="en", **error.params)


@pytest.mark.usefixtures("communes")
def test_commune_in_several_provinces_listed() -> None:
    error = rejection([COMMUNE], "Tân Thành", row={"province_code": "01"})
    assert error.key == "mapping.commune_2025_in_other_province"
    assert error.params["found"].count("(") == 9


@pytest.mark.usefixtures("communes")
@pytest.mark.parametrize(("step", "value"), [
    pytest.param(COMMUNE, "Phường Xuân Khánh", id="name"),
    pytest.param(COMMUNE_BY_CODE, "99999", id="code"),
])
def test_commune_in_no_province_unknown(step: dict[str, Any], value: str) -> None:
    error = rejection([step], value, row={"province_code": "92"})
    assert error.key == "mapping.commune_2025_unknown_in"
    # The step leaves the column to the compiler, which has the field's header.
    assert error.params == {"value": value, "codelist": "commune-2025@1", "parent": "92",
                            "parent_name": "Thành phố Cần Thơ", "column": None}


@pytest.mark.usefixtures("communes")
def test_commune_name_without_province_ambiguous() -> None:
    error = rejection([{"code": {"list": "commune-2025"}}], "Tân Thành")
    assert error.key == "codelist.ambiguous"
    assert error.params["count"] == 9


def test_parent_field_on_flat_list_rejected_at_compile() -> None:
    error = configuration_error([{"code": {"list": "gender", "parent_field": "province_code"}}])
    assert error.key == "error.mapping_code_not_nested"


def test_code_step_reads_parent_field() -> None:
    chain = compile_steps([{"each": [COMMUNE]}])
    assert chain.reads == {"province_code"}


# -- names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "family", "middle", "given"), [
    pytest.param("Khai", None, None, "Khai", id="one-word"),
    pytest.param("Nguyễn Khai", "Nguyễn", None, "Khai", id="two-words"),
    pytest.param("Nguyễn Minh Khai", "Nguyễn", "Minh", "Khai", id="three-words"),
    pytest.param("Nguyễn Thị Minh Khai", "Nguyễn", "Thị Minh", "Khai", id="four-words"),
    pytest.param("Nguyễn Lê Thị Minh Khai", "Nguyễn", "Lê Thị Minh", "Khai", id="five-words"),
    pytest.param("  Nguyễn   Thị  Minh\u00a0Khai ", "Nguyễn", "Thị Minh", "Khai", id="extra-spaces"),
])
def test_split_name(value: str, family: str | None, middle: str | None, given: str) -> None:
    assert run([{"split_name": "family"}], value) == family
    assert run([{"split_name": "middle"}], value) == middle
    assert run([{"split_name": "given"}], value) == given


# -- flag ------------------------------------------------------------------------------------------

FEMALE_FLAG = {"flag": {"true": "female", "false": "male"}}


@pytest.mark.parametrize("mark", ["x", "X", "1", "c", "C", "v", "V", "có", "Có", "CÓ", "co",
                                  "✓", "✔", "☑", "√", "ü"])
def test_flag_mark_gives_true_value(mark: str) -> None:
    assert run([FEMALE_FLAG], mark) == "female"


def test_flag_empty_gives_false_value() -> None:
    assert run([FEMALE_FLAG], None) == "male"


@pytest.mark.parametrize("mark", ["0", " 0 ", "không", "Không", "KHONG", "k", "K"])
def test_flag_unmarked_word_gives_false_value(mark: str) -> None:
    assert run([FEMALE_FLAG], mark) == "male"


@pytest.mark.parametrize("mark", ["Nam", "n", "y", "xx", "-", "✗", "00", "ko"])
def test_flag_other_mark_rejected(mark: str) -> None:
    error = rejection([FEMALE_FLAG], mark)
    assert error.key == "mapping.flag_invalid"
    assert error.params["value"] == mark
    assert error.params["accepted"] == "x, X, 1, c, v, có, ✓, √"


NU_COLUMN_FLAG = {"flag": {"true": "female", "false": "male", "mark_words": ["Nữ"],
                           "other_words": ["Nam"]}}


@pytest.mark.parametrize("mark", ["Nữ", "nữ", "NỮ", "Nu\u031b\u0303", "nu", "x"],
                         ids=["nfc", "lower", "upper", "nfd", "no-marks", "x"])
def test_flag_column_word_is_mark(mark: str) -> None:
    assert run([NU_COLUMN_FLAG], mark) == "female"


def test_flag_column_word_empty_still_false() -> None:
    assert run([NU_COLUMN_FLAG], None) == "male"
    assert run([NU_COLUMN_FLAG], "0") == "male"


@pytest.mark.parametrize("mark", ["Nam", "NAM", "nam"])
def test_flag_other_word_rejected(mark: str) -> None:
    error = rejection([NU_COLUMN_FLAG], mark)
    assert error.key == "mapping.flag_other_word"
    assert error.params == {"value": mark, "marked": "Nữ"}
    message = translate(error.key, lang="vi", **error.params)
    assert f'"{mark}"' in message
    assert '"Nữ"' in message
    assert "để trống" in message


def test_flag_column_word_listed_as_accepted() -> None:
    error = rejection([NU_COLUMN_FLAG], "?")
    assert error.key == "mapping.flag_invalid"
    assert error.params["accepted"] == "x, X, 1, c, v, có, ✓, √, Nữ"


def test_flag_keys_as_yaml_reads_them() -> None:
    step = yaml.safe_load("{flag: {true: female, false: male}}")
    assert set(step["flag"]) == {True, False}
    assert run([step], "x") == "female"
    assert run([step], None) == "male"


def test_flag_with_boolean_values() -> None:
    chain = compile_steps([{"flag": {"true": True, "false": False}}])
    assert chain.kind == BOOLEAN
    assert chain("x") is True
    assert chain(None) is False


@pytest.mark.parametrize("argument", [
    pytest.param({"true": "female"}, id="no-false"),
    pytest.param({"true": "female", "false": False}, id="mixed-types"),
    pytest.param({"yes": "female", "no": "male"}, id="other-keys"),
])
def test_flag_invalid_configuration(argument: dict[str, Any]) -> None:
    assert configuration_error([{"flag": argument}]).key == "error.mapping_flag_invalid"


# -- regex -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("argument", "value", "expected"), [
    pytest.param({"pattern": r"(\d+)", "group": 1}, "HS-00123", "00123", id="group-1"),
    pytest.param({"pattern": r"HS-(?P<number>\d+)", "group": "number"}, "Mã HS-042 (cũ)", "042",
                 id="named-group"),
    pytest.param({"pattern": r"\d{4}-\d{4}"}, "Năm học 2024-2025", "2024-2025", id="whole-match"),
    pytest.param({"pattern": r"^(\w+)\s+(\w+)$", "group": 2}, "10A1 Sáng", "Sáng", id="second-group"),
    pytest.param({"pattern": r"(\d+)|(x)", "group": 1}, "x", None, id="group-not-taking-part"),
])
def test_regex_extracts(argument: dict[str, Any], value: str, expected: str | None) -> None:
    assert run([{"regex": argument}], value) == expected


def test_regex_no_match_rejected() -> None:
    error = rejection([{"regex": {"pattern": r"(\d+)", "group": 1}}], "không có số")
    assert error.key == "mapping.regex_no_match"
    assert error.params == {"value": "không có số", "pattern": r"(\d+)"}


@pytest.mark.parametrize(("argument", "key"), [
    pytest.param({"pattern": r"(\d+"}, "error.mapping_regex_invalid", id="unbalanced"),
    pytest.param({"pattern": r"*x"}, "error.mapping_regex_invalid", id="nothing-to-repeat"),
    pytest.param({"pattern": r"(\d+)", "group": 2}, "error.mapping_regex_group", id="group-too-high"),
    pytest.param({"pattern": r"(\d+)", "group": "number"}, "error.mapping_regex_group", id="no-named-group"),
])
def test_regex_invalid_at_compile(argument: dict[str, Any], key: str) -> None:
    error = configuration_error([{"regex": argument}])
    assert error.key == key
    assert error.params["pattern"] == argument["pattern"]


# -- pad_left and digits ---------------------------------------------------------------------------


@pytest.mark.parametrize(("argument", "value", "expected"), [
    pytest.param({"width": 12}, "12345678901", "012345678901", id="personal-id-lost-zero"),
    pytest.param({"width": 12, "char": "0"}, "012345678901", "012345678901", id="already-full"),
    pytest.param({"width": 12}, "1234567890123", "1234567890123", id="longer-unchanged"),
    pytest.param({"width": 5, "char": "*"}, "12", "***12", id="other-char"),
    pytest.param({"width": 4}, "A1", "00A1", id="not-digits-allowed"),
    pytest.param({"width": 12, "digits_only": True}, "79123456789", "079123456789", id="digits-only"),
    pytest.param({"width": 12, "max_missing": 2}, "1234567890", "001234567890", id="two-zeros-lost"),
])
def test_pad_left(argument: dict[str, Any], value: str, expected: str) -> None:
    assert run([{"pad_left": argument}], value) == expected


@pytest.mark.parametrize("value", ["12A45", "123 456", "١٢٣", "-123"])
def test_pad_left_digits_only_rejects(value: str) -> None:
    error = rejection([{"pad_left": {"width": 12, "digits_only": True}}], value)
    assert error.key == "mapping.pad_left_not_digits"
    assert error.params["value"] == value


def test_pad_left_too_short_rejected() -> None:
    error = rejection([{"pad_left": {"width": 12, "max_missing": 2}}], "361234567")
    assert error.key == "mapping.pad_left_too_short"
    assert (error.params["value"], error.params["length"], error.params["width"]) == ("361234567", 9, 12)


def test_pad_left_reject_longer() -> None:
    error = rejection([{"pad_left": {"width": 12, "reject_longer": True}}], "0012345678901")
    assert error.key == "mapping.pad_left_too_long"
    assert (error.params["value"], error.params["length"], error.params["width"]) == ("0012345678901", 13, 12)


def test_pad_left_reject_longer_keeps_width() -> None:
    assert run([{"pad_left": {"width": 12, "reject_longer": True}}], "12345678901") == "012345678901"


def test_pad_left_char_must_be_one_character() -> None:
    assert configuration_error([{"pad_left": {"width": 4, "char": "00"}}]).key == "error.mapping_pad_char"


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("0901 234 567", "0901234567", id="spaces"),
    pytest.param("0901.234.567", "0901234567", id="dots"),
    pytest.param("0901-234-567", "0901234567", id="dashes"),
    pytest.param("0901\u2013234\u00a0567", "0901234567", id="en-dash-and-no-break-space"),
    pytest.param("+84 901 234 567", "+84901234567", id="plus-kept"),
    pytest.param(" - ", None, id="nothing-left"),
])
def test_digits(value: str, expected: str | None) -> None:
    assert run(["digits"], value) == expected


# -- identifiers stay text -------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [
    pytest.param([], id="no-step"),
    pytest.param(["upper"], id="upper"),
    pytest.param(["lower"], id="lower"),
    pytest.param(["first"], id="first"),
    pytest.param(["digits"], id="digits"),
    pytest.param([{"pad_left": {"width": 5}}], id="pad-left-same-width"),
    pytest.param([{"pad_left": {"width": 3, "digits_only": True}}], id="pad-left-shorter-width"),
    pytest.param([{"regex": {"pattern": r"\d+"}}], id="regex"),
    pytest.param([{"split_name": "given"}], id="split-name"),
    pytest.param([{"each": ["upper"]}], id="each"),
    pytest.param([{"split": ","}, "first"], id="split-first"),
    pytest.param([{"excel_serial": {}}], id="excel-serial"),
])
def test_leading_zeros_survive(steps: list[Any]) -> None:
    result = run(steps, "00123")
    assert result == "00123"
    assert type(result) is str


# -- chains ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("steps", "kind"), [
    pytest.param([], TEXT, id="none"),
    pytest.param([{"split": ","}], ARRAY, id="split"),
    pytest.param([{"split": ","}, "first"], TEXT, id="split-first"),
    pytest.param([{"split": ","}, {"each": ["upper"]}], ARRAY, id="each-on-list"),
    pytest.param(["boolean"], BOOLEAN, id="boolean"),
    pytest.param([FEMALE_FLAG], TEXT, id="flag"),
])
def test_chain_kind(steps: list[Any], kind: str) -> None:
    assert compile_steps(steps).kind == kind


@pytest.mark.parametrize("steps", [
    pytest.param([{"split": ","}, date_step(DMY)], id="date-after-split"),
    pytest.param([{"split": ","}, "digits"], id="digits-after-split"),
    pytest.param(["boolean", {"regex": {"pattern": "x"}}], id="regex-after-boolean"),
])
def test_step_given_wrong_kind_rejected_at_compile(steps: list[Any]) -> None:
    error = configuration_error(steps)
    assert error.key == "error.mapping_step_input"


@pytest.mark.parametrize("step", ["titlecase", {"titlecase": {}}])
def test_unknown_step_rejected(step: Any) -> None:
    assert configuration_error([step]).key == "error.mapping_step_unknown"


def test_empty_value_skips_steps_until_flag() -> None:
    assert run(["upper", {"regex": {"pattern": "x"}}], None) is None
    assert run(["upper", FEMALE_FLAG, {"code": {"list": "gender"}}], None) == "male"


@pytest.mark.parametrize(("value", "expected"), [("TRUE", True), ("có", True), ("0", False)])
def test_boolean_words(value: str, expected: bool) -> None:
    assert run(["boolean"], value) is expected


# Identifiers that Excel or a data frame wrote as numbers ------------------------------------


@pytest.mark.parametrize("value", ["7.93197E+11", "6.2001E+09", "7,93197E+10", "1e+05", "2E+10"])
def test_identifier_in_scientific_notation_rejected(value: str) -> None:
    with pytest.raises(StepError) as caught:
        identifier_text(value)
    assert (caught.value.key, caught.value.params) == ("mapping.identifier_scientific", {"value": value})


@pytest.mark.parametrize(("value", "expected"), [
    ("1625191602.0", "1625191602"),
    ("94319851896,00", "94319851896"),
    ("0620010001", "0620010001"),
    ("10.0", "10.0"),  # a class, not a number written as a decimal
    ("10E1", "10E1"),  # a class: Excel always writes the sign of the exponent
    ("1625191602.5", "1625191602.5"),
    (None, None),
])
def test_identifier_text_kept_or_given_digits(value: str | None, expected: str | None) -> None:
    assert identifier_text(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("0620 010 001", "0620010001"),
    ("001 204 012 345", "001204012345"),
    ("0620\u00a0010\u00a0001", "0620010001"),  # no-break space
    ("0620\u202f010\u2007001", "0620010001"),  # narrow no-break and figure spaces
    ("0620\u3000010", "0620010"),  # ideographic space
    ("0620\t010\n001", "0620010001"),
    ("０６２０ ０１０ ００１", "0620010001"),  # full-width digits
    ("０６２００１", "062001"),
], ids=["spaces", "personal-number", "no-break", "narrow-and-figure", "ideographic",
        "tab-and-line-break", "full-width-grouped", "full-width"])
def test_identifier_digit_groups_joined(value: str, expected: str) -> None:
    assert identifier_text(value) == expected


@pytest.mark.parametrize("value", [
    "HS 001",  # letters: an id such as a OneRoster sourcedId stays as written
    "0620-010-001",  # a hyphen is kept: only spaces are removed
    "0620.010.001",
    "1A1 062001",
    "٠٦٢٠ ٠١٠",  # Arabic-Indic digits are not full-width digits
    "²³",  # superscripts pass str.isdigit() but are no digits of a code
])
def test_identifier_other_text_kept(value: str) -> None:
    assert identifier_text(value) == value


@pytest.mark.parametrize("value", ["2025-01-06", "2025-01-06T00:00:00", "2025-06-01 00:00",
                                   "01/06/2025", "6-Jan", "Jan-06", "6-Thg1", "06-Jan-25"])
def test_not_date_rejects_date_cell(value: str) -> None:
    error = rejection(["not_date"], value)
    assert (error.key, error.params["value"]) == ("mapping.value_is_date", value)


@pytest.mark.parametrize("value", ["6/1", "6A1", "12-A1", "2025-2026", "6-1", "10 Toán"])
def test_not_date_keeps_text(value: str) -> None:
    assert run(["not_date"], value) == value


@pytest.mark.parametrize("value", ["01", "1", " 08 "])
def test_code_number_rejected_as_number(value: str) -> None:
    error = rejection([{"code": {"list": "ethnic-group-1979"}}], value)

    assert error.key == "mapping.code_number_not_name"
    assert error.params["codelist"] == "ethnic-group-1979@1"
    message = translate(error.key, lang="vi", **error.params)
    assert f'"{value}"' in message


def test_code_word_list_number_is_unknown() -> None:
    error = rejection([{"code": {"list": "gender"}}], "1")

    assert error.key == "mapping.code_not_accepted_field"
    assert error.column_key == "mapping.code_not_accepted"


def test_short_list_message_lists_values() -> None:
    error = rejection([{"code": {"list": "gender"}}], "0")
    params = {**error.params, "column": "Giới tính"}

    vietnamese = translate(error.column_key or "", lang="vi", **params)
    english = translate(error.column_key or "", lang="en", **params)

    assert vietnamese == ('Giá trị "0" ở cột Giới tính không hợp lệ. Chỉ nhận: Nam, Nữ. '
                          "Hãy sửa giá trị trong tệp nguồn.")
    assert english == ('"0" in column Giới tính is not valid. Accepted values: Male, Female. '
                       "Fix the value in the source file.")
    assert error.params["codelist"] == "gender@1"


def test_short_list_by_code_lists_codes() -> None:
    error = rejection([{"code": {"list": "enrollment-role", "by": "code"}}], "pupil")

    message = translate(error.key, lang="en", field="role", **error.params)

    assert error.key == "mapping.code_not_accepted_field"
    assert f"Accepted values: {', '.join(get_codelist('enrollment-role').codes)}." in message


def test_long_list_keeps_list_message() -> None:
    error = rejection([{"code": {"list": "ethnic-group-1979"}}], "Người sao Hỏa")

    assert error.key == "mapping.code_unknown"
    assert error.column_key is None


def test_code_prefix_and_null_alias() -> None:
    assert run([{"code": {"list": "ethnic-group-gso"}}], "Dân tộc Kinh") == "01"
    assert run([{"code": {"list": "ethnic-group-gso"}}], "Người nước ngoài") is None


def test_date_month_first_value_named() -> None:
    error = rejection([{"date": {"formats": ["%d/%m/%Y"]}}], "12/25/2013")

    assert error.key == "mapping.date_month_first"
    assert error.params["reading"] == "2013-12-25"


def test_date_impossible_either_way_invalid() -> None:
    assert rejection([{"date": {"formats": ["%d/%m/%Y"]}}], "31/02/2013").key == "mapping.date_invalid"
