"""Code lists: loading, spellings, effective dates, numbering, nested lookups, shipped data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway import PROJECT_ROOT
from gateway.codelists import (
    CODELIST_KEYWORD,
    CodeAmbiguous,
    CodeList,
    CodeListRef,
    code_labels,
    get_codelist,
    load_codelists,
    mapping_codelists,
    record_codelists,
    schema_codelists,
    spelling_key,
)
from gateway.errors import ConfigurationError, MappingError
from gateway.text import collapse_spaces, match_key

SHIPPED = sorted(p.parent.name for p in (PROJECT_ROOT / "mappings" / "codelists").glob("*/v1.yaml"))


def write_list(root: Path, document: dict[str, Any]) -> Path:
    path = root / document["name"] / f"v{document['version']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def load_one(root: Path, document: dict[str, Any]) -> CodeList:
    write_list(root, document)
    return load_codelists(root)[(document["name"], document["version"])]


def problems_of(root: Path, document: dict[str, Any]) -> list[str]:
    write_list(root, document)
    with pytest.raises(ConfigurationError) as caught:
        load_codelists(root)
    assert caught.value.key == "error.codelists_invalid"
    return caught.value.problems


# -- loading ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_list_builds_without_problems(name: str) -> None:
    codelist = get_codelist(name)
    assert codelist.codes
    assert codelist.provenance_in("vi")
    assert codelist.provenance_in("en")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_list_provenance_in_both_languages(name: str) -> None:
    provenance = get_codelist(name).provenance
    assert set(provenance) == {"vi", "en"}
    assert provenance["vi"] != provenance["en"]


def test_provenance_text_serves_every_language(tmp_path: Path) -> None:
    codelist = load_one(tmp_path, DATED)
    assert codelist.provenance == {"vi": "A test list.", "en": "A test list."}


def test_provenance_falls_back_to_vietnamese(tmp_path: Path) -> None:
    codelist = load_one(tmp_path, {**DATED, "provenance": {"vi": "Danh mục thử."}})
    assert codelist.provenance_in("en") == "Danh mục thử."


def test_provenance_not_text_rejected(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {**DATED, "provenance": {"vi": ["Danh mục thử."]}})
    assert any("'provenance' must map languages to text" in p for p in problems)


def test_shipped_lists_include_new_lists() -> None:
    names = {name for name, _ in load_codelists()}
    assert {"ethnic-group-1979", "ethnic-group-gso", "learner-status", "province-2025",
            "commune-2025"} <= names


def test_spelling_shared_by_two_codes_rejected(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {
        "name": "clash", "version": 1,
        "codes": [{"code": "a", "name": {"vi": "Hòa"}}, {"code": "b", "aliases": ["Hoà"]}],
    })
    assert any("'hoa' names two codes (a, b)" in p for p in problems)


def test_null_alias_shared_with_code_rejected(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {
        "name": "clash", "version": 1,
        "codes": [{"code": "male", "name": {"vi": "Nam"}}], "null_aliases": ["nam"],
    })
    assert any("'nam' names two codes" in p for p in problems)


@pytest.mark.parametrize(("change", "expected"), [
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"valid_from": "1 July 2025"}, "'valid_from' must be a date"),
    ({"valid_from": "2025-07-01", "valid_to": "2025-06-30"}, "is before valid_from"),
    ({"aliases": {"a": ["x"]}}, "list-level 'aliases' are only for lists built from a 'source'"),
    ({"source": {"package": "no-such-package", "kind": "things"}}, "unknown source"),
    ({"title": {"vi": None}}, "'title' must map languages to text"),
    ({"maps_to": ["enrolled"]}, "'maps_to' must be"),
], ids=["unknown-key", "bad-date", "dates-reversed", "list-aliases", "unknown-source", "bad-title",
        "bad-maps-to"])
def test_invalid_header_rejected(tmp_path: Path, change: dict[str, Any], expected: str) -> None:
    document = {"name": "bad", "version": 1, "codes": [{"code": "a"}], **change}
    assert any(expected in p for p in problems_of(tmp_path, document))


@pytest.mark.parametrize(("code", "expected"), [
    ({"code": "a", "shade": "red"}, "unknown key 'shade'"),
    ({"name": {"vi": "A"}}, "each code needs a 'code'"),
    ({"code": "a", "valid_to": "yesterday"}, "'valid_to' must be a date"),
    ({"code": "a", "maps_to": "enrolled"}, "has 'maps_to' but the list declares none"),
    ({"code": "a", "parent": "92"}, "a 'parent' is required exactly when"),
], ids=["unknown-key", "no-code", "bad-date", "undeclared-maps-to", "parent-without-list"])
def test_invalid_code_rejected(tmp_path: Path, code: dict[str, Any], expected: str) -> None:
    document = {"name": "bad", "version": 1, "codes": [code]}
    assert any(expected in p for p in problems_of(tmp_path, document))


def test_code_listed_twice_rejected(tmp_path: Path) -> None:
    document = {"name": "bad", "version": 1, "codes": [{"code": "a"}, {"code": "a"}]}
    assert any("code 'a' is listed twice" in p for p in problems_of(tmp_path, document))


def test_maps_to_outside_declared_values_rejected(tmp_path: Path) -> None:
    document = {"name": "bad", "version": 1,
                "maps_to": {"field": "enrollment_status", "values": ["enrolled"]},
                "codes": [{"code": "a", "maps_to": "gone"}]}
    assert any("maps_to 'gone' is not one of" in p for p in problems_of(tmp_path, document))


def test_file_name_must_match_list_name(tmp_path: Path) -> None:
    path = tmp_path / "right" / "v1.yaml"
    path.parent.mkdir()
    path.write_text("name: wrong\nversion: 1\ncodes: [{code: a}]\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_codelists(tmp_path)
    assert any("must match the path" in p for p in caught.value.problems)


def test_unknown_list_rejected() -> None:
    with pytest.raises(ConfigurationError) as caught:
        get_codelist("no-such-list")
    assert caught.value.key == "error.codelist_unknown"


# -- spellings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("left", "right"), [
    ("Thuỷ", "Thủy"), ("Hoà", "Hòa"), ("Khánh Hoà", "Khánh Hòa"),
    ("Thủy", unicodedata.normalize("NFD", "Thủy")), ("Bình  Thủy", "bình thủy"),
    ("Văn Miếu - Quốc Tử Giám", "Văn Miếu-Quốc Tử Giám"),
], ids=["uy", "oa", "oa-in-name", "nfd", "space-case", "hyphen"])
def test_spelling_key_ignores_tone_placement(left: str, right: str) -> None:
    assert spelling_key(left) == spelling_key(right)


@pytest.mark.parametrize(("left", "right"), [
    ("Văn Lang", "Văn Lăng"), ("Mỹ Tho", "Mỹ Thọ"), ("Cẩm Giang", "Cẩm Giàng"), ("Đông", "Dong"),
], ids=["breve", "tone", "grave", "d-stroke"])
def test_spelling_key_keeps_diacritics(left: str, right: str) -> None:
    assert spelling_key(left) != spelling_key(right)
    assert match_key(left) == match_key(right)


@pytest.mark.parametrize(("value", "expected"), [
    ("Khơ-me", "05"), ("Khmer", "05"), ("Khơ Me", "05"), ("KHO ME", "05"), ("khơme", "05"),
    ("HMông", "08"), ("Hmông", "08"), ("H'Mông", "08"), ("Mông", "08"), ("Hmong", "08"),
    ("Gia-rai", "10"), ("Gia Rai", "10"), ("Jrai", "10"), ("Ê-đê", "12"), ("Ê Đê", "12"), ("Ede", "12"),
    ("Ba-na", "13"), ("Ba Na", "13"), ("Xơ-đăng", "14"), ("Xơ Đăng", "14"), ("xo dang", "14"),
    ("Ca Dong", "14"), ("Cao Lan", "15"), ("Giẻ Triêng", "27"), ("Gié-Triêng", "27"),
    ("Tà Ôi", "31"), ("La Chi", "38"), ("Hoa", "04"), ("Kinh", "01"), ("Việt", "01"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_ethnic_1979_finds_variant_spellings(value: str, expected: str) -> None:
    assert get_codelist("ethnic-group-1979").lookup(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("Kinh", "01"), ("Mường", "04"), ("Khmer", "05"), ("Khơ-me", "05"), ("Hoa", "06"),
    ("Mông", "08"), ("HMông", "08"), ("Gia Rai", "10"), ("Ê Đê", "11"), ("Ba Na", "12"),
    ("Xơ-đăng", "16"), ("Ngái", "43"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_ethnic_gso_finds_variant_spellings(value: str, expected: str) -> None:
    assert get_codelist("ethnic-group-gso").lookup(value) == expected


def test_ethnic_lists_hold_same_groups() -> None:
    old, new = get_codelist("ethnic-group-1979"), get_codelist("ethnic-group-gso")
    pairs = {}
    for code in old.codes:
        found = {new.lookup(text) for text in old.entry(code).spellings()}
        assert len(found) == 1, (code, found)
        pairs[code] = found.pop()
    assert sorted(pairs.values()) == sorted(new.codes)
    for code, paired in pairs.items():
        assert {old.lookup(text) for text in new.entry(paired).spellings()} == {code}


def test_ethnic_lists_have_54_two_digit_codes() -> None:
    expected = [f"{n:02d}" for n in range(1, 55)]
    assert list(get_codelist("ethnic-group-1979").codes) == expected
    assert list(get_codelist("ethnic-group-gso").codes) == expected


def test_dated_exonym_not_an_alias() -> None:
    with pytest.raises(KeyError):
        get_codelist("ethnic-group-1979").lookup("Mèo")


def test_null_alias_gives_none() -> None:
    gender = get_codelist("gender")
    assert gender.lookup("unspecified") is None
    assert gender.lookup("Không xác định") is None
    assert gender.lookup("khong xac dinh") is None


def test_unknown_value_raises_key_error() -> None:
    with pytest.raises(KeyError):
        get_codelist("learner-status").lookup("Đang nghỉ hè")


# -- codes -----------------------------------------------------------------------------------------


def test_bare_number_is_not_a_spelling() -> None:
    with pytest.raises(KeyError):
        get_codelist("ethnic-group-1979").lookup("05")
    with pytest.raises(KeyError):
        get_codelist("province-2025").lookup("92")


def test_word_code_still_a_spelling() -> None:
    assert get_codelist("gender").lookup("female") == "female"
    assert get_codelist("learner-status").lookup("transferred_in") == "transferred_in"


def test_lookup_code_depends_on_numbering() -> None:
    old, new = get_codelist("ethnic-group-1979"), get_codelist("ethnic-group-gso")
    assert old.entry(old.lookup_code("04")).name["vi"] == "Hoa"
    assert new.entry(new.lookup_code("04")).name["vi"] == "Mường"


@pytest.mark.parametrize(("value", "expected"), [("05", "05"), ("5", "05"), (" 7 ", "07")])
def test_lookup_code_restores_leading_zeros(value: str, expected: str) -> None:
    assert get_codelist("ethnic-group-1979").lookup_code(value) == expected


@pytest.mark.parametrize("value", ["Kinh", "55", "99", "005", "0"])
def test_lookup_code_ignores_names_and_unknown_numbers(value: str) -> None:
    with pytest.raises(KeyError):
        get_codelist("ethnic-group-1979").lookup_code(value)


def test_lookup_code_of_word_codes() -> None:
    statuses = get_codelist("learner-status")
    assert statuses.lookup_code("returned") == "returned"
    with pytest.raises(KeyError):
        statuses.lookup_code("Đang học")


# -- effective dates -------------------------------------------------------------------------------

DATED = {
    "name": "dated", "version": 1, "provenance": "A test list.",
    "valid_from": date(2020, 1, 1), "valid_to": date(2025, 6, 30),
    "codes": [
        {"code": "old", "name": {"vi": "Cũ"}, "valid_to": date(2022, 12, 31)},
        {"code": "new", "name": {"vi": "Mới"}, "valid_from": date(2023, 1, 1)},
        {"code": "early", "name": {"vi": "Sớm"}, "valid_from": date(2010, 1, 1)},
        {"code": "always", "name": {"vi": "Luôn"}},
    ],
}


@pytest.mark.parametrize(("value", "on", "expected"), [
    ("Cũ", date(2022, 12, 31), "old"), ("Mới", date(2023, 1, 1), "new"),
    ("Luôn", date(2025, 6, 30), "always"), ("Luôn", "2024-02-29", "always"),
    ("Mới", datetime(2024, 5, 1, 8, 30), "new"), ("Cũ", None, "old"),
], ids=["last-day", "first-day", "list-last-day", "iso-text", "datetime", "no-date"])
def test_lookup_on_date_inside_validity(tmp_path: Path, value: str, on: Any, expected: str) -> None:
    assert load_one(tmp_path, DATED).lookup(value, on=on) == expected


@pytest.mark.parametrize(("value", "on"), [
    ("Cũ", date(2023, 1, 1)), ("Mới", date(2022, 12, 31)), ("Luôn", date(2019, 12, 31)),
    ("Luôn", date(2025, 7, 1)), ("Sớm", date(2015, 1, 1)),
], ids=["code-ended", "code-not-started", "list-not-started", "list-ended", "narrowed-to-list"])
def test_lookup_on_date_outside_validity(tmp_path: Path, value: str, on: date) -> None:
    codelist = load_one(tmp_path, DATED)
    with pytest.raises(KeyError):
        codelist.lookup(value, on=on)


def test_lookup_code_on_date(tmp_path: Path) -> None:
    codelist = load_one(tmp_path, DATED)
    assert codelist.lookup_code("new", on=date(2024, 1, 1)) == "new"
    with pytest.raises(KeyError):
        codelist.lookup_code("new", on=date(2022, 1, 1))


def test_code_dates_narrowed_to_list(tmp_path: Path) -> None:
    entry = load_one(tmp_path, DATED).entry("early")
    assert (entry.valid_from, entry.valid_to) == (date(2020, 1, 1), date(2025, 6, 30))


def test_describe_reports_provenance_and_dates(tmp_path: Path) -> None:
    described = load_one(tmp_path, DATED).describe()
    assert described["provenance"] == {"vi": "A test list.", "en": "A test list."}
    assert (described["valid_from"], described["valid_to"]) == ("2020-01-01", "2025-06-30")
    assert described["code_dates"] == {
        "old": {"valid_from": "2020-01-01", "valid_to": "2022-12-31"},
        "new": {"valid_from": "2023-01-01", "valid_to": "2025-06-30"},
    }
    assert described["codes"] == ["old", "new", "early", "always"]
    json.dumps(described)


def test_1979_list_not_valid_before_decision() -> None:
    codelist = get_codelist("ethnic-group-1979")
    assert codelist.lookup("Kinh", on=date(1979, 3, 2)) == "01"
    with pytest.raises(KeyError):
        codelist.lookup("Kinh", on=date(1979, 3, 1))


def test_commune_code_needs_date_after_reform() -> None:
    communes = get_codelist("commune-2025")
    assert communes.lookup_code("31135", on=date(2025, 7, 1)) == "31135"
    with pytest.raises(KeyError):
        communes.lookup_code("31135", on=date(2025, 6, 30))


# -- nested lists ----------------------------------------------------------------------------------

NESTED = {
    "name": "towns", "version": 1, "parent_list": "regions", "null_aliases": ["không rõ"],
    "codes": [
        {"code": "a1", "name": {"vi": "Xã Tân An"}, "parent": "A", "valid_to": date(2024, 12, 31)},
        {"code": "b1", "name": {"vi": "Xã Tân An"}, "parent": "B", "valid_from": date(2025, 1, 1)},
        {"code": "b2", "name": {"vi": "Xã Văn Lang"}, "parent": "B"},
        {"code": "b3", "name": {"vi": "Xã Văn Lăng"}, "parent": "B"},
    ],
}


def test_nested_name_found_within_parent(tmp_path: Path) -> None:
    towns = load_one(tmp_path, NESTED)
    assert towns.lookup_in("Xã Tân An", "A") == "a1"
    assert towns.lookup_in("xa tan an", "B") == "b1"


def test_nested_name_in_two_parents_ambiguous(tmp_path: Path) -> None:
    towns = load_one(tmp_path, NESTED)
    with pytest.raises(CodeAmbiguous) as caught:
        towns.lookup("Xã Tân An")
    assert caught.value.params["count"] == 2
    assert caught.value.params["candidates"] == "a1 Xã Tân An (A), b1 Xã Tân An (B)"


def test_nested_ambiguity_resolved_by_date(tmp_path: Path) -> None:
    towns = load_one(tmp_path, NESTED)
    assert towns.lookup("Xã Tân An", on=date(2024, 6, 1)) == "a1"
    assert towns.lookup("Xã Tân An", on=date(2025, 6, 1)) == "b1"


def test_nested_names_differing_by_diacritics(tmp_path: Path) -> None:
    towns = load_one(tmp_path, NESTED)
    assert towns.lookup_in("Xã Văn Lang", "B") == "b2"
    assert towns.lookup_in("Xã Văn Lăng", "B") == "b3"
    with pytest.raises(CodeAmbiguous):
        towns.lookup_in("Xa Van Lang", "B")


def test_nested_null_alias_within_parent(tmp_path: Path) -> None:
    towns = load_one(tmp_path, NESTED)
    assert towns.lookup_in("Không rõ", "A") is None
    assert towns.lookup("khong ro") is None


def test_nested_same_spelling_in_one_parent_rejected(tmp_path: Path) -> None:
    document = {"name": "towns", "version": 1, "parent_list": "regions", "codes": [
        {"code": "x", "name": {"vi": "Xã Bình Thủy"}, "parent": "A"},
        {"code": "y", "name": {"vi": "Xã Bình Thuỷ"}, "parent": "A"},
    ]}
    assert any("under parent A" in p for p in problems_of(tmp_path, document))


def test_nested_null_alias_shared_with_code_rejected(tmp_path: Path) -> None:
    document = {**NESTED, "null_aliases": ["Xã Tân An"]}
    assert any("null alias 'xa tan an'" in p for p in problems_of(tmp_path, document))


def test_lookup_in_flat_list_rejected() -> None:
    with pytest.raises(ConfigurationError) as caught:
        get_codelist("gender").lookup_in("Nam", "92")
    assert caught.value.key == "codelist.not_nested"


# -- administrative units 2025 ---------------------------------------------------------------------


def test_provinces_are_34_with_can_tho_92() -> None:
    provinces = get_codelist("province-2025")
    assert len(provinces.codes) == 34
    for spelling in ("Thành phố Cần Thơ", "Cần Thơ", "TP Cần Thơ", "TP. Cần Thơ", "Tp.Cần Thơ", "can tho"):
        assert provinces.lookup(spelling) == "92", spelling
    assert provinces.lookup_code("92") == "92"


@pytest.mark.parametrize(("value", "expected"), [
    ("Tỉnh An Giang", "91"), ("An Giang", "91"), ("Thanh Hoá", "38"), ("Thanh Hóa", "38"),
    ("Khánh Hoà", "56"), ("Hà Nội", "01"), ("TP.HCM", "79"), ("Thành phố Hồ Chí Minh", "79"),
    ("Huế", "46"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_province_spellings(value: str, expected: str) -> None:
    assert get_codelist("province-2025").lookup(value) == expected


@pytest.mark.parametrize("value", ["Hậu Giang", "Sóc Trăng", "Kiên Giang", "Bình Dương"])
def test_merged_provinces_not_found(value: str) -> None:
    with pytest.raises(KeyError):
        get_codelist("province-2025").lookup(value)


def test_admin_provenance_names_package_version() -> None:
    version = metadata.version("vietnam-provinces")
    for name in ("province-2025", "commune-2025"):
        codelist = get_codelist(name)
        assert f"Built from the PyPI package vietnam-provinces {version}" in codelist.provenance_in("en")
        assert f"Dựng từ gói PyPI vietnam-provinces {version}" in codelist.provenance_in("vi")
        assert codelist.describe()["source"]["version"].startswith(version)
        assert codelist.valid_from == date(2025, 7, 1)


PACKAGE_PROVINCES = {"name": "provinces", "version": 1, "provenance": "Test.",
                     "source": {"package": "vietnam-provinces", "kind": "provinces"}}


def test_package_list_takes_extra_aliases(tmp_path: Path) -> None:
    provinces = load_one(tmp_path, {**PACKAGE_PROVINCES, "aliases": {1: ["Thủ đô Hà Nội"], "92": ["TPCT"]}})
    assert provinces.lookup("Thủ đô Hà Nội") == "01"
    assert provinces.lookup("tpct") == "92"


def test_package_alias_for_unknown_code_rejected(tmp_path: Path) -> None:
    provinces = load_one(tmp_path, {**PACKAGE_PROVINCES, "aliases": {"93": ["Hậu Giang"]}})
    with pytest.raises(ConfigurationError) as caught:
        provinces.lookup("Cần Thơ")
    assert any("aliases for code '93'" in p for p in caught.value.problems)


def test_package_list_with_codes_rejected(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {**PACKAGE_PROVINCES, "codes": [{"code": "01"}]})
    assert any("must not list 'codes'" in p for p in problems)


def test_missing_package_reported_at_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    provinces = load_one(tmp_path, PACKAGE_PROVINCES)
    monkeypatch.setitem(sys.modules, "vietnam_provinces", None)
    with pytest.raises(ConfigurationError) as caught:
        provinces.lookup("Cần Thơ")
    assert caught.value.key == "codelist.package_missing"
    assert "pip install vietnam-provinces" in caught.value.message("en")


def test_communes_of_can_tho() -> None:
    communes = get_codelist("commune-2025")
    in_can_tho = [c for c in communes.codes if communes.entry(c).parent == "92"]
    kinds = [communes.entry(c).name["vi"].split()[0] for c in in_can_tho]
    assert len(in_can_tho) == 103
    assert (kinds.count("Phường"), kinds.count("Xã")) == (31, 72)


@pytest.mark.parametrize(("value", "expected"), [
    ("Phường Ninh Kiều", "31135"), ("Ninh Kiều", "31135"), ("P. Ninh Kiều", "31135"),
    ("phuong ninh kieu", "31135"), ("Bình Thuỷ", "31168"), ("Bình Thủy", "31168"),
    ("Xã Hỏa Lựu", "31338"), ("Hoả Lựu", "31338"), ("X. Phong Điền", "31299"), ("Vị Thanh 1", "31465"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_commune_found_within_can_tho(value: str, expected: str) -> None:
    assert get_codelist("commune-2025").lookup_in(value, "92") == expected


def test_commune_special_zone_with_and_without_prefix() -> None:
    communes = get_codelist("commune-2025")
    code = communes.lookup_in("Đặc khu Phú Quốc", "91")
    assert communes.lookup_in("Phú Quốc", "91") == code
    assert communes.entry(code).name["vi"] == "Đặc khu Phú Quốc"


def test_commune_name_in_several_provinces_rejected() -> None:
    communes = get_codelist("commune-2025")
    with pytest.raises(CodeAmbiguous) as caught:
        communes.lookup("Phường Tân An")
    assert isinstance(caught.value, MappingError)
    assert "31147 Phường Tân An (92)" in caught.value.params["candidates"]
    assert "31147 Phường Tân An (92)" in caught.value.message("vi")
    assert "Map the province column too" in caught.value.message("en")


def test_commune_unique_name_found_without_province() -> None:
    assert get_codelist("commune-2025").lookup("Phường Ninh Kiều") == "31135"


def test_commune_parent_code_padded() -> None:
    communes = get_codelist("commune-2025")
    assert communes.lookup_in("Hoàn Kiếm", "1") == communes.lookup_in("Hoàn Kiếm", "01")


def test_commune_unknown_parent_raises_key_error() -> None:
    with pytest.raises(KeyError):
        get_codelist("commune-2025").lookup_in("Ninh Kiều", "93")


def test_commune_names_without_double_spaces() -> None:
    communes = get_codelist("commune-2025")
    assert all("  " not in communes.entry(c).name["vi"] for c in communes.codes)


# -- learner status --------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected", "enrollment"), [
    ("Đang học", "studying", "enrolled"), ("Chuyển đến", "transferred_in", "transferred_in"),
    ("Chuyển đi", "transferred_out", "transferred_out"), ("Thôi học", "left", "left"),
    ("Nghỉ học xin học lại", "returned", "returned"), ("nghi hoc xin hoc lai", "returned", "returned"),
    ("Đi học lại", "returned", "returned"), ("Bỏ học", "dropped_out", "left"),
    ("Tốt nghiệp", "graduated", "left"), ("Lưu ban", "repeating", "enrolled"),
    ("Nghỉ học tạm thời", "temporarily_out", "left"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_learner_status_maps_to_enrollment(value: str, expected: str, enrollment: str) -> None:
    statuses = get_codelist("learner-status")
    assert statuses.lookup(value) == expected
    assert statuses.entry(expected).maps_to == enrollment


def test_learner_status_targets_match_schema() -> None:
    schema = json.loads((PROJECT_ROOT / "mappings" / "schemas" / "common" / "v1.json").read_text("utf-8"))
    statuses = get_codelist("learner-status")
    assert statuses.maps_to is not None
    assert statuses.maps_to["values"] == schema["$defs"]["enrollment_status"]["enum"]
    assert statuses.describe()["maps_to"]["field"] == "enrollment_status"


# -- command line ----------------------------------------------------------------------------------


def test_cli_lists_code_lists(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environment["GATEWAY_HOME"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-m", "gateway.cli.main", "--json", "codelists", "list"],
                            capture_output=True, text=True, env=environment, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    listed = {c["name"]: c for c in json.loads(result.stdout)}
    assert listed["province-2025"]["source"]["package"] == "vietnam-provinces"
    assert listed["ethnic-group-1979"]["valid_from"] == "1979-03-02"
    assert len(listed["commune-2025"]["codes"]) == 3321


# -- real files ------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_1979_list_matches_published_copy(realdata_dir: Path) -> None:
    groups = json.loads((realdata_dir / "vn-ethnic-groups" / "dantoc.json").read_text("utf-8"))
    codelist = get_codelist("ethnic-group-1979")
    official = [g for g in groups if 1 <= g["id"] <= 54]
    assert len(official) == 54
    for group in official:
        assert codelist.lookup(group["name"]) == f"{group['id']:02d}", group
    for group in groups:
        if group["id"] > 54:
            with pytest.raises(KeyError):
                codelist.lookup_code(str(group["id"]))


# Units whose code in vietnam-provinces differs from the letter 1027/CTK-CSCL of 25 June 2025:
# name -> (code in the letter, code in the package).
RENUMBERED_IN_CAN_THO = {"Phường Thốt Nốt": ("31207", "31212"), "Phường Thuận Hưng": ("31228", "31207")}


def can_tho_units_in_letter(realdata_dir: Path) -> list[tuple[str, str]]:
    """Return (code, name) of the Cần Thơ rows of the letter's commune table."""
    text = (realdata_dir / "vn-admin-units-2025" / "1027_CTK-CSCL_wards.md").read_text("utf-8")
    units = []
    for line in text.splitlines():
        cells = [collapse_spaces(c.replace("<br>", " ")) for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"[0-9]{5}", cells[1]) and "Cần Thơ" in cells[3]:
            units.append((cells[1], unicodedata.normalize("NFC", cells[2])))
    return units


