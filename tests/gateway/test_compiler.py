"""Compiled mappings: fields over several columns, fields that read other fields, and the checks
that reject a broken mapping before any row is read."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from gateway.errors import ConfigurationError, MappingError, Place
from gateway.i18n import translate
from gateway.mapping.compiler import CompiledMapping, MissingColumns, check_mapping, column_groups
from gateway.mapping.spec import MappingSpec, canonical_json, read_spec, shipped_mapping_files
from gateway.validation import get_registry

DATE_FORMATS = ["%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"]
FULL_NAME = [["Họ đệm", "Họ và tên đệm"], "Tên"]

# A student list as Vietnamese school products export it: the name in two columns, a "Nữ"
# column marked x, dates as text or as Excel serials, identifiers that lose their zeros.
VNEDU: dict[str, Any] = {
    "format": 1, "adapter": "vnedu", "entity": "student", "version": 1, "schema_version": 1,
    "stream": "students",
    "fields": {
        "local_id": {"column": ["Mã học sinh", "Mã HS"], "required": True},
        "personal_id": {"column": "Số định danh cá nhân",
                        "steps": ["digits", {"pad_left": {"width": 12, "digits_only": True}}]},
        "full_name": {"join_columns": FULL_NAME, "required": True},
        "family_name": {"join_columns": FULL_NAME, "steps": [{"split_name": "family"}]},
        "middle_name": {"join_columns": FULL_NAME, "steps": [{"split_name": "middle"}]},
        "given_name": {"column": "Tên", "required": True},
        "birth_date": {"column": ["Ngày sinh", "Sinh ngày"],
                       "steps": [{"excel_serial": {"system": "auto"}}, {"date": {"formats": DATE_FORMATS}}]},
        "gender": {"column": "Nữ", "steps": [{"flag": {"true": "female", "false": "male"}}]},
        "ethnicity_code": {"column": "Dân tộc", "steps": [{"code": {"list": "ethnic-group-1979"}}]},
        "phone": {"column": ["SĐT", "Điện thoại"], "steps": ["digits"]},
    },
}
HEADERS = ["STT", "Mã HS", "Họ đệm", "Tên", "Ngày sinh", "Nữ", "Dân tộc", "Số định danh cá nhân", "SĐT"]
ROW = ["1", "00123", "Nguyễn Thị Minh", "Khai", "14/04/2015", "x", "Kinh", "79123456789", "0901 234 567"]
PLACE = Place(file="hs.xlsx", sheet="10A1", row=7)


def compile_document(document: dict[str, Any], headers: list[str] = HEADERS,
                     properties: dict[str, str] | None = None) -> CompiledMapping:
    return CompiledMapping(MappingSpec(document=document, origin="test"), headers, properties)


def with_fields(**fields: Any) -> dict[str, Any]:
    document = copy.deepcopy(VNEDU)
    document["fields"].update(fields)
    return document


def map_row(cells: list[str], document: dict[str, Any] = VNEDU,
            properties: dict[str, str] | None = None) -> dict[str, Any]:
    return compile_document(document, properties=properties).map(cells, PLACE).record


def row_with(**cells: str) -> list[str]:
    row = list(ROW)
    for header, value in cells.items():
        row[HEADERS.index(header.replace("_", " "))] = value
    return row


def rejection(cells: list[str], document: dict[str, Any] = VNEDU) -> MappingError:
    with pytest.raises(MappingError) as caught:
        compile_document(document).map(cells, PLACE)
    return caught.value


def configuration_error(document: dict[str, Any], headers: list[str] = HEADERS) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        compile_document(document, headers)
    return caught.value


# -- a product export end to end -------------------------------------------------------------------


def test_export_row_maps_to_valid_student() -> None:
    record = map_row(ROW)
    assert record == {
        "local_id": "00123",
        "personal_id": "079123456789",
        "full_name": "Nguyễn Thị Minh Khai",
        "family_name": "Nguyễn",
        "middle_name": "Thị Minh",
        "given_name": "Khai",
        "birth_date": "2015-04-14",
        "gender": "female",
        "ethnicity_code": "01",
        "phone": "0901234567",
    }
    assert get_registry().validator("student", 1).problems(record) == []


@pytest.mark.parametrize(("date_system", "expected"), [("1900", "2020-01-01"), ("1904", "2024-01-02")])
def test_serial_birth_date_follows_workbook(date_system: str, expected: str) -> None:
    record = map_row(row_with(Ngày_sinh="43831"), properties={"date_system": date_system})
    assert record["birth_date"] == expected


@pytest.mark.parametrize(("cell", "expected"), [
    pytest.param("14.04.2015", "2015-04-14", id="dots"),
    pytest.param("2015-04-14 00:00:00", "2015-04-14", id="midnight-datetime"),
    pytest.param("42108", "2015-04-14", id="serial"),
])
def test_birth_date_spellings(cell: str, expected: str) -> None:
    assert map_row(row_with(Ngày_sinh=cell))["birth_date"] == expected


@pytest.mark.parametrize(("cell", "key"), [
    pytest.param("14/04/15", "mapping.date_two_digit_year", id="two-digit-year"),
    pytest.param("2015", "mapping.date_year_only", id="year-alone"),
    pytest.param("42108.5", "mapping.excel_serial_time", id="serial-with-time"),
])
def test_bad_birth_date_rejected_with_place(cell: str, key: str) -> None:
    error = rejection(row_with(Ngày_sinh=cell))
    assert error.key == key
    assert error.place == Place(file="hs.xlsx", sheet="10A1", row=7, column="Ngày sinh",
                                field="birth_date")


def test_unknown_code_rejected_with_field_named() -> None:
    error = rejection(row_with(Dân_tộc="Người sao Hỏa"))
    assert error.key == "mapping.code_unknown"
    assert error.place.field == "ethnicity_code"
    assert error.place.column == "Dân tộc"
    assert error.place.row == 7
    assert error.params == {"value": "Người sao Hỏa", "codelist": "ethnic-group-1979@1"}
    assert "Người sao Hỏa" in error.message("en")


# -- the "Nữ" column -------------------------------------------------------------------------------


@pytest.mark.parametrize(("mark", "gender"), [
    *[pytest.param(mark, "female", id=f"mark-{mark}") for mark in
      ["x", "X", "1", "c", "v", "có", "✓"]],
    pytest.param("", "male", id="empty"),
])
def test_nu_column_gives_gender(mark: str, gender: str) -> None:
    assert map_row(row_with(Nữ=mark))["gender"] == gender


@pytest.mark.parametrize("mark", ["Nam", "N", "?"])
def test_nu_column_other_mark_rejected(mark: str) -> None:
    error = rejection(row_with(Nữ=mark))
    assert error.key == "mapping.flag_invalid"
    assert (error.place.field, error.place.column) == ("gender", "Nữ")
    assert error.params["value"] == mark
    message = translate(error.key, lang="vi", **error.params)
    assert f"\"{mark}\"" in message
    assert "x, X, 1, c, v, có, ✓" in message


def test_missing_nu_column_leaves_gender_empty() -> None:
    headers = [h for h in HEADERS if h != "Nữ"]
    cells = [c for h, c in zip(HEADERS, ROW, strict=True) if h != "Nữ"]
    record = compile_document(VNEDU, headers).map(cells, PLACE).record
    assert "gender" not in record


def test_gender_column_through_code_list() -> None:
    document = with_fields(gender={"column": ["Giới tính", "Nữ"], "steps": [{"code": {"list": "gender"}}]})
    headers = [*HEADERS[:5], "Giới tính", *HEADERS[6:]]
    mapping = compile_document(document, headers)
    assert mapping.map(row_with(Nữ="Nữ"), PLACE).record["gender"] == "female"
    assert mapping.map(row_with(Nữ="Nam"), PLACE).record["gender"] == "male"


# -- a pair of tick columns -----------------------------------------------------------------------

TICKS = {"ticks": [{"value": "male", "column": ["Nam", "Nam (x)"], "words": ["Nam"]},
                   {"value": "female", "column": ["Nữ", "Nữ (x)"], "words": ["Nữ"]}]}
PAIR_HEADERS = ["Mã HS", "Họ đệm", "Tên", "Nam", "Nữ"]


def pair_mapping(headers: list[str] = PAIR_HEADERS) -> CompiledMapping:
    document = copy.deepcopy(VNEDU)
    document["fields"] = {"local_id": {"column": "Mã HS", "required": True},
                          "given_name": {"column": "Tên", "required": True},
                          "full_name": {"join_columns": ["Họ đệm", "Tên"], "required": True},
                          "gender": TICKS}
    return compile_document(document, headers)


@pytest.mark.parametrize(("nam", "nu", "gender"), [
    ("x", "", "male"), ("", "x", "female"), ("", "Nữ", "female"), ("Nam", "", "male"),
    ("NAM", "0", "male"), ("K", "✓", "female"),
], ids=["nam-x", "nu-x", "nu-word", "nam-word", "nam-upper-nu-zero", "k-check"])
def test_tick_pair_one_ticked(nam: str, nu: str, gender: str) -> None:
    record = pair_mapping().map(["01", "Lê Thị", "Na", nam, nu], PLACE).record
    assert record["gender"] == gender


@pytest.mark.parametrize(("nam", "nu", "key"), [
    ("", "", "mapping.ticks_none"), ("0", "K", "mapping.ticks_none"),
    ("x", "x", "mapping.ticks_several"), ("Nam", "Nữ", "mapping.ticks_several"),
], ids=["empty", "unmarked-words", "both-x", "both-words"])
def test_tick_pair_none_or_both_rejected(nam: str, nu: str, key: str) -> None:
    error = rejection_of(pair_mapping(), ["01", "Lê Thị", "Na", nam, nu])
    assert error.key == key
    assert (error.place.sheet, error.place.row) == ("10A1", 7)
    assert (error.place.field, error.place.column) == ("gender", "Nam + Nữ")
    assert error.params == {"columns": "Nam, Nữ"}
    message = translate(error.key, lang="vi", **error.params)
    assert "Nam, Nữ" in message
    assert "đúng một cột" in message


def test_tick_pair_other_word_rejected() -> None:
    error = rejection_of(pair_mapping(), ["01", "Lê Thị", "Na", "", "Nam"])
    assert error.key == "mapping.flag_other_word"
    assert error.params == {"value": "Nam", "marked": "Nữ"}


def test_tick_pair_bad_mark_names_its_column() -> None:
    error = rejection_of(pair_mapping(), ["01", "Lê Thị", "Na", "?", ""])
    assert error.key == "mapping.flag_invalid"
    assert error.place.column == "Nam"


def pair_and_flag_mapping() -> CompiledMapping:
    """Compile gender as the shipped student mappings read it: a lone "Nữ" field reads the pair too."""
    flag = {"flag": {"true": "female", "false": "male", "mark_words": ["Nữ"], "other_words": ["Nam"]}}
    document = copy.deepcopy(VNEDU)
    document["fields"] = {"local_id": {"column": "Mã HS", "required": True},
                          "given_name": {"column": "Tên", "required": True},
                          "full_name": {"join_columns": ["Họ đệm", "Tên"], "required": True},
                          "_gender_from_ticks": TICKS,
                          "_gender_from_flag": {"column": "Nữ", "steps": [flag]},
                          "gender": {"first_of": ["_gender_from_ticks", "_gender_from_flag"]}}
    return compile_document(document, PAIR_HEADERS)


@pytest.mark.parametrize("nu", ["Nam", "?"], ids=["other-word", "invalid-mark"])
def test_tick_pair_beside_flag_reported_once(nu: str) -> None:
    error = rejection_of(pair_and_flag_mapping(), ["01", "Lê Thị", "Na", "", nu])
    assert error.place.column == "Nữ"
    assert error.others == ()


def test_tick_pair_two_bad_cells_both_reported() -> None:
    error = rejection_of(pair_and_flag_mapping(), ["01", "Lê Thị", "Na", "?", "?"])
    assert error.place.column == "Nam"
    assert [other.place.column for other in error.others] == ["Nữ"]


def test_tick_pair_needs_both_columns() -> None:
    mapping = pair_mapping(["Mã HS", "Họ đệm", "Tên", "Nữ"])
    assert "gender" not in mapping.map(["01", "Lê Thị", "Na", ""], PLACE).record


def test_tick_pair_year_column_not_nam() -> None:
    # "Năm" is the year of a birth date split into three columns: match_key reads it as "nam".
    mapping = pair_mapping(["Mã HS", "Họ đệm", "Tên", "Năm", "Nữ"])
    assert "gender" not in mapping.map(["01", "Lê Thị", "Na", "2013", "x"], PLACE).record


def test_short_list_rejection_names_column() -> None:
    document = with_fields(gender={"column": ["Giới tính", "Nữ"], "steps": [{"code": {"list": "gender"}}]})
    headers = [*HEADERS[:5], "Giới tính", *HEADERS[6:]]

    error = rejection_of(compile_document(document, headers), row_with(Nữ="0"))

    assert error.key == "mapping.code_not_accepted"
    assert error.params["column"] == "Giới tính"
    assert error.place.column == "Giới tính"
    assert "Chỉ nhận: Nam, Nữ" in error.message("vi")


def test_short_list_rejection_without_column_names_field() -> None:
    # Built from another field, so the field reads no column of its own.
    document = with_fields(gender={"first_of": ["given_name", "phone"],
                                   "steps": [{"code": {"list": "gender"}}]})

    error = rejection(row_with(Tên="Khai"), document)

    assert error.key == "mapping.code_not_accepted_field"
    assert error.params["field"] == "gender"
    assert "Accepted values: Male, Female" in error.message("en")


# -- several columns -------------------------------------------------------------------------------


def test_join_columns_accepts_synonyms() -> None:
    headers = ["Mã HS", "Họ và tên đệm", "Tên"]
    mapping = compile_document(VNEDU, headers)
    assert mapping.map(["1", "Trần Văn", "An"], PLACE).record["full_name"] == "Trần Văn An"
    assert mapping.map(["1", "Trần Văn", "An"], PLACE).record["middle_name"] == "Văn"


def test_join_columns_skips_empty_cells() -> None:
    record = map_row(row_with(Họ_đệm=""))
    assert record["full_name"] == "Khai"
    assert record["given_name"] == "Khai"
    assert "family_name" not in record


def test_join_columns_field_named_in_place() -> None:
    three_words = {"regex": {"pattern": "^\\S+ \\S+ \\S+$"}}
    document = with_fields(full_name={"join_columns": FULL_NAME, "steps": [three_words]})
    error = rejection(row_with(Họ_đệm="Lê"), document)
    assert error.key == "mapping.regex_no_match"
    assert (error.place.field, error.place.column) == ("full_name", "Họ đệm + Tên")


def test_required_join_columns_missing_column() -> None:
    with pytest.raises(MissingColumns) as caught:
        compile_document(VNEDU, ["Mã HS", "Tên"])
    assert caught.value.names == ["Họ đệm", "Họ và tên đệm"]


def test_optional_join_columns_missing_column_gives_no_part() -> None:
    document = with_fields(full_name={"join_columns": [*FULL_NAME, "Tên gọi khác"]})
    assert "full_name" not in map_row(ROW, document)


# -- the first of several fields ------------------------------------------------------------------

PHONE_FIRST = {
    "_phone_own": {"column": "SĐT", "steps": [{"regex": {"pattern": "^(?:(?P<n>0\\d{9}))?", "group": "n"}}]},
    "_phone_home": {"column": "Điện thoại nhà"},
    "phone": {"first_of": ["_phone_own", "_phone_home"], "required": True},
}
PHONE_HEADERS = ["Mã HS", "Họ đệm", "Tên", "SĐT", "Điện thoại nhà"]


def test_first_of_takes_first_value() -> None:
    mapping = compile_document(with_fields(**PHONE_FIRST), PHONE_HEADERS)

    own = mapping.map(["1", "Lê", "An", "0901234567", "0292123456"], PLACE).record
    home = mapping.map(["1", "Lê", "An", "không có", "0292123456"], PLACE).record

    assert own["phone"] == "0901234567"
    assert home["phone"] == "0292123456"


def test_first_of_missing_names_columns() -> None:
    mapping = compile_document(with_fields(**PHONE_FIRST), PHONE_HEADERS)

    with pytest.raises(MappingError) as caught:
        mapping.map(["1", "Lê", "An", "không có", ""], PLACE)

    assert caught.value.key == "mapping.required_missing_first"
    assert caught.value.params["columns"] == "SĐT, Điện thoại nhà"
    assert caught.value.place.field == "phone"


def test_first_of_first_fields_rejected(tmp_path: Any) -> None:
    document = with_fields(**PHONE_FIRST, _contact={"first_of": ["phone", "_phone_home"]})
    path = tmp_path / "vnedu" / "student" / "v1.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")

    with pytest.raises(ConfigurationError) as caught:
        read_spec(path)

    assert "fields/_contact/first_of: 'phone' must be a field that is not a first_of field" in "\n".join(
        caught.value.problems)


def test_column_groups() -> None:
    assert column_groups(VNEDU["fields"]["full_name"]) == [["Họ đệm", "Họ và tên đệm"], ["Tên"]]
    assert column_groups(VNEDU["fields"]["local_id"]) == [["Mã học sinh", "Mã HS"]]
    assert column_groups({"const": "x"}) == []


# -- identifiers stay text -------------------------------------------------------------------------


@pytest.mark.parametrize(("cell", "expected"), [
    pytest.param("79123456789", "079123456789", id="lost-leading-zero"),
    pytest.param("079123456789", "079123456789", id="complete"),
    pytest.param("079 123 456 789", "079123456789", id="spaced"),
])
def test_personal_id_padded_only_where_asked(cell: str, expected: str) -> None:
    record = map_row(row_with(Số_định_danh_cá_nhân=cell, Mã_HS="0042"))
    assert record["personal_id"] == expected
    assert record["local_id"] == "0042"


@pytest.mark.parametrize("cell", ["0042", "00 42", "0\u00a0042", "００４２"],
                         ids=["plain", "space", "no-break", "full-width"])
def test_local_id_digit_groups_joined(cell: str) -> None:
    assert map_row(row_with(Mã_HS=cell))["local_id"] == "0042"


def test_only_identifier_fields_joined() -> None:
    # The phone is no identifier of the entity: its mapping removes the spaces with a step.
    document = with_fields(phone={"column": ["SĐT", "Điện thoại"]})
    assert map_row(row_with(SĐT="0901 234 567"), document)["phone"] == "0901 234 567"


def test_rejected_row_local_id_joined() -> None:
    cells = row_with(Mã_HS="0620 010 001", Ngày_sinh="31/02/2015")
    mapping = compile_document(VNEDU)
    with pytest.raises(MappingError):
        mapping.map(cells, PLACE)
    assert mapping.local_id(cells) == "0620010001"
    assert mapping.local_id(row_with(Mã_HS="6.2001E+09")) == "6.2001E+09"


def test_personal_id_with_letters_rejected() -> None:
    error = rejection(row_with(Số_định_danh_cá_nhân="79A23456789"))
    assert error.key == "mapping.pad_left_not_digits"
    assert error.place.field == "personal_id"


# -- fields that read other fields -----------------------------------------------------------------

ADDRESS: dict[str, Any] = {
    "format": 1, "adapter": "vnedu", "entity": "school_address", "version": 1, "schema_version": 1,
    "stream": "students",
    "fields": {
        # Sorted keys, as the registry stores them: the commune comes before its province.
        "commune_code": {"column": "Xã", "steps": [{"code": {"list": "commune-2025",
                                                             "parent_field": "province_code"}}]},
        "label": {"join": ["commune_code", "province_code"]},
        "local_id": {"column": "Mã", "required": True},
        "province_code": {"column": "Tỉnh", "steps": [{"code": {"list": "province-2025"}}]},
    },
}


def test_fields_ordered_by_what_they_read() -> None:
    mapping = compile_document(ADDRESS, ["Mã", "Xã", "Tỉnh"])
    order = [plan.name for plan in mapping.fields]
    assert order == ["local_id", "province_code", "commune_code", "label"]


def test_commune_looked_up_in_province_of_row() -> None:
    pytest.importorskip("vietnam_provinces", reason="the commune list is built from vietnam-provinces")
    mapping = compile_document(ADDRESS, ["Mã", "Xã", "Tỉnh"])
    record = mapping.map(["1", "Phường Thốt Nốt", "TP Cần Thơ"], PLACE).record
    assert record == {"local_id": "1", "province_code": "92", "commune_code": "31212",
                      "label": "31212 92"}
    error = rejection_of(mapping, ["1", "Phường Thốt Nốt", "Hà Nội"])
    assert error.key == "mapping.commune_2025_in_other_province"
    assert (error.place.field, error.place.column) == ("commune_code", "Xã")


def rejection_of(mapping: CompiledMapping, cells: list[str]) -> MappingError:
    with pytest.raises(MappingError) as caught:
        mapping.map(cells, PLACE)
    return caught.value


@pytest.mark.parametrize("fields", [
    pytest.param({"a": {"column": "A", "steps": [{"code": {"list": "commune-2025", "parent_field": "b"}}]},
                  "b": {"column": "B", "steps": [{"code": {"list": "commune-2025", "parent_field": "a"}}]}},
                 id="two-parents"),
    pytest.param({"a": {"column": "A", "steps": [{"code": {"list": "commune-2025", "parent_field": "a"}}]}},
                 id="own-parent"),
    pytest.param({"a": {"join": ["b"]},
                  "b": {"column": "B", "steps": [{"each": [{"code": {"list": "commune-2025",
                                                                     "parent_field": "a"}}]}]}},
                 id="join-and-parent"),
])
def test_cycle_rejected_at_load(fields: dict[str, Any]) -> None:
    document = {**ADDRESS, "fields": {"local_id": {"column": "Mã"}, **fields}}
    error = configuration_error(document)
    assert error.key == "error.mapping_field_cycle"
    assert error.params["fields"].startswith("a -> ")
    assert error.params["fields"].endswith(" -> a")


def test_unknown_parent_field_rejected_at_load() -> None:
    document = {**ADDRESS, "fields": {**ADDRESS["fields"], "commune_code": {
        "column": "Xã", "steps": [{"code": {"list": "commune-2025", "parent_field": "province"}}]}}}
    error = configuration_error(document, ["Mã", "Xã", "Tỉnh"])
    assert error.key == "error.mapping_field_unknown"
    assert (error.params["field"], error.params["name"]) == ("commune_code", "province")


# -- checks at load --------------------------------------------------------------------------------


def test_invalid_regex_rejected_at_load() -> None:
    document = with_fields(local_id={"column": "Mã HS", "steps": [{"regex": {"pattern": "HS-(\\d+"}}]})
    error = configuration_error(document)
    assert error.key == "error.mapping_regex_invalid"
    assert error.params["field"] == "local_id"
    assert error.params["mapping"] == "vnedu/student/v1"
    assert "HS-(\\d+" in error.message("en")


def test_check_mapping_lists_every_problem() -> None:
    document = with_fields(
        local_id={"column": "Mã HS", "steps": [{"regex": {"pattern": "("}}]},
        phone={"column": "SĐT", "steps": [{"regex": {"pattern": "[0-9"}}]},
        local_code={"const": 12},
    )
    problems = check_mapping(MappingSpec(document=document, origin="test"))
    assert sorted((p.key, p.params["field"]) for p in problems) == [
        ("error.mapping_regex_invalid", "local_id"),
        ("error.mapping_regex_invalid", "phone"),
        ("error.mapping_value_type", "local_code"),
    ]


def test_check_mapping_binds_every_column() -> None:
    assert check_mapping(MappingSpec(document=VNEDU, origin="test")) == []


@pytest.mark.parametrize("path", shipped_mapping_files(),
                         ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}")
def test_shipped_mappings_compile(path: Any) -> None:
    assert check_mapping(read_spec(path)) == []


@pytest.mark.parametrize(("field", "spec", "key"), [
    pytest.param("local_code", {"column": "X", "steps": ["boolean"]}, "error.mapping_field_type",
                 id="boolean-into-text"),
    pytest.param("local_code", {"column": "X", "steps": [{"split": ","}]}, "error.mapping_field_type",
                 id="list-into-text"),
    pytest.param("gender", {"column": "X", "steps": ["boolean"]}, "error.mapping_field_type",
                 id="boolean-into-enum"),
    pytest.param("enabled", {"column": "X"}, "error.mapping_field_type", id="text-into-boolean"),
    pytest.param("school_refs", {"column": "X"}, "error.mapping_field_type", id="text-into-list"),
    pytest.param("local_code", {"const": 123}, "error.mapping_value_type", id="number-const"),
    pytest.param("local_code", {"column": "X", "default": 12.5}, "error.mapping_value_type",
                 id="float-default"),
    pytest.param("local_code", yaml.safe_load("{column: X, default: 012}"), "error.mapping_value_type",
                 id="yaml-unquoted-zero"),
    pytest.param("full_name", {"const": ["a"]}, "error.mapping_value_type", id="list-const"),
])
def test_field_type_against_schema(field: str, spec: dict[str, Any], key: str) -> None:
    error = configuration_error(with_fields(**{field: spec}))
    assert error.key == key
    assert error.params["field"] == field


@pytest.mark.parametrize(("field", "spec"), [
    pytest.param("local_code", {"const": "012"}, id="quoted-const"),
    pytest.param("enabled", {"column": "X", "steps": ["boolean"]}, id="boolean"),
    pytest.param("enabled", {"column": "X", "steps": [{"flag": {"true": True, "false": False}}]},
                 id="boolean-flag"),
    pytest.param("school_refs", {"column": "X", "steps": [{"split": ","}]}, id="list"),
    pytest.param("_checked", {"column": "X", "steps": ["boolean"]}, id="not-stored"),
    pytest.param("not_in_schema", {"const": 5}, id="unknown-to-schema"),
])
def test_field_type_allowed(field: str, spec: dict[str, Any]) -> None:
    compile_document(with_fields(**{field: spec}))


def test_value_type_message_says_quote() -> None:
    error = configuration_error(with_fields(local_code=yaml.safe_load("{column: X, default: 012}")))
    assert error.params["value"] == 10
    assert '"012"' in error.message("en")


# -- mapping files as YAML and as stored -----------------------------------------------------------


def test_yaml_and_stored_document_map_alike() -> None:
    text = yaml.safe_dump(VNEDU, allow_unicode=True).replace("'true': female", "true: female") \
        .replace("'false': male", "false: male")
    from_yaml = yaml.safe_load(text)
    assert True in from_yaml["fields"]["gender"]["steps"][0]["flag"]
    stored = json.loads(canonical_json(from_yaml))
    for document in (from_yaml, stored):
        for mark, gender in (("x", "female"), ("", "male")):
            assert map_row(row_with(Nữ=mark), document)["gender"] == gender
    assert MappingSpec(from_yaml, "a").version_id == MappingSpec(stored, "b").version_id


# Names on one line ----------------------------------------------------------------------------


def test_name_white_space_made_single() -> None:
    row = list(ROW)
    row[2] = "Nguyễn\u00a0Thị\n Minh"  # a no-break space, and a line break typed in the cell
    row[3] = "Khai\t"
    record = map_row(row)
    assert record["full_name"] == "Nguyễn Thị Minh Khai"
    assert record["middle_name"] == "Thị Minh"
    assert record["given_name"] == "Khai"


def test_free_text_keeps_its_lines() -> None:
    document = with_fields(**{"address.detail": {"column": "Địa chỉ"}})
    document["schema_version"] = 2
    mapping = compile_document(document, headers=[*HEADERS, "Địa chỉ"])
    record = mapping.map([*ROW, "Số 1\nẤp 4"], PLACE).record
    assert record["address"]["detail"] == "Số 1\nẤp 4"
    assert record["full_name"] == "Nguyễn Thị Minh Khai"


def test_required_built_field_without_columns_raises() -> None:
    headers = [h for h in HEADERS if h not in ("Họ đệm", "Tên")]
    document = with_fields(
        _parts={"join_columns": FULL_NAME}, _whole={"column": "Họ và tên"},
        full_name={"join": ["_parts", "_whole"], "required": True},
        given_name={"column": "Tên"},
    )

    with pytest.raises(MissingColumns) as raised:
        compile_document(document, headers=headers)

    assert raised.value.names == ["Họ đệm + Tên", "Họ và tên"]


def test_rejection_lists_every_bad_field() -> None:
    error = rejection(row_with(Ngày_sinh="31/02/2015", Nữ="?", Dân_tộc="Kinh Việt"))
    found = [(error.key, error.place.column), *((p.key, p.place.column) for p in error.others)]
    assert found == [("mapping.date_invalid", "Ngày sinh"), ("mapping.flag_invalid", "Nữ"),
                     ("mapping.code_unknown", "Dân tộc")]
    assert all(p.place.row == PLACE.row for p in error.others)


def test_rejection_skips_fields_reading_bad_field() -> None:
    document = with_fields(_family={"join_columns": FULL_NAME, "steps": [{"regex": {
        "pattern": "^X"}}]}, family_name={"first_of": ["_family"], "required": True})
    error = rejection(row_with(Ngày_sinh="31/02/2015"), document)
    fields = {error.place.field, *(p.place.field for p in error.others)}
    # family_name reads _family, so its "missing" would only repeat the regex problem.
    assert fields == {"_family", "birth_date"}


def test_rejection_with_one_problem_has_no_others() -> None:
    error = rejection(row_with(Dân_tộc="Kinh Việt"))
    assert error.others == ()


# -- fields that only uncalculated formula cells give -----------------------------------------------


def test_uncalculated_optional_field_listed() -> None:
    mapping = compile_document(VNEDU)

    fields = mapping.uncalculated_fields(row_with(Ngày_sinh="", SĐT=""), {"Ngày sinh": "E2", "SĐT": "I2"})

    assert fields == ["birth_date", "phone"]


def test_uncalculated_flag_field_listed() -> None:
    """A flag reads an empty cell as "not marked", which an uncalculated cell is not."""
    mapping = compile_document(VNEDU)
    cells = row_with(Nữ="")

    assert mapping.map(cells, PLACE).record["gender"] == "male"
    assert mapping.uncalculated_fields(cells, {"Nữ": "F2"}) == ["gender"]


def test_uncalculated_identifier_not_listed() -> None:
    mapping = compile_document(VNEDU)

    cells = row_with(Số_định_danh_cá_nhân="")

    assert mapping.uncalculated_fields(cells, {"Số định danh cá nhân": "H2"}) == []


def test_uncalculated_part_of_joined_field() -> None:
    """A field built from another cell that has a value is read from the row, not kept."""
    mapping = compile_document(VNEDU)

    cells = row_with(Họ_đệm="")

    assert mapping.uncalculated_fields(cells, {"Họ đệm": "C2"}) == []


def test_uncalculated_field_through_first_of() -> None:
    optional = {**PHONE_FIRST, "phone": {"first_of": ["_phone_own", "_phone_home"]}}
    mapping = compile_document(with_fields(**optional), PHONE_HEADERS)

    both_empty = mapping.uncalculated_fields(["1", "Lê", "An", "", ""], {"SĐT": "D2"})
    home_given = mapping.uncalculated_fields(["1", "Lê", "An", "", "0292123456"], {"SĐT": "D2"})

    assert both_empty == ["phone"]
    assert home_given == []


def test_no_uncalculated_cells() -> None:
    mapping = compile_document(VNEDU)

    assert mapping.uncalculated_fields(ROW, None) == []
    assert mapping.uncalculated_fields(ROW, {"Không có": "Z2"}) == []
