"""Schema-version conversions: student 1 → 2 through a unit correspondence table, and 2 → 1."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import schema_versions as sv
from gateway.errors import ConfigurationError
from gateway.i18n import LANGUAGES, catalogue, placeholders
from gateway.settings import load as load_settings
from gateway.unit_correspondence import (
    FORMAT_CSV,
    FORMAT_DVHCVN,
    MAX_PROBLEMS,
    UnitCorrespondence,
    load_correspondence,
)
from gateway.validation import get_registry

HEADER = "old_commune_code,new_province_code,new_commune_code\n"
# Codes of Cần Thơ. The old Phường Cái Khế (31117) and Phường An Hòa (31120) merged into the
# new Phường Cái Khế (31120). The old Phường Bùi Hữu Nghĩa (31178) was split between the new
# Cái Khế and Bình Thủy (31168). "00001" is an old code that a spreadsheet shortens to "1".
ROWS = [
    ("31117", "92", "31120"),
    ("31120", "92", "31120"),
    ("31178", "92", "31120"),
    ("31178", "92", "31168"),
    ("00001", "01", "00004"),
]
STUDENT_V1 = {"local_id": "HS001", "given_name": "An", "full_name": "Nguyễn Văn An"}


def write_csv(folder: Path, rows: list[tuple[str, ...]], header: str = HEADER,
              name: str = "units.csv") -> Path:
    path = folder / name
    path.write_text(header + "".join(",".join(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def table(tmp_path: Path) -> UnitCorrespondence:
    return load_correspondence(write_csv(tmp_path, ROWS))


@pytest.fixture
def no_process_table() -> Iterator[None]:
    """Forget the process's table before and after, so no test sees another's."""
    sv.configure(None)
    yield
    sv.configure(None)


def old_address(commune: str | None = None, province: str | None = "92",
                district: str | None = "916", detail: str | None = "Số 1 Lê Lợi") -> dict[str, str]:
    address = {"province_code": province, "district_code": district, "commune_code": commune,
               "detail": detail}
    return {k: v for k, v in address.items() if v is not None}


# -- student 1 → 2 ---------------------------------------------------------------------------------


def test_one_new_commune_is_mechanical(table: UnitCorrespondence) -> None:
    record = {**STUDENT_V1, "address": old_address("31117")}

    converted = sv.upgrade("student", record, 1, units=table)

    assert converted.version == 2
    assert converted.review is None
    assert converted.record["address"] == {
        "province_code": "92", "commune_code": "31120", "detail": "Số 1 Lê Lợi"
    }
    assert converted.record["full_name"] == "Nguyễn Văn An"
    assert get_registry().validator("student", 2).problems(converted.record) == []


def test_upgrade_leaves_input_unchanged(table: UnitCorrespondence) -> None:
    record = {**STUDENT_V1, "address": old_address("31117")}

    sv.upgrade("student", record, 1, units=table)

    assert record["address"]["district_code"] == "916"


def test_split_goes_to_review_with_candidates(table: UnitCorrespondence) -> None:
    record = {**STUDENT_V1, "address": old_address("31178")}

    converted = sv.upgrade("student", record, 1, units=table)

    assert converted.record["address"] == {"province_code": "92", "detail": "Số 1 Lê Lợi"}
    assert converted.review is not None
    assert converted.review.reason == sv.COMMUNE_SPLIT
    assert converted.review.params["candidates"] == ["31120", "31168"]
    assert converted.review.params["old_commune"] == "31178"
    assert converted.review.params["old_district"] == "916"
    assert get_registry().validator("student", 2).problems(converted.record) == []


def test_split_across_provinces_keeps_no_province(tmp_path: Path) -> None:
    table = load_correspondence(write_csv(tmp_path, [("99001", "92", "31120"),
                                                     ("99001", "01", "00004")]))

    address, review = sv.address_2025(old_address("99001"), table)

    assert address == {"detail": "Số 1 Lê Lợi"}
    assert review is not None
    assert review.params["candidates"] == ["00004", "31120"]


def test_unknown_old_code_goes_to_review(table: UnitCorrespondence) -> None:
    address, review = sv.address_2025(old_address("31999"), table)

    assert address == {"detail": "Số 1 Lê Lợi"}
    assert review is not None
    assert review.reason == sv.COMMUNE_UNKNOWN
    assert review.params == {"old_province": "92", "old_district": "916", "old_commune": "31999"}


def test_no_table_goes_to_review(no_process_table: None) -> None:
    record = {**STUDENT_V1, "address": old_address("31117")}

    converted = sv.upgrade("student", record, 1, units=None)

    assert converted.record["address"] == {"detail": "Số 1 Lê Lợi"}
    assert converted.review is not None
    assert converted.review.reason == sv.NO_CORRESPONDENCE
    assert converted.review.params["setting"] == "codelists.unit_correspondence"
    assert converted.review.params["old_commune"] == "31117"


def test_no_table_needed_without_unit_codes() -> None:
    without_codes = {**STUDENT_V1, "address": {"detail": "Ấp 3"}}

    assert sv.upgrade("student", without_codes, 1, units=None).review is None
    assert sv.upgrade("student", without_codes, 1, units=None).record["address"] == {"detail": "Ấp 3"}
    assert "address" not in sv.upgrade("student", STUDENT_V1, 1, units=None).record


def test_leading_zeros_restored(table: UnitCorrespondence) -> None:
    address, review = sv.address_2025(old_address("1", province="1", district=None), table)

    assert review is None
    assert address["commune_code"] == "00004"
    assert address["province_code"] == "01"


def test_leading_zeros_restored_in_table(tmp_path: Path) -> None:
    table = load_correspondence(write_csv(tmp_path, [("1", "1", "4"), ("31117", "92", "31120")]))

    address, review = sv.address_2025(old_address("00001"), table)

    assert review is None
    assert address == {"province_code": "01", "commune_code": "00004", "detail": "Số 1 Lê Lợi"}


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (("31117", "92", "99999"), {"province_code": "92", "commune_code": "99999"}),
        (("31117", "01", "31120"), {"province_code": "01", "commune_code": "31120"}),
        (("31117", "99", "31120"), {"province_code": "99", "commune_code": "31120"}),
    ],
    ids=["commune-not-in-list", "commune-in-other-province", "province-not-in-list"],
)
def test_code_not_in_lists_goes_to_review(tmp_path: Path, row: tuple[str, ...],
                                          expected: dict[str, str]) -> None:
    table = load_correspondence(write_csv(tmp_path, [row]))

    address, review = sv.address_2025(old_address("31117"), table)

    assert address == {"detail": "Số 1 Lê Lợi"}
    assert review is not None
    assert review.reason == sv.CODE_NOT_IN_LIST
    assert {k: review.params[k] for k in expected} == expected


def test_address_without_commune_needs_province_table(table: UnitCorrespondence) -> None:
    address, review = sv.address_2025(old_address(None, province="93", district="930"), table)

    assert address == {"detail": "Số 1 Lê Lợi"}
    assert review is not None
    assert review.reason == sv.COMMUNE_MISSING


# -- the dvhcvn format -----------------------------------------------------------------------------


def write_dvhcvn(folder: Path) -> Path:
    """A small file in the dvhcvn splits.json shape: old Hậu Giang (93) went into Cần Thơ (92)."""
    document = {"data": [
        {"level1_id": "93", "name": "Tỉnh Hậu Giang", "splits": [{"new_id": "92"}],
         "level3s": [
             {"level3_id": "31318", "name": "Phường I",
              "splits": [{"new_id": "31321", "name": "Phường Vị Thanh"}]},
             # The same new unit as the file numbers it, with a name that the code list gives
             # another code: the name decides.
             {"level3_id": "31210", "name": "Phường Thới Thuận",
              "splits": [{"new_id": "31207", "name": "Phường Thốt Nốt"}]},
         ]},
        {"level1_id": "77", "name": "Tỉnh Bà Rịa - Vũng Tàu", "splits": [{"new_id": "79"}],
         "level3s": [],
         "level2s": [{"level2_id": "755", "name": "Huyện Côn Đảo",
                      "splits": [{"new_id": "26732", "name": "Đặc khu Côn Đảo"}]}]},
    ], "stats": {}}
    path = folder / "splits.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_dvhcvn_format_detected(tmp_path: Path) -> None:
    table = load_correspondence(write_dvhcvn(tmp_path))

    assert table.kind == FORMAT_DVHCVN
    assert sv.address_2025(old_address("31318", province="93"), table) == (
        {"province_code": "92", "commune_code": "31321", "detail": "Số 1 Lê Lợi"}, None
    )


def test_dvhcvn_name_decides_over_code(tmp_path: Path) -> None:
    table = load_correspondence(write_dvhcvn(tmp_path))

    address, review = sv.address_2025(old_address("31210"), table)

    assert review is None
    assert address["commune_code"] == "31212"


def test_dvhcvn_province_and_district_units(tmp_path: Path) -> None:
    table = load_correspondence(write_dvhcvn(tmp_path))

    province_only, review = sv.address_2025(old_address(None, province="93", district=None), table)
    island, island_review = sv.address_2025(old_address(None, province="77", district="755"), table)

    assert (province_only, review) == ({"province_code": "92", "detail": "Số 1 Lê Lợi"}, None)
    assert island_review is None
    assert island == {"province_code": "79", "commune_code": "26732", "detail": "Số 1 Lê Lợi"}


# -- reading correspondence files ------------------------------------------------------------------


def test_csv_with_semicolons_bom_and_extra_column(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    text = "\ufeffold_commune_code;ten_xa_cu;new_province_code;new_commune_code\n31117;Cái Khế;92;31120\n"
    path.write_text(text, encoding="utf-8")

    table = load_correspondence(path)

    assert table.kind == FORMAT_CSV
    assert len(table) == 1
    assert sv.address_2025(old_address("31117"), table)[0]["commune_code"] == "31120"


def test_csv_without_header_rejected(tmp_path: Path) -> None:
    path = write_csv(tmp_path, ROWS, header="")

    with pytest.raises(ConfigurationError) as caught:
        load_correspondence(path)

    assert caught.value.key == "schema.correspondence_invalid"
    assert "old_commune_code,new_province_code,new_commune_code" in caught.value.problems[0]


def test_csv_problems_listed_with_lines(tmp_path: Path) -> None:
    rows = [("31117", "", "31120")] * (MAX_PROBLEMS + 5)

    with pytest.raises(ConfigurationError) as caught:
        load_correspondence(write_csv(tmp_path, rows))

    assert caught.value.problems[0] == "line 2: new_province_code empty"
    assert len(caught.value.problems) == MAX_PROBLEMS + 1
    assert caught.value.problems[-1] == "... and 5 more problems"


def test_broken_json_rejected(tmp_path: Path) -> None:
    path = tmp_path / "splits.json"
    path.write_text('{"data": [{"level1_id": "93", "splits": []}]}', encoding="utf-8")

    with pytest.raises(ConfigurationError) as caught:
        load_correspondence(path)

    assert caught.value.problems == ["data[1]: expected a non-empty 'splits' list"]


def test_missing_file_is_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_correspondence(tmp_path / "absent.csv")

    assert caught.value.key == "schema.correspondence_unreadable"
    assert "absent.csv" in caught.value.message("en")


def test_setting_resolved_against_home(tmp_path: Path, no_process_table: None) -> None:
    write_csv(tmp_path, ROWS)
    settings = load_settings(environ={"GATEWAY_HOME": str(tmp_path),
                                      "GATEWAY_CODELISTS__UNIT_CORRESPONDENCE": "units.csv"})

    sv.configure(settings)

    assert sv.correspondence_path(settings) == tmp_path.resolve() / "units.csv"
    table = sv.configured_correspondence()
    assert table is not None
    assert sv.upgrade("student", {**STUDENT_V1, "address": old_address("31117")}, 1).review is None


def test_empty_setting_means_no_table(tmp_path: Path, no_process_table: None) -> None:
    sv.configure(load_settings(environ={"GATEWAY_HOME": str(tmp_path)}))

    converted = sv.upgrade("student", {**STUDENT_V1, "address": old_address("31117")}, 1)

    assert sv.configured_correspondence() is None
    assert converted.review is not None
    assert converted.review.reason == sv.NO_CORRESPONDENCE


# -- 2 → 1, versions and errors --------------------------------------------------------------------


def test_v1_view_leaves_address_out() -> None:
    record = {**STUDENT_V1, "grade": "6",
              "address": {"province_code": "92", "commune_code": "31120", "detail": "Số 1"}}

    converted = sv.convert("student", record, 2, 1)

    assert converted.version == 1
    assert converted.review is None
    assert converted.record == {**STUDENT_V1, "grade": "6"}
    assert "address" in record
    assert get_registry().validator("student", 1).problems(converted.record) == []


def test_convert_up_matches_upgrade(table: UnitCorrespondence) -> None:
    record = {**STUDENT_V1, "address": old_address("31178")}

    assert sv.convert("student", record, 1, 2, units=table) == sv.upgrade("student", record, 1,
                                                                          units=table)


def test_current_record_passes_through() -> None:
    record = {**STUDENT_V1, "address": {"province_code": "92", "commune_code": "31120"}}

    converted = sv.upgrade("student", record, 2)

    assert converted == sv.Converted(record, 2, None)
    assert sv.upgrade("class", {"local_id": "c1"}, 1).version == 1


def test_version_errors() -> None:
    with pytest.raises(ConfigurationError) as ahead:
        sv.upgrade("student", STUDENT_V1, 3)
    with pytest.raises(ConfigurationError) as unknown:
        sv.convert("student", STUDENT_V1, 2, 7)
    with pytest.raises(ConfigurationError) as no_step:
        sv.convert("class", {"local_id": "c1"}, 2, 1)

    assert ahead.value.key == "schema.version_ahead"
    assert unknown.value.key == "schema.version_unknown"
    assert unknown.value.params["known"] == "1, 2"
    assert no_step.value.key == "schema.no_conversion"


def test_every_older_version_reaches_current() -> None:
    for entity in get_registry().entities():
        versions = get_registry().versions(entity)
        for version in versions:
            assert sv.can_convert(entity, version, versions[-1]), (entity, version)
            assert sv.can_convert(entity, versions[-1], version), (entity, version)


def test_v2_rejects_old_district() -> None:
    record = {**STUDENT_V1, "address": {"district_code": "916"}}

    problems = get_registry().validator("student", 2).problems(record)

    assert [p.key for p in problems] == ["validation.additional_property"]
    assert get_registry().validator("student", 1).problems(record) == []


# -- reviews and messages --------------------------------------------------------------------------


def test_review_json_round_trip(table: UnitCorrespondence) -> None:
    _, review = sv.address_2025(old_address("31178"), table)
    assert review is not None

    assert sv.Review.from_json(review.to_json()) == review
    assert sv.Review.from_json(None) is None


@pytest.mark.parametrize("lang", LANGUAGES)
def test_review_reasons_translated(lang: str) -> None:
    messages = catalogue(lang)
    for reason in sv.REVIEW_REASONS:
        title = reason.replace("schema.review.", "schema.review_title.")
        assert reason in messages, reason
        assert title in messages, title
        assert placeholders(messages[title]) == set(), title


def test_review_message_fills_every_placeholder(table: UnitCorrespondence, tmp_path: Path) -> None:
    wrong_code = load_correspondence(write_csv(tmp_path, [("31117", "92", "99999")], name="b.csv"))
    reviews = [
        sv.address_2025(old_address("31178"), table)[1],
        sv.address_2025(old_address("31999", district=None), table)[1],
        sv.address_2025(old_address("31117"), None)[1],
        sv.address_2025(old_address(None, province="93"), table)[1],
        sv.address_2025(old_address("31117"), wrong_code)[1],
    ]
    found = [review for review in reviews if review is not None]

    assert sorted(r.reason for r in found) == sorted(sv.REVIEW_REASONS)
    for review in found:
        for lang in LANGUAGES:
            assert "{" not in review.message(lang), review.message(lang)
    assert "(31120, 31168)" in found[0].message("en")
    assert "92/—/31999" in found[1].message("vi")


# -- the real table: Cần Thơ -----------------------------------------------------------------------

# Old provinces merged into Cần Thơ on 1 July 2025: Cần Thơ, Hậu Giang, Sóc Trăng.
CAN_THO_OLD_PROVINCES = ("92", "93", "94")


@pytest.fixture(scope="module")
def real_table(request: pytest.FixtureRequest) -> UnitCorrespondence:
    realdata: Path = request.getfixturevalue("realdata_dir")
    return load_correspondence((realdata / "vn-admin-units-2025" / "splits.json").resolve())


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("old", "province", "commune"),
    [
        ("31117", "92", "31120"),  # Phường Cái Khế (Ninh Kiều) → Phường Cái Khế
        ("31318", "92", "31321"),  # Phường I (Vị Thanh, Hậu Giang) → Phường Vị Thanh
        ("31498", "92", "31507"),  # Phường 5 (Sóc Trăng) → Phường Sóc Trăng
        # Phường Thới Thuận → Phường Thốt Nốt, which the file numbers 31207 and the code list 31212.
        ("31210", "92", "31212"),
    ],
    ids=["can-tho", "hau-giang", "soc-trang", "thot-not-renumbered"],
)
def test_real_can_tho_commune_maps_to_one(real_table: UnitCorrespondence, old: str, province: str,
                                          commune: str) -> None:
    converted = sv.upgrade("student", {**STUDENT_V1, "address": old_address(old)}, 1,
                           units=real_table)

    assert converted.review is None
    assert converted.record["address"] == {
        "province_code": province, "commune_code": commune, "detail": "Số 1 Lê Lợi"
    }


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("old", "candidates"),
    [
        ("31178", ["31120", "31168"]),  # Phường Bùi Hữu Nghĩa → Cái Khế or Bình Thủy
        ("31379", ["31378", "31582"]),  # Xã Phú Tân (Hậu Giang) → Phú Hữu or Thuận Hòa
        ("31588", ["31201", "31579"]),  # Xã Hưng Phú (Sóc Trăng) → Phường Hưng Phú or Xã Long Hưng
    ],
    ids=["can-tho", "hau-giang", "soc-trang"],
)
def test_real_can_tho_split_goes_to_review(real_table: UnitCorrespondence, old: str,
                                           candidates: list[str]) -> None:
    converted = sv.upgrade("student", {**STUDENT_V1, "address": old_address(old)}, 1,
                           units=real_table)

    assert converted.review is not None
    assert converted.review.reason == sv.COMMUNE_SPLIT
    assert converted.review.params["candidates"] == candidates
    assert converted.record["address"] == {"province_code": "92", "detail": "Số 1 Lê Lợi"}


@pytest.mark.realdata
def test_real_can_tho_outcomes(real_table: UnitCorrespondence, realdata_dir: Path) -> None:
    document = json.loads((realdata_dir / "vn-admin-units-2025" / "splits.json").read_text("utf-8"))
    outcomes: Counter[str] = Counter()
    for province in document["data"]:
        if province["level1_id"] not in CAN_THO_OLD_PROVINCES:
            continue
        for commune in province["level3s"]:
            address, review = sv.address_2025({"commune_code": commune["level3_id"]}, real_table)
            outcomes[review.reason if review else "mapped"] += 1
            if review is None:
                assert address["province_code"] == "92"

    assert outcomes == {"mapped": 257, sv.COMMUNE_SPLIT: 6}