@pytest.mark.realdata
def test_can_tho_units_match_statistics_letter(realdata_dir: Path) -> None:
    letter = can_tho_units_in_letter(realdata_dir)
    communes = get_codelist("commune-2025")
    package = {communes.entry(c).name["vi"]: c for c in communes.codes if communes.entry(c).parent == "92"}
    names = [name for _, name in letter]
    assert len(letter) == 103
    assert (sum(n.startswith("Phường ") for n in names), sum(n.startswith("Xã ") for n in names)) == (31, 72)
    assert sorted(map(match_key, names)) == sorted(map(match_key, package))
    for code, name in letter:
        expected = RENUMBERED_IN_CAN_THO.get(name, (code, code))
        assert expected[0] == code, name
        assert communes.lookup_in(name, "92") == expected[1], name


@pytest.mark.realdata
def test_provinces_match_statistics_letter(realdata_dir: Path) -> None:
    lines = (realdata_dir / "vn-admin-units-2025" / "915_CTK-CSCL_provinces.csv").read_text("utf-8")
    rows = [line.split(",") for line in lines.splitlines()[1:] if line.strip()]
    provinces = get_codelist("province-2025")
    assert len(rows) == 34
    for _, code, name in rows:
        assert provinces.lookup(name) == code, name


# -- names of codes in records ---------------------------------------------------------------------


