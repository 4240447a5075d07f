"""``on_error: drop`` on identifiers and on fields built from private fields, and ``match_tone_marks``."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import ConfigurationError, MappingError, Place
from gateway.mapping.compiler import CompiledMapping, MappedRow
from gateway.mapping.spec import MappingSpec

PLACE = Place(file="hs.xlsx", sheet="Danh sách", row=7)
GENDER_CODE = {"column": "Giới tính", "steps": [{"code": {"list": "gender"}}]}
GIRL_FLAG = {"column": "Nữ", "steps": [{"flag": {"true": "female", "false": "male"}}]}


def student(**fields: Any) -> dict[str, Any]:
    return {
        "format": 1, "adapter": "vnedu", "entity": "student", "version": 1, "schema_version": 2,
        "stream": "students",
        "fields": {"local_id": {"column": "Mã HS", "required": True},
                   "full_name": {"column": "Họ và tên", "required": True},
                   "given_name": {"column": "Họ và tên", "steps": [{"split_name": "given"}],
                                  "required": True},
                   **fields},
    }


def compile_document(document: dict[str, Any], headers: list[str]) -> CompiledMapping:
    return CompiledMapping(MappingSpec(document=document, origin="test"), headers)


def map_row(document: dict[str, Any], row: dict[str, str]) -> MappedRow:
    return compile_document(document, list(row)).map(list(row.values()), PLACE)


def configuration_error(document: dict[str, Any], headers: list[str]) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        compile_document(document, headers)
    return caught.value


PERSONAL_ID = {"column": "Số định danh cá nhân",
               "steps": ["digits", {"pad_left": {"width": 12, "digits_only": True, "max_missing": 2,
                                                 "reject_longer": True}}],
               "on_error": "drop"}


@pytest.mark.parametrize("number", ["361234567", "0012345678901"])
def test_alias_identifier_dropped(number: str) -> None:
    mapped = map_row(student(personal_id=PERSONAL_ID),
                     {"Mã HS": "HS1", "Họ và tên": "Lê Văn An", "Số định danh cá nhân": number})

    assert "personal_id" not in mapped.record
    assert mapped.record["local_id"] == "HS1"
    assert [problem.drop_scope for problem in mapped.dropped] == ["personal_id"]
    assert mapped.dropped[0].place.column == "Số định danh cá nhân"


def test_alias_identifier_kept_when_valid() -> None:
    mapped = map_row(student(personal_id=PERSONAL_ID),
                     {"Mã HS": "HS1", "Họ và tên": "Lê Văn An", "Số định danh cá nhân": "92 2140 00123"})

    assert mapped.record["personal_id"] == "092214000123"
    assert mapped.dropped == ()


def test_drop_rejected_on_reference() -> None:
    document = student(school_ref={"column": "Mã trường", "steps": ["upper"], "on_error": "drop"})

    error = configuration_error(document, ["Mã HS", "Họ và tên", "Mã trường"])

    assert error.key == "error.mapping_drop_required"
    assert error.params["field"] == "school_ref"


GENDER_FIELDS: dict[str, Any] = {
    "_gender_from_flag": GIRL_FLAG,
    "_gender_from_code": GENDER_CODE,
    "gender": {"join": ["_gender_from_flag", "_gender_from_code"], "on_error": "drop"},
}


@pytest.mark.parametrize(("column", "value", "reason"), [
    pytest.param("Giới tính", "x", "mapping.code_not_accepted", id="unknown-code"),
    pytest.param("Nữ", "?", "mapping.flag_invalid", id="unknown-mark"),
])
def test_private_input_failure_drops_field(column: str, value: str, reason: str) -> None:
    mapped = map_row(student(**GENDER_FIELDS), {"Mã HS": "HS1", "Họ và tên": "Lê Văn An", column: value})

    assert "gender" not in mapped.record
    assert mapped.record["full_name"] == "Lê Văn An"
    (problem,) = mapped.dropped
    assert problem.key == reason
    assert problem.drop_scope == "gender"
    assert problem.place.field == "gender"
    assert problem.place.column == column


def test_private_input_failure_without_drop_rejects() -> None:
    fields = {**GENDER_FIELDS, "gender": {"join": ["_gender_from_flag", "_gender_from_code"]}}
    compiled = compile_document(student(**fields), ["Mã HS", "Họ và tên", "Giới tính"])

    with pytest.raises(MappingError) as caught:
        compiled.map(["HS1", "Lê Văn An", "x"], PLACE)

    assert caught.value.key == "mapping.code_not_accepted"


def test_private_input_read_by_other_field_rejected() -> None:
    document = student(**GENDER_FIELDS, gender_label={"join": ["_gender_from_code", "full_name"]})

    error = configuration_error(document, ["Mã HS", "Họ và tên", "Giới tính"])

    assert error.key == "error.mapping_drop_read"
    assert error.params["field"] == "gender_label"
    assert error.params["scope"] == "gender"


def test_first_of_does_not_fall_back_after_drop() -> None:
    """A dropped first choice leaves the field out: the next choice must not stand in for it."""
    fields = {"_gender_from_code": GENDER_CODE, "_gender_from_flag": GIRL_FLAG,
              "gender": {"first_of": ["_gender_from_code", "_gender_from_flag"], "on_error": "drop"}}

    mapped = map_row(student(**fields),
                     {"Mã HS": "HS1", "Họ và tên": "Lê Văn An", "Giới tính": "x", "Nữ": ""})

    assert "gender" not in mapped.record
    assert [problem.drop_scope for problem in mapped.dropped] == ["gender"]


BOY_FLAG = {"column": "Nam", "match_tone_marks": True,
            "steps": [{"flag": {"true": "male", "false": "female"}}]}


@pytest.mark.parametrize(("header", "cell", "expected"), [
    pytest.param("Nam", "x", "male", id="boy"),
    pytest.param("Nam", "", "female", id="girl"),
    pytest.param("NAM", "x", "male", id="upper-case"),
    pytest.param("Năm", "2012", None, id="year-column-not-read"),
])
def test_match_tone_marks(header: str, cell: str, expected: str | None) -> None:
    mapped = map_row(student(gender=BOY_FLAG), {"Mã HS": "HS1", "Họ và tên": "Lê Văn An", header: cell})

    assert mapped.record.get("gender") == expected
