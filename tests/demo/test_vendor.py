"""The vendor-style exports of the demo city (XLSX and Windows-1258 CSV), read back from their files."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tracemalloc
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from gateway.codelists import get_codelist
from gateway.demo import (
    SIZES,
    Level,
    VendorFault,
    VendorSummary,
    city_pupils,
    write_oneroster,
    write_vendor_csv1258,
    write_vendor_xlsx,
)
from gateway.demo.city import LevelShape
from gateway.demo.vendor import (
    CSV_HEADER,
    OTHER_PROVINCE_COMMUNE_NAME,
    PROVINCE_CODE,
    SHEET_TITLE,
    UNKNOWN_COMMUNE_NAME,
    XLSX_HEADER,
    windows_1258_form,
)
from gateway.errors import ConfigurationError, PermanentError
from gateway.i18n import catalogue

Cells = list[list[object]]


def sheet_rows(path: Path) -> Cells:
    """Return every row of the pupil sheet as cell values, None for an empty cell."""
    workbook = load_workbook(path, read_only=True)
    try:
        assert workbook.sheetnames == [SHEET_TITLE]
        return [list(row) or [None] for row in workbook[SHEET_TITLE].iter_rows(values_only=True)]
    finally:
        workbook.close()


def pupil_rows(rows: Cells) -> list[dict[str, object]]:
    """Return the data rows of a sheet as dictionaries by header, skipping layout rows.

    A row read back from a write-only workbook ends at its last non-empty cell, so a pupil
    without an address is padded with empty cells.
    """
    header = list(XLSX_HEADER)
    return [dict(zip(header, [*row, *[None] * (len(header) - len(row))], strict=True))
            for row in rows if isinstance(row[0], int)]


def csv_rows(path: Path) -> list[dict[str, str]]:
    text = unicodedata.normalize("NFC", path.read_bytes().decode("cp1258"))
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


@pytest.fixture(scope="module")
def xlsx(tmp_path_factory: pytest.TempPathFactory) -> VendorSummary:
    return write_vendor_xlsx(tmp_path_factory.mktemp("xlsx"), "tiny")


@pytest.fixture(scope="module")
def csv1258(tmp_path_factory: pytest.TempPathFactory) -> VendorSummary:
    return write_vendor_csv1258(tmp_path_factory.mktemp("csv1258"), "tiny")


# --- Determinism and counts ---


def test_xlsx_same_seed_same_cells(tmp_path: Path) -> None:
    first = write_vendor_xlsx(tmp_path / "first", "tiny", seed=7)
    second = write_vendor_xlsx(tmp_path / "second", "tiny", seed=7)

    assert list(first.files) == list(second.files)
    for name in first.files:
        assert sheet_rows(first.package / name) == sheet_rows(second.package / name), name


def test_csv_same_seed_identical_bytes(tmp_path: Path) -> None:
    first = write_vendor_csv1258(tmp_path / "first", "small", seed=7)
    second = write_vendor_csv1258(tmp_path / "second", "small", seed=7)

    for name in first.files:
        assert (first.package / name).read_bytes() == (second.package / name).read_bytes(), name


def test_other_seed_other_pupils(tmp_path: Path) -> None:
    first = write_vendor_csv1258(tmp_path / "first", "tiny", seed=1)
    second = write_vendor_csv1258(tmp_path / "second", "tiny", seed=2)

    name = next(iter(first.files))
    assert (first.package / name).read_bytes() != (second.package / name).read_bytes()


def test_one_file_per_school(xlsx: VendorSummary, csv1258: VendorSummary) -> None:
    codes = [school.identifier for school in xlsx.schools]

    assert sorted(p.name for p in xlsx.package.iterdir()) == sorted(
        f"{code}-danh-sach-hoc-sinh.xlsx" for code in codes)
    assert sorted(p.name for p in csv1258.package.iterdir()) == sorted(
        f"{code}-danh-sach-hoc-sinh.csv" for code in codes)


def test_summary_counts_rows_per_file(xlsx: VendorSummary, csv1258: VendorSummary) -> None:
    for name, count in xlsx.files.items():
        assert len(pupil_rows(sheet_rows(xlsx.package / name))) == count, name
    for name, count in csv1258.files.items():
        assert len(csv_rows(csv1258.package / name)) == count, name
    assert sum(xlsx.files.values()) == xlsx.students
    assert sum(csv1258.files.values()) == csv1258.students


def test_same_pupils_as_oneroster(tmp_path: Path, csv1258: VendorSummary) -> None:
    package = write_oneroster(tmp_path / "oneroster", "tiny").package
    with (package / "users.csv").open(encoding="utf-8", newline="") as handle:
        students = {row["userMasterIdentifier"] for row in csv.DictReader(handle)
                    if row["identifier"].startswith("HS")}

    ministry_ids = {row["Mã định danh Bộ GD&ĐT"] for name in csv1258.files
                    for row in csv_rows(csv1258.package / name)}

    assert ministry_ids == students


def test_pupil_codes_and_personal_ids_unique() -> None:
    pupils = [pupil for _, school_pupils in city_pupils("small", 2025) for pupil in school_pupils]

    assert len({pupil.code for pupil in pupils}) == len(pupils)
    assert len({pupil.personal_id for pupil in pupils}) == len(pupils)
    assert all(len(p.personal_id) == 12 and p.personal_id.isdigit() for p in pupils)
    assert all(p.personal_id.startswith("0") for p in pupils)


def test_personal_id_encodes_sex_and_birth_year() -> None:
    for _, pupils in city_pupils("tiny", 2025):
        for pupil in pupils:
            year = pupil.person.birth_date.year
            sex_digit = "3" if pupil.person.sex == "female" else "2"
            assert pupil.personal_id[3:6] == f"{sex_digit}{year % 100:02d}", pupil.code


# --- Layout ---


def test_xlsx_layout_like_vnedu(xlsx: VendorSummary) -> None:
    school = xlsx.schools[0]
    rows = sheet_rows(xlsx.package / f"{school.identifier}-danh-sach-hoc-sinh.xlsx")
    texts = [[cell for cell in row if cell is not None] for row in rows]

    assert texts[0] == ["DANH SÁCH HỌC SINH NĂM HỌC 2025-2026"]
    assert texts[1] == [school.name]
    assert texts[2] == []
    assert texts[3] == ["Lớp: 1A1"]
    assert rows[4] == list(XLSX_HEADER)
    assert texts[-1] == ["Người lập biểu", "Hiệu trưởng"]
    assert texts[-2] == ["Cần Thơ, ngày 05 tháng 9 năm 2025"]


def test_xlsx_blocks_have_label_header_and_footer(xlsx: VendorSummary) -> None:
    for school in xlsx.schools:
        rows = sheet_rows(xlsx.package / f"{school.identifier}-danh-sach-hoc-sinh.xlsx")
        labels = [row[0] for row in rows if isinstance(row[0], str) and row[0].startswith("Lớp: ")]
        headers = [row for row in rows if row == list(XLSX_HEADER)]
        footers = [row[0] for row in rows if isinstance(row[0], str) and row[0].startswith("Tổng số")]

        assert len(labels) == len(headers) == len(footers) == school.classes, school.name
        assert sum(int(text.split()[2]) for text in footers) == school.students


def test_xlsx_numbers_pupils_within_each_class(xlsx: VendorSummary) -> None:
    name = next(iter(xlsx.files))
    numbers: list[list[int]] = []
    for row in sheet_rows(xlsx.package / name):
        if row == list(XLSX_HEADER):
            numbers.append([])
        elif isinstance(row[0], int):
            numbers[-1].append(row[0])

    assert all(block == list(range(1, len(block) + 1)) for block in numbers)


def test_csv_header_and_class_column(csv1258: VendorSummary) -> None:
    rows = csv_rows(csv1258.package / next(iter(csv1258.files)))

    assert list(rows[0]) == list(CSV_HEADER)
    assert rows[0]["Lớp"] == "1A1"
    assert {row["Giới tính"] for row in rows} == {"Nam", "Nữ"}
    assert [row["STT"] for row in rows] == [str(n) for n in range(1, len(rows) + 1)]


# --- Cells ---


def test_xlsx_has_date_cells_and_text_dates(tmp_path: Path) -> None:
    summary = write_vendor_xlsx(tmp_path, "small", fault_rate=0)
    cells = [row["Ngày sinh"] for name in summary.files
             for row in pupil_rows(sheet_rows(summary.package / name))]

    dates = [cell for cell in cells if isinstance(cell, datetime)]
    texts = [cell for cell in cells if isinstance(cell, str)]
    assert len(dates) + len(texts) == len(cells)
    assert len(texts) < len(dates)
    assert texts
    assert all(datetime.strptime(text, "%d/%m/%Y") for text in texts)


def test_xlsx_date_cells_have_date_format(xlsx: VendorSummary) -> None:
    workbook = load_workbook(xlsx.package / next(iter(xlsx.files)), read_only=True)
    try:
        birth_cells = [row[5] for row in workbook[SHEET_TITLE].iter_rows()
                       if row and isinstance(row[0].value, int)]
    finally:
        workbook.close()

    dated = [cell for cell in birth_cells if cell.is_date]
    assert dated
    assert {cell.number_format for cell in dated} == {"DD/MM/YYYY"}


def test_xlsx_identifiers_are_text(xlsx: VendorSummary) -> None:
    lost = {p.local_id for p in xlsx.planted if p.kind is VendorFault.PERSONAL_ID_ZERO_LOST}
    rows = [row for name in xlsx.files for row in pupil_rows(sheet_rows(xlsx.package / name))]

    for row in rows:
        assert isinstance(row["Mã học sinh"], str)
        assert isinstance(row["Mã định danh Bộ GD&ĐT"], str)
        assert isinstance(row["Mã trường"], str)
        if row["Mã học sinh"] not in lost:
            assert isinstance(row["Số định danh cá nhân"], str)
            assert str(row["Số định danh cá nhân"]).startswith("0")
    assert any(str(row["Mã học sinh"]).startswith("0") for row in rows)


def test_xlsx_marks_girls_in_nu_column(xlsx: VendorSummary) -> None:
    marks = {row["Nữ"] for name in xlsx.files
             for row in pupil_rows(sheet_rows(xlsx.package / name))}

    assert marks == {"x", None}


def test_ethnic_names_vary_in_spelling() -> None:
    spellings = {pupil.ethnic_name for _, pupils in city_pupils("small", 2025)
                 for pupil in pupils if pupil.ethnic_code == "05"}

    assert len(spellings) > 1
    assert spellings <= {"Khơ-me", "Khmer", "Khơ Me"}


def test_statuses_come_from_learner_status_list() -> None:
    names = {pupil.status_name for _, pupils in city_pupils("small", 2025) for pupil in pupils}

    assert "Đang học" in names
    assert names <= {"Đang học", "Chuyển đến", "Chuyển đi", "Lưu ban", "Nghỉ học xin học lại",
                     "Thôi học"}


# --- Addresses ---


def test_addresses_are_units_of_the_city() -> None:
    communes = get_codelist("commune-2025")
    provinces = get_codelist("province-2025")
    addresses = [pupil.address for _, pupils in city_pupils("small", 2025) for pupil in pupils
                 if pupil.address is not None]

    assert addresses
    for address in addresses:
        assert address.province_code == PROVINCE_CODE
        assert provinces.lookup(address.province_name) == PROVINCE_CODE
        assert communes.entry(address.commune_code).parent == PROVINCE_CODE
        assert communes.lookup_in(address.commune_name, PROVINCE_CODE) == address.commune_code
        assert address.detail


def test_addresses_vary_in_spelling_and_unit() -> None:
    addresses = [pupil.address for _, pupils in city_pupils("small", 2025) for pupil in pupils
                 if pupil.address is not None]

    assert {a.province_name for a in addresses} == {"Thành phố Cần Thơ", "Cần Thơ", "TP Cần Thơ"}
    assert any(a.commune_name.startswith("P. ") for a in addresses)
    assert any(a.commune_name.startswith("Xã ") for a in addresses)
    assert len({a.commune_code for a in addresses}) > 50
    assert any(a.detail.startswith("Ấp ") for a in addresses)
    assert any(a.detail[0].isdigit() for a in addresses)


def test_some_pupils_have_no_address() -> None:
    pupils = [pupil for _, school_pupils in city_pupils("small", 2025) for pupil in school_pupils]
    without = [pupil for pupil in pupils if pupil.address is None]

    assert 0 < len(without) < 0.15 * len(pupils)


def test_address_cells_in_both_shapes(xlsx: VendorSummary, csv1258: VendorSummary) -> None:
    pupils = {pupil.code: pupil for _, school in city_pupils("tiny", 2025) for pupil in school}
    faulty = {p.local_id for summary in (xlsx, csv1258) for p in summary.planted}
    xlsx_rows = [row for name in xlsx.files for row in pupil_rows(sheet_rows(xlsx.package / name))]
    csv_lines = [row for name in csv1258.files for row in csv_rows(csv1258.package / name)]

    for row, columns, empty in (
        *[(row, ("Địa chỉ", "Phường/Xã", "Tỉnh/Thành phố"), None) for row in xlsx_rows],
        *[(row, ("Số nhà, đường", "Xã/Phường", "Tỉnh/TP"), "") for row in csv_lines],
    ):
        code = row["Mã học sinh"]
        if code in faulty:
            continue
        address = pupils[str(code)].address
        cells = tuple(row[column] for column in columns)
        if address is None:
            assert cells == (empty, empty, empty), code
        else:
            assert cells == (address.detail, address.commune_name, address.province_name), code


def test_commune_fault_names_fail_their_lookup() -> None:
    communes = get_codelist("commune-2025")

    with pytest.raises(KeyError):
        communes.lookup(UNKNOWN_COMMUNE_NAME)
    with pytest.raises(KeyError):
        communes.lookup_in(OTHER_PROVINCE_COMMUNE_NAME, PROVINCE_CODE)
    assert communes.entry(communes.lookup(OTHER_PROVINCE_COMMUNE_NAME)).parent == "91"


# --- Encodings ---


def test_csv_really_windows_1258(csv1258: VendorSummary) -> None:
    data = (csv1258.package / next(iter(csv1258.files))).read_bytes()

    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert not data.startswith(b"\xef\xbb\xbf")
    # "Mã học" of the header: each tone mark is a combining byte after its letter.
    assert b"Ma\xde ho\xf2c sinh" in data.split(b"\r\n")[0]
    assert data.endswith(b"\r\n")


def test_csv_decodes_to_city_names(csv1258: VendorSummary) -> None:
    expected = {pupil.person.full_name for _, pupils in city_pupils("tiny", 2025) for pupil in pupils}

    names = {row["Họ và tên"] for name in csv1258.files for row in csv_rows(csv1258.package / name)}

    assert names == expected


@pytest.mark.parametrize("text", [
    "Nguyễn Thị Hoà", "Trần Văn Thủy", "ĐẶNG ỨC Ỷ Ỵ", "Lê Ngọc Ánh", "Phạm Ậu Ằng Ở Ữ",
    "Mã định danh Bộ GD&ĐT", "Số định danh cá nhân",
])
def test_windows_1258_form_round_trips(text: str) -> None:
    encoded = windows_1258_form(text).encode("cp1258")

    assert unicodedata.normalize("NFC", encoded.decode("cp1258")) == text


# --- Faults ---


def test_every_kind_planted_once_in_tiny(xlsx: VendorSummary, csv1258: VendorSummary) -> None:
    assert {kind for kind in VendorFault} == {p.kind for p in xlsx.planted}
    assert set(VendorFault) - {VendorFault.NAME_NFD} == {p.kind for p in csv1258.planted}
    assert sum(xlsx.faults.values()) + sum(xlsx.normalised.values()) == len(xlsx.planted)
    assert sum(csv1258.faults.values()) + sum(csv1258.normalised.values()) == len(csv1258.planted)


def test_summary_counts_each_kind(xlsx: VendorSummary, csv1258: VendorSummary) -> None:
    assert set(xlsx.faults) == {"birth_date_invalid", "birth_date_two_digit_year",
                                "ethnic_group_unknown", "local_id_duplicate", "commune_unknown",
                                "commune_other_province"}
    assert set(xlsx.normalised) == {"name_nfd", "personal_id_zero_lost"}
    assert set(csv1258.normalised) == {"personal_id_zero_lost"}
    for summary in (xlsx, csv1258):
        for kind, count in {**summary.faults, **summary.normalised}.items():
            assert count == sum(1 for p in summary.planted if p.kind == kind), kind


def test_zero_rate_plants_nothing(tmp_path: Path) -> None:
    summary = write_vendor_xlsx(tmp_path, "tiny", fault_rate=0)

    assert summary.planted == []
    assert not any(summary.faults.values())
    assert not any(summary.normalised.values())


def test_high_rate_plants_many(tmp_path: Path) -> None:
    summary = write_vendor_csv1258(tmp_path, "small", fault_rate=0.2)

    assert len(summary.planted) > 0.1 * summary.students


def _xlsx_cell(summary: VendorSummary, kind: VendorFault) -> tuple[object, dict[str, object]]:
    planted = next(p for p in summary.planted if p.kind is kind)
    by_header = pupil_rows([sheet_rows(summary.package / planted.file)[planted.row - 1]])[0]
    return by_header[planted.column], by_header


def test_xlsx_fault_cells_hold_faulty_values(xlsx: VendorSummary) -> None:
    invalid, _ = _xlsx_cell(xlsx, VendorFault.BIRTH_DATE_INVALID)
    two_digit, _ = _xlsx_cell(xlsx, VendorFault.BIRTH_DATE_TWO_DIGIT_YEAR)
    ethnic, _ = _xlsx_cell(xlsx, VendorFault.ETHNIC_GROUP_UNKNOWN)
    lost, _ = _xlsx_cell(xlsx, VendorFault.PERSONAL_ID_ZERO_LOST)
    unknown_commune, unknown_row = _xlsx_cell(xlsx, VendorFault.COMMUNE_UNKNOWN)
    other_commune, other_row = _xlsx_cell(xlsx, VendorFault.COMMUNE_OTHER_PROVINCE)
    family_middle, row = _xlsx_cell(xlsx, VendorFault.NAME_NFD)

    assert isinstance(invalid, str) and invalid.startswith("31/02/")
    assert isinstance(two_digit, str) and len(two_digit) == len("03/04/12")
    assert ethnic == "Tà Mun"
    assert isinstance(lost, int) and len(str(lost)) == 11
    assert unknown_commune == "Phường Xuân Khánh"
    assert other_commune == "Phường Long Xuyên"
    # The province is still the city's, so the commune is looked up there and not found.
    assert unknown_row["Tỉnh/Thành phố"] in {"Thành phố Cần Thơ", "Cần Thơ", "TP Cần Thơ"}
    assert other_row["Tỉnh/Thành phố"] in {"Thành phố Cần Thơ", "Cần Thơ", "TP Cần Thơ"}
    assert isinstance(family_middle, str)
    assert unicodedata.is_normalized("NFD", family_middle)
    assert not unicodedata.is_normalized("NFC", f"{family_middle} {row['Tên']}")


def test_duplicate_repeats_code_of_row_before(xlsx: VendorSummary) -> None:
    planted = next(p for p in xlsx.planted if p.kind is VendorFault.LOCAL_ID_DUPLICATE)
    rows = pupil_rows(sheet_rows(xlsx.package / planted.file))
    codes = [row["Mã học sinh"] for row in rows]

    assert codes.count(planted.local_id) == 2
    owner = next(row for row in rows if row["Mã học sinh"] == planted.local_id)
    assert owner["Mã định danh Bộ GD&ĐT"] != planted.ministry_id


def test_csv_fault_lines_hold_faulty_values(csv1258: VendorSummary) -> None:
    for planted in csv1258.planted:
        rows = csv_rows(csv1258.package / planted.file)
        value = rows[planted.row - 2][planted.column]
        if planted.kind is VendorFault.PERSONAL_ID_ZERO_LOST:
            assert len(value) == 11
            assert not value.startswith("0")
        elif planted.kind is VendorFault.ETHNIC_GROUP_UNKNOWN:
            assert value == "Tà Mun"
        elif planted.kind is VendorFault.LOCAL_ID_DUPLICATE:
            assert value == planted.local_id
        elif planted.kind is VendorFault.COMMUNE_UNKNOWN:
            assert value == "Phường Xuân Khánh"
        elif planted.kind is VendorFault.COMMUNE_OTHER_PROVINCE:
            assert value == "Phường Long Xuyên"
        else:
            assert value.startswith("31/02/") or len(value) == len("03/04/12"), value


def test_every_fault_kind_has_a_label() -> None:
    for lang in ("vi", "en"):
        for kind in VendorFault:
            assert f"demo.fault.{kind.value}" in catalogue(lang), (lang, kind)


# --- Files and errors ---


def test_old_exports_removed(tmp_path: Path) -> None:
    write_vendor_csv1258(tmp_path, "small")
    summary = write_vendor_csv1258(tmp_path, "tiny")

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(summary.files)


def test_unknown_size_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as error:
        write_vendor_xlsx(tmp_path, "huge")

    assert error.value.key == "demo.size_unknown"


def test_rate_outside_range_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as error:
        write_vendor_csv1258(tmp_path, "tiny", fault_rate=1.5)

    assert error.value.key == "demo.fault_rate_invalid"


def test_unwritable_folder_is_permanent_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    with pytest.raises(PermanentError) as error:
        write_vendor_xlsx(blocker / "xlsx", "tiny")

    assert error.value.key == "demo.write_failed"


def test_progress_reports_each_school(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []

    write_vendor_xlsx(tmp_path, "tiny", progress=lambda done, total: calls.append((done, total)))

    assert calls == [(1, 2), (2, 2)]


def test_summary_as_dict_names_shape(xlsx: VendorSummary) -> None:
    document = xlsx.as_dict()

    assert document["shape"] == "xlsx"
    assert document["totals"]["students"] == xlsx.students
    assert document["files"] == xlsx.files


# --- Command ---


def run_gateway(home: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environment["GATEWAY_HOME"] = str(home)
    result = subprocess.run([sys.executable, "-m", "gateway.cli.main", *args], capture_output=True,
                            text=True, env=environment, timeout=120, check=False)
    assert result.returncode == expect, result.stdout + result.stderr
    return result


def test_command_writes_each_shape(tmp_path: Path) -> None:
    out = tmp_path / "demo"

    result = run_gateway(tmp_path, "--json", "demo-data", "--size", "tiny", "--out", str(out),
                         "--shapes", "xlsx,csv1258")

    document = json.loads(result.stdout)
    assert list(document) == ["xlsx", "csv1258"]
    assert sorted(p.name for p in out.iterdir()) == ["csv1258", "xlsx"]
    assert document["xlsx"]["faults"]["local_id_duplicate"] == 1
    assert document["csv1258"]["normalised"] == {"personal_id_zero_lost": 1}
    assert document["csv1258"]["totals"]["students"] == document["xlsx"]["totals"]["students"]


def test_command_default_writes_oneroster_only(tmp_path: Path) -> None:
    out = tmp_path / "demo"

    text = run_gateway(tmp_path, "--lang", "en", "demo-data", "--size", "tiny", "--out",
                       str(out)).stdout

    assert [p.name for p in out.iterdir()] == ["oneroster"]
    assert "users.csv:" in text


def test_command_prints_counts_and_faults(tmp_path: Path) -> None:
    text = run_gateway(tmp_path, "--lang", "en", "demo-data", "--size", "tiny", "--out",
                       str(tmp_path / "demo"), "--shapes", "csv1258").stdout

    pupils = sum(len(school_pupils) for _, school_pupils in city_pupils("tiny", 2025))
    assert f"Files: 2, schools: 2, pupils: {pupils}" in text
    assert "duplicate pupil code (Mã học sinh): 1" in text


def test_command_rejects_unknown_shape(tmp_path: Path) -> None:
    result = run_gateway(tmp_path, "--lang", "en", "demo-data", "--out", str(tmp_path / "demo"),
                         "--shapes", "xlsx,xls", expect=1)

    assert 'Invalid demo data shape "xlsx,xls"' in result.stderr
    assert not (tmp_path / "demo").exists()


# --- Memory ---


def _traced_peak(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        run()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_xlsx_memory_follows_school_not_city(tmp_path: Path) -> None:
    """Peak memory stays flat when the city has four times as many pupils.

    Every school has the same fixed shape (three grades of four classes of 40
    pupils), so a writer that keeps one school and one workbook at a time peaks
    at the same height for one school and for four. A warm-up run loads Faker
    and openpyxl first. The 1.5 bound leaves room for the summary's entries.
    """
    shape = LevelShape((4, 4), (40, 40), 1.5, 10)
    one = replace(SIZES["medium"], name="one", schools={Level.UPPER_SECONDARY: 1},
                  shapes={Level.UPPER_SECONDARY: shape})
    four = replace(one, name="four", schools={Level.UPPER_SECONDARY: 4})
    write_vendor_xlsx(tmp_path / "warm-up", "tiny")

    peak_one = _traced_peak(lambda: write_vendor_xlsx(tmp_path / "one", one, fault_rate=0))
    peak_four = _traced_peak(lambda: write_vendor_xlsx(tmp_path / "four", four, fault_rate=0))

    assert peak_four <= 1.5 * peak_one, (peak_one, peak_four)