def shipped_mapping(adapter: str, entity: str, version: int = 1) -> dict[str, Any]:
    path = PROJECT_ROOT / "mappings" / adapter / entity / f"v{version}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_name_of_in_language_then_vietnamese() -> None:
    genders, communes = get_codelist("gender"), get_codelist("commune-2025")
    assert genders.name_of("female", "vi") == "Nữ"
    assert genders.name_of("female", "en") == "Female"
    assert communes.name_of("26740", "en") == "Phường Sài Gòn"
    assert genders.name_of("x", "en") is None
    assert communes.name_of("26734", "vi") is None


def test_name_of_nameless_code_is_empty(tmp_path: Path) -> None:
    codelist = load_one(tmp_path, {"name": "bare", "version": 1, "codes": [{"code": "a"}]})
    assert codelist.name_of("a", "en") == ""
    assert codelist.title_in("en") == ""


def test_title_in_language_then_vietnamese(tmp_path: Path) -> None:
    codelist = load_one(tmp_path, {"name": "t", "version": 1, "title": {"vi": "Loại"},
                                   "codes": [{"code": "a"}]})
    assert get_codelist("gender").title_in("en") == "Gender"
    assert codelist.title_in("en") == "Loại"


def test_describe_gives_names() -> None:
    described = get_codelist("ethnic-group-1979").describe()
    assert described["names"]["04"] == {"vi": "Hoa", "en": "Hoa"}
    assert list(described["names"]) == described["codes"]


