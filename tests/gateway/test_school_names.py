"""School names compared as exports and people write them: types folded, nothing else guessed."""

from __future__ import annotations

import unicodedata

import pytest

from gateway.school_names import SchoolName, parse_school_name, same_school


@pytest.mark.parametrize(("first", "second"), [
    ("TRƯỜNG TH AN BÌNH", "Trường Tiểu học An Bình"),
    ("TRƯỜNG TH AN BÌNH", "TH An Bình"),
    ("Trường THCS Nguyễn Du", "trung học cơ sở nguyễn du"),
    ("THPT Lý Tự Trọng", "Trường Trung học phổ thông  Lý Tự Trọng"),
    ("Trường MN Hoa Sen", "Mầm non Hoa Sen"),
    ("Trường TH&THCS An Bình", "Trường Tiểu học và Trung học cơ sở An Bình"),
    ("Trường TH-THCS An Bình", "TH và THCS An Bình"),
    ("Trường PTDTNT Vĩnh Châu", "Phổ thông dân tộc nội trú Vĩnh Châu"),
    ("Trường TH Hoà Bình", "Trường TH Hòa Bình"),
    (unicodedata.normalize("NFD", "Trường Tiểu học An Bình"), "TRƯỜNG TH AN BÌNH"),
], ids=["abbreviated", "without-school-word", "lower-case", "spaces", "preschool", "two-types",
        "dash-joined", "boarding", "tone-placement", "nfd"])
def test_same_school_names_match(first: str, second: str) -> None:
    assert same_school(first, second)


@pytest.mark.parametrize(("first", "second"), [
    ("TRƯỜNG TH AN BÌNH", "Trường THCS An Bình"),
    ("TRƯỜNG TH AN BÌNH", "An Bình"),
    ("Trường Mầm non Hoa Sen", "Trường Mẫu giáo Hoa Sen"),
    ("Trường TH&THCS An Bình", "Trường TH An Bình"),
    ("Trường THPT Chuyên Lý Tự Trọng", "Trường THPT Lý Tự Trọng"),
    ("Trường TH An Bình", "Trường TH An Binh"),
    ("Trường TH An Bình", "Trường TH An Bình 2"),
    ("Trường TH An Bình", "Trường TH An Bình A"),
], ids=["other-level", "type-missing", "preschool-kinds", "fewer-types", "specialised",
        "accent-lost", "numbered", "lettered"])
def test_different_school_names_differ(first: str, second: str) -> None:
    assert not same_school(first, second)


def test_school_name_parts() -> None:
    assert parse_school_name("Trường PTDTNT THCS Huyện Trần Đề") == SchoolName(
        ("ethnic_boarding", "lower_secondary"), parse_school_name("Huyện Trần Đề").name)
    assert parse_school_name("Trường Tiểu học").name == ""
    assert parse_school_name("Trường Phổ thông Năng khiếu").types == ("general",)
