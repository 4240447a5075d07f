"""Formula text in identifier and name cells: rejected before the steps, with its column."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import MappingError, Place
from gateway.mapping.compiler import CompiledMapping
from gateway.mapping.formulas import is_formula_text
from gateway.mapping.spec import MappingSpec, read_spec, shipped_mapping_files

PLACE = Place(file="ds.csv", row=2)


@pytest.mark.parametrize(
    ("value", "identifier", "expected"),
    [
        ("=A1&B1", True, True),
        ('=HYPERLINK("http://x";"Bấm")', False, True),
        ("  =A1", True, True),
        ("+A1+B1", True, True),
        ("@SUM(A1:A3)", True, True),
        ("-2+3+cmd|' /C calc'!A0", True, True),
        ("-1", True, False),
        ("+84", True, False),
        ("@abc", True, False),
        ("HS-001", True, False),
        ("0620010001", True, False),
        ("+Nguyễn", False, True),
        ("-Lan", False, True),
        ("@Lan", False, True),
        ("Nguyễn Thị Lan", False, False),
        ("Lan-Anh", False, False),
    ],
)
def test_formula_text_detected(value: str, identifier: bool, expected: bool) -> None:
    assert is_formula_text(value, identifier) is expected


def school_export_student() -> MappingSpec:
    (path,) = [p for p in shipped_mapping_files()
               if p.parts[-3:] == ("school-export", "student", "v7.yaml")]
    return read_spec(path)


HEADERS = ["STT", "Mã trường", "Lớp", "Mã học sinh", "Họ và tên", "Ngày sinh", "Giới tính"]


def map_cells(cells: list[str]) -> dict[str, Any]:
    return CompiledMapping(school_export_student(), HEADERS).map(cells, PLACE).record


def test_formula_local_id_rejected() -> None:
    with pytest.raises(MappingError) as caught:
        map_cells(["1", "092502", "1A", "=A1&B1", "Nguyễn Văn Một", "01/01/2018", "Nam"])

    assert caught.value.key == "mapping.formula_text"
    assert caught.value.place.column == "Mã học sinh"
    assert caught.value.place.field == "local_id"
    assert "Mã học sinh" in caught.value.message("vi")
    assert "Excel" in caught.value.message("en")


def test_formula_name_rejected_with_column() -> None:
    # "Họ và tên" reaches full_name through private fields and a join.
    with pytest.raises(MappingError) as caught:
        map_cells(["2", "092502", "1A", "0925020002", '=HYPERLINK("http://x";"Bấm")',
                   "01/01/2018", "Nam"])

    assert caught.value.key == "mapping.formula_text"
    assert caught.value.place.column == "Họ và tên"
    assert "Họ và tên" in caught.value.message("en")


def test_plain_row_still_maps() -> None:
    record = map_cells(["3", "092502", "1A", "0925020003", "Nguyễn Văn Ba", "01/01/2018", "Nam"])

    assert record["local_id"] == "0925020003"
    assert record["full_name"] == "Nguyễn Văn Ba"