def test_mapping_codelists_of_school_export_student() -> None:
    ties = mapping_codelists(shipped_mapping("school-export", "student", 2))
    assert ties == {
        "gender": CodeListRef("gender"),
        "ethnicity_code": CodeListRef("ethnic-group-1979"),
        "learner_status": CodeListRef("learner-status"),
        "address.province_code": CodeListRef("province-2025"),
        "address.commune_code": CodeListRef("commune-2025"),
    }


def test_mapping_codelists_inside_each() -> None:
    ties = mapping_codelists(shipped_mapping("oneroster", "staff"))
    assert ties["roles"] == CodeListRef("staff-position")
    assert ties["position"] == CodeListRef("staff-position")


def test_join_of_two_lists_has_none() -> None:
    document = {"fields": {
        "_a": {"column": "A", "steps": [{"code": {"list": "ethnic-group-gso", "version": 1}}]},
        "_b": {"column": "B", "steps": [{"code": {"list": "ethnic-group-1979"}}]},
        "ethnicity_code": {"join": ["_a", "_b"]},
        "other": {"join": ["_a", "missing"]},
        "loop": {"join": ["loop"]},
    }}
    assert mapping_codelists(document) == {"other": CodeListRef("ethnic-group-gso", 1)}


def test_schema_codelists_follow_versions() -> None:
    v2, v1 = schema_codelists("student", 2), schema_codelists("student", 1)
    assert v2 == {
        "gender": CodeListRef("gender"),
        "learner_status": CodeListRef("learner-status"),
        "address.province_code": CodeListRef("province-2025"),
        "address.commune_code": CodeListRef("commune-2025"),
    }
    # Before the 2025 reform the address contains old unit codes, which have no list yet.
    assert v1 == {"gender": CodeListRef("gender"), "learner_status": CodeListRef("learner-status")}


