"""Mapping fields named by a dotted path, which write into a nested object of the record."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway.errors import ConfigurationError, MappingError, Place, Problems
from gateway.i18n import translate
from gateway.mapping.compiler import CompiledMapping, check_mapping, is_stored
from gateway.mapping.spec import MappingSpec, check_document
from gateway.validation import get_registry

pytest.importorskip("vietnam_provinces", reason="the commune list is built from vietnam-provinces")

PROVINCE = {"column": ["Tỉnh/Thành phố", "Tỉnh/TP"], "steps": [{"code": {"list": "province-2025"}}]}
COMMUNE = {"column": ["Phường/Xã", "Xã/Phường"],
           "steps": [{"code": {"list": "commune-2025", "parent_field": "address.province_code"}}]}

# Keys sorted as the registry stores them, so the commune comes before the province it reads.
STUDENT: dict[str, Any] = {
    "format": 1, "adapter": "vnedu", "entity": "student", "version": 1, "schema_version": 2,
    "stream": "students",
    "fields": {
        "address.commune_code": COMMUNE,
        "address.detail": {"column": ["Số nhà, đường", "Địa chỉ"]},
        "address.province_code": PROVINCE,
        "full_name": {"column": "Họ và tên", "required": True},
        "given_name": {"column": "Họ và tên", "steps": [{"split_name": "given"}], "required": True},
        "local_id": {"column": "Mã HS", "required": True},
    },
}
HEADERS = ["Mã HS", "Họ và tên", "Số nhà, đường", "Phường/Xã", "Tỉnh/Thành phố"]
ROW = ["HS01", "Nguyễn Văn An", "12 Trần Phú", "P. Ninh Kiều", "TP Cần Thơ"]
PLACE = Place(file="hs.xlsx", sheet="Danh sách", row=9)


def compile_document(document: dict[str, Any], headers: list[str] = HEADERS) -> CompiledMapping:
    return CompiledMapping(MappingSpec(document=document, origin="test"), headers)


def with_fields(**fields: Any) -> dict[str, Any]:
    """Return the student mapping with ``fields`` added or replaced; ``__`` in a name is a dot."""
    document = copy.deepcopy(STUDENT)
    for name, spec in fields.items():
        dotted = name.replace("__", ".")
        if spec is None:
            del document["fields"][dotted]
        else:
            document["fields"][dotted] = spec
    return document


def map_row(cells: list[str], document: dict[str, Any] = STUDENT) -> dict[str, Any]:
    return compile_document(document).map(cells, PLACE).record


def row_with(**cells: str) -> list[str]:
    row = list(ROW)
    for header, value in cells.items():
        row[HEADERS.index(header)] = value
    return row


def rejection(cells: list[str], document: dict[str, Any] = STUDENT) -> MappingError:
    with pytest.raises(MappingError) as caught:
        compile_document(document).map(cells, PLACE)
    return caught.value


def configuration_error(document: dict[str, Any]) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        compile_document(document)
    return caught.value


# -- records -------------------------------------------------------------------------------------


def test_dotted_fields_build_nested_object() -> None:
    record = map_row(ROW)

    assert record == {
        "local_id": "HS01",
        "full_name": "Nguyễn Văn An",
        "given_name": "An",
        "address": {"province_code": "92", "commune_code": "31135", "detail": "12 Trần Phú"},
    }
    assert get_registry().validator("student", 2).problems(record) == []


def test_empty_object_left_out() -> None:
    record = map_row(row_with(**{"Số nhà, đường": "", "Phường/Xã": "", "Tỉnh/Thành phố": ""}))

    assert "address" not in record
    assert get_registry().validator("student", 2).problems(record) == []


def test_object_keeps_only_parts_with_values() -> None:
    record = map_row(row_with(**{"Phường/Xã": "", "Tỉnh/Thành phố": ""}))

    assert record["address"] == {"detail": "12 Trần Phú"}


def test_missing_columns_leave_object_out() -> None:
    headers = ["Mã HS", "Họ và tên"]
    record = compile_document(STUDENT, headers).map(["HS01", "Nguyễn Văn An"], PLACE).record

    assert "address" not in record


def test_deeper_paths_nest_further() -> None:
    document = {**STUDENT, "entity": "no_schema", "fields": {
        "local_id": {"column": "Mã HS", "required": True},
        "a.b.c": {"column": "Họ và tên"},
        "a.b.d": {"const": "x"},
        "a.e": {"column": "Số nhà, đường"},
    }}

    record = map_row(ROW, document)

    assert record == {"local_id": "HS01",
                      "a": {"b": {"c": "Nguyễn Văn An", "d": "x"}, "e": "12 Trần Phú"}}


# -- required, steps, joins, private fields and order --------------------------------------------


def test_required_joined_field_names_no_column() -> None:
    document = with_fields(_family={"column": "Họ và tên", "steps": [{"split_name": "family"}]},
                           _given={"column": "Họ và tên", "steps": [{"split_name": "given"}]},
                           full_name={"join": ["_family", "_given"], "required": True},
                           given_name={"column": "Họ và tên", "steps": [{"split_name": "given"}]})

    error = rejection(row_with(**{"Họ và tên": ""}), document)

    assert error.key == "mapping.required_missing_joined"
    assert error.params["field"] == "full_name"
    assert error.params["columns"] == "Họ và tên"
    assert "(column" not in translate(error.key, "en", **error.params)


def test_empty_id_says_use_temporary_code() -> None:
    error = rejection(row_with(**{"Mã HS": ""}))

    assert error.key == "mapping.local_id_missing"
    assert error.place.column == "Mã HS"
    assert "temporary id" in translate(error.key, "en", **error.params)
    assert "mã tạm" in translate(error.key, "vi", **error.params)


def test_required_dotted_field_rejected() -> None:
    document = with_fields(address__province_code={**PROVINCE, "required": True})

    error = rejection(row_with(**{"Tỉnh/Thành phố": ""}), document)

    assert error.key == "mapping.required_missing"
    assert error.params["field"] == "address.province_code"
    assert error.place.field == "address.province_code"
    assert error.place.column == "Tỉnh/Thành phố"


def test_commune_after_its_province() -> None:
    order = [plan.name for plan in compile_document(STUDENT).fields]

    assert order.index("address.province_code") < order.index("address.commune_code")


def test_unknown_commune_rejected_at_nested_field() -> None:
    error = rejection(row_with(**{"Phường/Xã": "Phường Xuân Khánh"}))

    assert error.key == "mapping.commune_2025_unknown_in"
    assert error.place == PLACE.with_(column="Phường/Xã", field="address.commune_code")
    assert error.params == {"value": "Phường Xuân Khánh", "codelist": "commune-2025@1",
                            "parent": "92", "parent_name": "Thành phố Cần Thơ",
                            "column": "Phường/Xã"}


def test_commune_of_other_province_rejected() -> None:
    error = rejection(row_with(**{"Phường/Xã": "Phường Long Xuyên"}))

    assert error.key == "mapping.commune_2025_in_other_province"
    assert error.place == PLACE.with_(column="Phường/Xã", field="address.commune_code")
    assert error.params["found"] == "30307 Phường Long Xuyên (91)"
    assert "Phường Long Xuyên" in translate(error.key, lang="vi", **error.params)


def test_commune_name_found_within_its_province() -> None:
    # "Tân An" is a unit of ten provinces; the row's province decides which one.
    record = map_row(row_with(**{"Phường/Xã": "Tân An"}))

    assert record["address"]["commune_code"] == "31147"


def test_commune_without_province_rejected() -> None:
    error = rejection(row_with(**{"Tỉnh/Thành phố": ""}))

    assert error.key == "mapping.commune_2025_province_missing"
    assert error.params["parent_field"] == "address.province_code"
    assert error.place.field == "address.commune_code"


def test_join_reads_and_fills_dotted_fields() -> None:
    document = with_fields(
        address__detail={"join": ["address._house", "address._street"]},
        address___house={"column": "Số nhà"},
        address___street={"column": "Đường"},
        label={"join": ["address.commune_code", "address.province_code"]},
    )
    headers = [*HEADERS[:2], "Số nhà", "Đường", *HEADERS[3:]]
    cells = [*ROW[:2], "12", "Trần Phú", *ROW[3:]]

    record = compile_document(document, headers).map(cells, PLACE).record

    assert record["address"] == {"province_code": "92", "commune_code": "31135",
                                 "detail": "12 Trần Phú"}
    assert record["label"] == "31135 92"


@pytest.mark.parametrize("name", ["_address.province_code", "address._province_code"])
def test_private_dotted_field_not_stored(name: str) -> None:
    commune = copy.deepcopy(COMMUNE)
    commune["steps"][0]["code"]["parent_field"] = name
    document = with_fields(address__province_code=None, address__commune_code=commune,
                           **{name.replace(".", "__"): PROVINCE})

    record = map_row(ROW, document)

    assert record["address"] == {"commune_code": "31135", "detail": "12 Trần Phú"}
    assert "_address" not in record


@pytest.mark.parametrize(("name", "stored"), [
    ("address", True), ("address.detail", True), ("_address", False),
    ("_address.detail", False), ("address._detail", False), ("a.b._c", False),
])
def test_is_stored(name: str, stored: bool) -> None:
    assert is_stored(name) is stored


# -- checks when the mapping is compiled ---------------------------------------------------------


@pytest.mark.parametrize(("field", "spec", "key"), [
    pytest.param("address.province_code", {"column": "X", "steps": ["boolean"]},
                 "error.mapping_field_type", id="boolean-into-nested-code"),
    pytest.param("address.detail", {"column": "X", "steps": [{"split": ","}]},
                 "error.mapping_field_type", id="list-into-nested-text"),
    pytest.param("address.commune_code", {"const": 31135}, "error.mapping_value_type",
                 id="number-const-into-nested-code"),
])
def test_nested_type_checked_against_schema(field: str, spec: dict[str, Any], key: str) -> None:
    error = configuration_error(with_fields(**{field.replace(".", "__"): spec}))

    assert error.key == key
    assert error.params["field"] == field
    assert error.params["expected"] == "string"


def test_unknown_nested_field_not_compared() -> None:
    compile_document(with_fields(address__street={"const": 5}))


def test_field_nested_in_non_object_rejected() -> None:
    error = configuration_error(with_fields(birth_date__year={"column": "Họ và tên"}))

    assert error.key == "error.mapping_field_not_object"
    assert error.params == {"mapping": "vnedu/student/v1", "field": "birth_date.year",
                            "outer": "birth_date", "expected": "string"}
    assert "birth_date" in error.message("en")


def test_private_field_in_non_object_allowed() -> None:
    compile_document(with_fields(birth_date___year={"column": "Họ và tên"}))


def test_field_inside_another_field_rejected() -> None:
    document = with_fields(address={"const": "Cần Thơ"})

    problems = check_mapping(MappingSpec(document=document, origin="test"))

    nested = [(p.params["field"], p.params["outer"]) for p in problems
              if p.key == "error.mapping_field_nested_in_field"]
    assert nested == [(field, "address") for field in
                      ("address.commune_code", "address.detail", "address.province_code")]
    # The text constant is also the wrong type for the object that the schema declares.
    assert [(p.key, p.params["field"]) for p in problems
            if p.key != "error.mapping_field_nested_in_field"] == [
        ("error.mapping_value_type", "address")]


# -- columns of validation problems --------------------------------------------------------------


def test_column_of_nested_path() -> None:
    document = with_fields(school_refs={"column": "Trường", "steps": [{"split": ","}]})
    mapping = compile_document(document, [*HEADERS, "Trường"])

    assert mapping.column_of("address.commune_code") == "Phường/Xã"
    assert mapping.column_of("address.detail") == "Số nhà, đường"
    assert mapping.column_of("school_refs.0") == "Trường"
    assert mapping.column_of("local_id") == "Mã HS"
    assert mapping.column_of("address") is None
    assert mapping.column_of("address.street") is None
    assert mapping.column_of(None) is None


def test_validation_problem_names_nested_field() -> None:
    mapping = compile_document(STUDENT)
    record = mapping.map(row_with(**{"Số nhà, đường": "x" * 2001}), PLACE).record

    problems = get_registry().validator("student", 2).problems(record)

    assert [p.place.field for p in problems] == ["address.detail"]
    assert mapping.column_of(problems[0].place.field) == "Số nhà, đường"


# -- the mapping file format ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["address.commune_code", "_work.x", "address._raw", "a.b.c"])
def test_file_format_takes_dotted_names(name: str) -> None:
    problems = Problems()
    document = {**STUDENT, "fields": {**STUDENT["fields"], name: {"column": "X"}}}

    assert check_document(document, "test", problems), problems.items


@pytest.mark.parametrize("name", ["address.", ".address", "address..x", "Address.x",
                                  "address.1x", "address.__x"])
def test_file_format_rejects_bad_dotted_names(name: str) -> None:
    problems = Problems()
    document = {**STUDENT, "fields": {**STUDENT["fields"], name: {"column": "X"}}}

    assert not check_document(document, "test", problems)


def test_file_format_takes_dotted_parent_field() -> None:
    problems = Problems()

    assert check_document(STUDENT, "test", problems), problems.items


# -- on_error: drop ------------------------------------------------------------------------------


DROPPING = with_fields(address__province_code={**PROVINCE, "on_error": "drop"},
                       address__commune_code={**COMMUNE, "on_error": "drop"})


def test_drop_keeps_row_without_object() -> None:
    mapped = compile_document(DROPPING).map(row_with(**{"Phường/Xã": "Phường An Hòa"}), PLACE)

    assert "address" not in mapped.record
    assert mapped.record["local_id"] == "HS01"
    [problem] = mapped.dropped
    assert problem.key == "mapping.commune_2025_unknown_in"
    assert problem.drop_scope == "address"
    assert problem.place == PLACE.with_(column="Phường/Xã", field="address.commune_code")
    assert problem.params["column"] == "Phường/Xã"


def test_drop_of_province_skips_commune() -> None:
    mapped = compile_document(DROPPING).map(row_with(**{"Tỉnh/Thành phố": "Hậu Giang"}), PLACE)

    assert "address" not in mapped.record
    [problem] = mapped.dropped
    assert problem.key == "mapping.province_2025_former"
    assert problem.params["code"] == "92"
    assert problem.params["current"] == "Thành phố Cần Thơ"


def test_good_row_drops_nothing() -> None:
    mapped = compile_document(DROPPING).map(ROW, PLACE)

    assert mapped.dropped == ()
    assert mapped.record["address"]["commune_code"] == "31135"


def test_bad_row_lists_dropped_problem_last() -> None:
    document = copy.deepcopy(DROPPING)
    document["fields"]["birth_date"] = {"column": "Họ và tên", "steps": [{"date": {"formats": ["%d/%m/%Y"]}}]}

    error = rejection(row_with(**{"Phường/Xã": "Phường An Hòa"}), document)

    assert error.key == "mapping.date_invalid"
    assert [other.key for other in error.others] == ["mapping.commune_2025_unknown_in"]


def test_drop_rejected_on_required_field() -> None:
    document = with_fields(address__province_code={**PROVINCE, "on_error": "drop"},
                           address__detail={"column": "Số nhà, đường", "required": True})

    error = configuration_error(document)

    assert error.key == "error.mapping_drop_required"
    assert error.params["field"] == "address.detail"
    assert error.params["scope"] == "address"


def test_drop_rejected_on_identifier() -> None:
    document = with_fields(local_id={"column": "Mã HS", "required": True, "on_error": "drop"})

    assert configuration_error(document).key == "error.mapping_drop_required"


def test_drop_rejected_when_read_outside() -> None:
    document = with_fields(address__province_code={**PROVINCE, "on_error": "drop"},
                           label={"join": ["address.province_code", "full_name"]})

    error = configuration_error(document)

    assert error.key == "error.mapping_drop_read"
    assert error.params["field"] == "label"


def test_file_format_takes_on_error() -> None:
    problems = Problems()

    assert check_document(DROPPING, "test", problems)
    assert not check_document(with_fields(address__province_code={**PROVINCE, "on_error": "skip"}),
                              "test", Problems())


def test_keep_when_empty_only_for_optional_fields() -> None:
    local_id = {"column": "Mã HS", "required": True, "on_empty": "keep"}
    error = configuration_error(with_fields(local_id=local_id))

    assert error.key == "error.mapping_keep_empty_field"
    assert error.params["field"] == "local_id"


def test_keep_when_empty_lists_empty_fields() -> None:
    detail = {"column": ["Số nhà, đường"], "on_empty": "keep"}
    mapping = compile_document(with_fields(address__detail=detail))

    assert mapping.empty_kept_fields({"address": {"detail": ""}}) == []
    assert mapping.empty_kept_fields({"address": {"province_code": "92"}}) == ["address.detail"]