def test_mapping_tie_needs_same_version() -> None:
    mapping = shipped_mapping("school-export", "student", 2)
    assert record_codelists("student", 2, mapping)["ethnicity_code"] == CodeListRef("ethnic-group-1979")
    assert "ethnicity_code" not in record_codelists("student", 1, mapping)
    assert "ethnicity_code" not in record_codelists("staff", 1, {**mapping, "schema_version": 1})
    assert "ethnicity_code" not in record_codelists("student", 2)


def test_code_labels_follow_mapping_numbering() -> None:
    gso = {"entity": "student", "schema_version": 2,
           "fields": {"ethnicity_code": {"column": "D", "steps": [{"code": {"list": "ethnic-group-gso"}}]}}}
    data = {"ethnicity_code": "04"}
    school_export = shipped_mapping("school-export", "student", 2)
    by_1979 = code_labels(data, record_codelists("student", 2, school_export), "vi")
    by_gso = code_labels(data, record_codelists("student", 2, gso), "vi")
    assert by_1979["ethnicity_code"]["names"] == {"04": "Hoa"}
    assert by_gso["ethnicity_code"]["names"] == {"04": "Mường"}


def test_code_labels_mark_unknown_and_unavailable() -> None:
    data = {"gender": "x", "address": {"province_code": "79", "commune_code": "26740"},
            "roles": ["teacher", "aide"], "learner_status": None}
    before = json.dumps(data, sort_keys=True)
    ties = {"gender": CodeListRef("gender"), "address.province_code": CodeListRef("no-such-list"),
            "address.commune_code": CodeListRef("commune-2025"), "roles": CodeListRef("staff-position"),
            "learner_status": CodeListRef("learner-status"), "absent": CodeListRef("gender")}

    labels = code_labels(data, ties, "en")

    assert labels["gender"] == {"codelist": "gender@1", "available": True, "names": {"x": None}}
    assert labels["address.province_code"] == {"codelist": "no-such-list", "available": False,
                                               "names": {"79": None}}
    assert labels["address.commune_code"]["names"] == {"26740": "Phường Sài Gòn"}
    assert labels["roles"]["names"] == {"teacher": "Teacher", "aide": "Aide"}
    assert "learner_status" not in labels
    assert "absent" not in labels
    assert json.dumps(data, sort_keys=True) == before


def schema_properties(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from schema_properties(value)
    elif isinstance(node, list):
        for value in node:
            yield from schema_properties(value)


@pytest.mark.parametrize("path", sorted((PROJECT_ROOT / "mappings" / "schemas").glob("*/v*.json")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_schema_codelists_name_shipped_lists(path: Path) -> None:
    names = {name for name, _ in load_codelists()}
    for node in schema_properties(json.loads(path.read_text(encoding="utf-8"))):
        if CODELIST_KEYWORD not in node:
            continue
        assert node[CODELIST_KEYWORD] in names
        if "enum" in node:
            assert node["enum"] == list(get_codelist(node[CODELIST_KEYWORD]).codes)


# -- prefixes and values without a code ------------------------------------------------------------


@pytest.mark.parametrize("name", ["ethnic-group-1979", "ethnic-group-gso"])
@pytest.mark.parametrize(("value", "expected"), [
    ("Dân tộc Kinh", "01"),
    ("dân tộc Tày", "02"),
    ("DAN TOC  Kinh", "01"),
    ("Người nước ngoài", None),
    ("nuoc ngoai", None),
])
def test_ethnic_prefix_and_foreigner(name: str, value: str, expected: str | None) -> None:
    assert get_codelist(name).lookup(value) == expected


@pytest.mark.parametrize("value", ["Dân tộc", "Dân tộc Mèo", "Mèo", "01", "Kinh Dân tộc"])
def test_ethnic_prefix_needs_known_name(value: str) -> None:
    with pytest.raises(KeyError):
        get_codelist("ethnic-group-1979").lookup(value)


def test_prefix_in_written_list(tmp_path: Path) -> None:
    codelist = load_one(tmp_path, {
        "name": "kind", "version": 1, "prefixes": ["Loại hình"],
        "codes": [{"code": "public", "name": {"vi": "Công lập"}}],
    })

    assert codelist.lookup("Loại hình công lập") == "public"
    assert codelist.lookup("Công lập") == "public"
    with pytest.raises(KeyError):
        codelist.lookup("Loại hình")


def test_prefixes_must_be_texts(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {"name": "kind", "version": 1, "prefixes": "Loại hình",
                                      "codes": [{"code": "public"}]})

    assert any("'prefixes' must be a list of texts" in problem for problem in problems)


def test_numbered_lists() -> None:
    assert get_codelist("ethnic-group-1979").numbered
    assert not get_codelist("gender").numbered


# -- former names ----------------------------------------------------------------------------------


FORMER = {"name": "units", "version": 1, "provenance": "Test.",
          "codes": [{"code": "92", "name": {"vi": "Thành phố Cần Thơ"}, "aliases": ["Cần Thơ"]}],
          "former_names": {"prefixes": ["Tỉnh"], "units": {"92": ["Hậu Giang", "Sóc Trăng"]}},
          "messages": {"former": "mapping.province_2025_former"}}


@pytest.mark.parametrize(("value", "expected"), [
    ("Hậu Giang", "92"), ("TỈNH SÓC TRĂNG", "92"), ("hau giang", "92"),
    ("Cần Thơ", None), ("Bạc Liêu", None), ("Tỉnh", None),
], ids=["name", "prefix-case", "no-diacritics", "current-name", "other", "prefix-alone"])
def test_former_unit_found(tmp_path: Path, value: str, expected: str | None) -> None:
    assert load_one(tmp_path, FORMER).former_unit(value) == expected


def test_former_name_is_not_spelling(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        load_one(tmp_path, FORMER).lookup("Hậu Giang")


def test_former_name_of_current_code_rejected(tmp_path: Path) -> None:
    document = {**FORMER, "former_names": {"units": {"92": ["Cần Thơ"]}}}

    problems = problems_of(tmp_path, document)

    assert any("former name 'Cần Thơ' is also the spelling" in p for p in problems)


def test_former_name_of_absent_code_rejected(tmp_path: Path) -> None:
    document = {**FORMER, "former_names": {"units": {"93": ["Hậu Giang"]}}}

    assert any("former_names for code '93'" in p for p in problems_of(tmp_path, document))


@pytest.mark.parametrize("messages", [{"odd": "mapping.x"}, {"former": "ingest.x"}, ["mapping.x"]],
                         ids=["unknown-kind", "not-mapping-key", "not-a-map"])
def test_invalid_messages_rejected(tmp_path: Path, messages: Any) -> None:
    problems = problems_of(tmp_path, {**FORMER, "messages": messages})

    assert any("'messages' must map" in p for p in problems)


def test_province_list_names_29_former_provinces() -> None:
    provinces = get_codelist("province-2025")
    document = yaml.safe_load((PROJECT_ROOT / "mappings" / "codelists" / "province-2025" / "v1.yaml")
                              .read_text(encoding="utf-8"))
    former = [name for names in document["former_names"]["units"].values() for name in names]

    # 63 provinces before 1 July 2025, 34 after it.
    assert len(former) == 63 - len(provinces.codes) == 29
    assert len({match_key(name) for name in former}) == 29
    for name in former:
        with pytest.raises(KeyError):
            provinces.lookup(name)
    assert provinces.former_unit("Hậu Giang") == provinces.former_unit("Sóc Trăng") == "92"
    assert provinces.former_unit("Quảng Bình") == provinces.lookup("Quảng Trị")
    assert provinces.former_unit("Bà Rịa - Vũng Tàu") == provinces.lookup("Hồ Chí Minh")


@pytest.mark.parametrize("key", ["mapping.province_2025_unknown", "mapping.province_2025_former",
                                 "mapping.commune_2025_unknown_in",
                                 "mapping.commune_2025_in_other_province",
                                 "mapping.commune_2025_province_missing", "mapping.code_former"])
def test_reform_messages_plain(key: str) -> None:
    from gateway.i18n import translate

    for lang in ("vi", "en"):
        text = translate(key, lang, value="Hậu Giang", column="Tỉnh/Thành phố", current="Thành phố Cần Thơ",
                         code="92", parent_name="Thành phố Cần Thơ", found="30307 Phường Long Xuyên (91)",
                         codelist="province-2025@1", parent="92", parent_field="address.province_code")
        assert "Tỉnh/Thành phố" in text
        assert "@1" not in text
        assert "cấp trên" not in text
        assert "alias" not in text
