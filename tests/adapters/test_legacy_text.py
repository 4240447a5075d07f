"""TCVN3 (.VnTime fonts) and VNI text: the byte tables, detection in files and in cells, lost capitals."""

from __future__ import annotations

import codecs
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.base import ReadHints
from adapters.common.encoding import detect_encoding
from gateway.demo.vendor import windows_1258_form
from gateway.legacy_text import (
    TCVN3_CONTROL_LETTERS,
    LegacyTextCheck,
    case_lost,
    convert_row,
    from_tcvn3_text,
    from_vni_text,
    legacy_bytes_encoding,
    to_vni_text,
)
from gateway.text import match_key
from tests.adapters.test_table_adapter import read, write_csv, write_xlsx

NAMES = ["Nguyễn Văn An", "Trần Thị Bích Ngọc", "Lê Hoàng Việt", "Phạm Thu Hương", "Đỗ Minh Đức",
         "Hoàng Thị Thuỷ", "Bùi Quang Huy"]
SENTENCE = ", ".join(NAMES)


def tcvn3_as_ansi(text: str) -> str:
    """Return ``text`` as a cell typed in a .VnTime font shows in Unicode software."""
    return text.encode("tcvn3").decode("cp1252")


# The byte table ----------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("iconv") is None, reason="needs GNU iconv to compare the table")
def test_codec_matches_gnu_iconv_table():
    for byte in range(0x80, 0x100):
        expected = subprocess.run(["iconv", "-f", "TCVN5712-1", "-t", "UTF-8"], input=bytes([byte]),
                                  capture_output=True, check=True).stdout.decode()

        assert bytes([byte]).decode("tcvn3") == expected, hex(byte)


@pytest.mark.skipif(shutil.which("iconv") is None, reason="needs GNU iconv to compare the table")
def test_control_letters_match_gnu_iconv_table():
    letters = set()
    for byte in range(0x20):
        decoded = subprocess.run(["iconv", "-f", "TCVN5712-1", "-t", "UTF-8"], input=bytes([byte]),
                                 capture_output=True, check=True).stdout.decode()
        if decoded.isalpha():
            letters.add(byte)

    assert letters == TCVN3_CONTROL_LETTERS


def test_codec_round_trip_of_names():
    assert SENTENCE.encode("tcvn3").decode("tcvn3") == SENTENCE


def test_known_ansi_forms_converted():
    assert from_tcvn3_text("CÇn Th¬") == "Cần Thơ"
    assert from_tcvn3_text("B¶o Th¾ng") == "Bảo Thắng"
    # 0xAD (ư) shows as the soft hyphen, which most programs do not draw.
    assert from_tcvn3_text("M\u00adêng Kh\u00ad¬ng") == "Mường Khương"


def test_unicode_and_ascii_kept_by_conversion():
    assert from_tcvn3_text("Nguyễn Văn An 0123") == "Nguyễn Văn An 0123"
    assert from_tcvn3_text("Xin chào – “Hà Nội”").startswith("Xin ch")


# Deciding ----------------------------------------------------------------------------------


def test_tcvn3_bytes_told_from_windows_1258():
    assert legacy_bytes_encoding(SENTENCE.encode("tcvn3"), "cp1258") == "tcvn3"
    assert legacy_bytes_encoding(windows_1258_form(SENTENCE).encode("cp1258"), "cp1258") is None


def test_few_words_decide_nothing():
    assert legacy_bytes_encoding("Hà An".encode("tcvn3"), "cp1258") is None


def test_cell_check_tells_tcvn3_from_unicode():
    legacy, unicode = LegacyTextCheck(), LegacyTextCheck()
    legacy.add([tcvn3_as_ansi(name) for name in NAMES])
    unicode.add(NAMES)

    assert legacy.encoding() == "tcvn3"
    assert unicode.encoding() is None


def test_cell_check_keeps_latin_names():
    check = LegacyTextCheck()
    check.add(["José Müller", "François Gérard", "Zoë Brontë", "André Ñúñez", "Sørensen Åsa"])

    assert check.encoding() is None


def test_case_lost_found_in_capitals_word():
    assert case_lost(from_tcvn3_text("NGUYÔN V¡N AN"))
    assert case_lost("Võ MINH đứC")
    assert not case_lost("Đức Hòa, xã Tân Long")
    assert not case_lost("NGUYỄN VĂN AN")
    assert not case_lost("Nguyễn Văn An")


@pytest.mark.parametrize("text", ["KDăm", "HLốp", "KSơr", "HLinh", "KSor", "kDăm", "KsorĐơk", "KSORĐơk",
                                  "nayBlơ", "Y Ngông Niê KDăm", "H Linh KSơr"])
def test_case_lost_skips_highlands_names(text: str):
    assert not case_lost(text)


@pytest.mark.parametrize("text", ["THị", "HOà", "CHí MINH", "KDăM", "NGUYễn", "ĐứC"])
def test_case_lost_counts_capitals_after_prefix(text: str):
    assert case_lost(text)


@pytest.mark.parametrize("text", ["ỷ Lan", "Nguyễn ý Nhi", "ỷ LAN", "Lê Thị ỷ"])
def test_case_lost_one_letter_among_names(text: str):
    assert case_lost(text)


@pytest.mark.parametrize("text", ["ỷ", "ý kiến", "Có ý kiến", "Sinh ở Hà Nội", "6A1 ỷ",
                                  "Ý Nhi", "Y Moan"])
def test_case_lost_one_letter_without_context(text: str):
    assert not case_lost(text)


def test_detect_encoding_chooses_tcvn3(tmp_path: Path):
    path = tmp_path / "ds.csv"
    path.write_bytes(("Họ và tên\r\n" + "\r\n".join(NAMES)).encode("tcvn3"))

    with path.open("rb") as handle:
        detected = detect_encoding(handle)

    assert (detected.encoding, detected.reason) == ("tcvn3", "tcvn3_pattern")


def test_detect_encoding_keeps_windows_1258(tmp_path: Path):
    path = tmp_path / "ds.csv"
    path.write_bytes(windows_1258_form("Họ và tên\r\n" + "\r\n".join(NAMES)).encode("cp1258"))

    with path.open("rb") as handle:
        detected = detect_encoding(handle)

    assert (detected.encoding, detected.reason) == ("cp1258", "fallback")


# The table adapter ---------------------------------------------------------------------------


def student_lines(names: list[str]) -> list[str]:
    lines = ["STT,Mã học sinh,Họ và tên,Ngày sinh,Giới tính"]
    for number, name in enumerate(names, 1):
        gender = "Nữ" if number % 2 else "Nam"
        lines.append(f"{number},HS{number:03d},{name},0{number}/09/2012,{gender}")
    return lines


def test_tcvn3_csv_file_read_as_unicode(tmp_path: Path):
    path = tmp_path / "ds.csv"
    path.write_bytes("\r\n".join(student_lines(NAMES)).encode("tcvn3"))

    result = read(path)

    assert [row.cells[2] for row in result.rows[0]] == NAMES
    assert result.rows[0][0].cells[4] == "Nữ"
    assert ("warning", "table.encoding_tcvn3") in result.notices
    assert result.streams[0].properties["encoding"] == "tcvn3"


def test_vntime_text_in_utf8_csv_converted(tmp_path: Path):
    lines = [tcvn3_as_ansi(line) for line in student_lines(NAMES)]
    path = write_csv(tmp_path / "ds.csv", lines)

    result = read(path)

    assert result.streams[0].headers[:5] == ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh",
                                             "Giới tính"]
    assert [row.cells[2] for row in result.rows[0]] == NAMES
    assert ("warning", "table.text_tcvn3") in result.notices
    assert result.streams[0].properties["text_encoding"] == "tcvn3"


def test_vntime_text_in_xlsx_converted(tmp_path: Path):
    rows = [line.split(",") for line in student_lines(NAMES)]
    path = write_xlsx(tmp_path / "ds.xlsx", {"6A1": [[tcvn3_as_ansi(cell) for cell in row]
                                                      for row in rows]})

    result = read(path)

    assert [row.cells[2] for row in result.rows[0]] == NAMES
    assert ("warning", "table.text_tcvn3") in result.notices


def test_unicode_xlsx_not_converted(tmp_path: Path):
    rows = [line.split(",") for line in student_lines(NAMES)]
    path = write_xlsx(tmp_path / "ds.xlsx", {"6A1": rows})

    result = read(path)

    assert [row.cells[2] for row in result.rows[0]] == NAMES
    assert not [key for _, key in result.notices if "tcvn3" in key]
    assert "text_encoding" not in result.streams[0].properties


def test_capitals_font_rows_flagged_not_guessed(tmp_path: Path):
    names = [*NAMES, "NGUYÔN V¡N AN".encode("cp1252").decode("tcvn3")]
    path = tmp_path / "ds.csv"
    path.write_bytes("\r\n".join(student_lines(names)).encode("tcvn3"))

    result = read(path)

    assert result.rows[0][-1].cells[2] == "NGUYễN VĂN AN"
    assert ("warning", "table.tcvn3_case_lost") in result.notices


def test_one_letter_capital_lost_flagged_not_guessed(tmp_path: Path):
    # "Ỷ" typed in .VnTimeH, "Lan" in .VnTime: the small code of "ỷ" drawn as a capital.
    path = tmp_path / "ds.csv"
    path.write_bytes("\r\n".join(student_lines([*NAMES, "ỷ Lan"])).encode("tcvn3"))

    result = read(path)

    assert result.rows[0][-1].cells[2] == "ỷ Lan"
    assert ("warning", "table.tcvn3_case_lost") in result.notices


def test_highlands_names_not_flagged(tmp_path: Path):
    names = [*NAMES, "Y Ngông Niê KDăm", "H Linh KSơr", "Nay HLốp", "Ksor HNhí"]
    path = tmp_path / "ds.csv"
    path.write_bytes("\r\n".join(student_lines(names)).encode("tcvn3"))

    result = read(path)

    assert [row.cells[2] for row in result.rows[0]] == names
    assert ("warning", "table.text_tcvn3") not in result.notices
    assert ("warning", "table.encoding_tcvn3") in result.notices
    assert ("warning", "table.tcvn3_case_lost") not in result.notices


def unicode_header_workbook(path: Path, typed: Callable[[str], str]) -> Path:
    """Write a workbook with a Unicode header over pupil rows typed in a legacy font."""
    lines = student_lines(NAMES)
    rows = [lines[0].split(","), *([typed(cell) for cell in line.split(",")]
                                   for line in lines[1:])]
    return write_xlsx(path, {"6A1": rows})


def test_unicode_header_kept_over_vntime_rows(tmp_path: Path):
    path = unicode_header_workbook(tmp_path / "ds.xlsx", tcvn3_as_ansi)

    result = read(path)

    assert result.streams[0].headers[2] == "Họ và tên"
    assert [row.cells[2] for row in result.rows[0]] == NAMES


def test_convert_row_keeps_unicode_header():
    header = ["STT", "Mã HS", "Họ đệm", "Tên", "Ghi chú"]

    assert convert_row(header) == header


def test_convert_row_converts_vntime_row():
    row = ["1", "HS001", tcvn3_as_ansi("Nguyễn Văn"), tcvn3_as_ansi("Tâm"), tcvn3_as_ansi("Hà Nội")]

    assert convert_row(row) == ["1", "HS001", "Nguyễn Văn", "Tâm", "Hà Nội"]


def test_convert_row_keeps_unicode_rows_and_cells():
    unicode_row = ["6", "HS006", "Lê Chí", "Tâm", "Xã Tân Long", "Tày"]
    mixed_row = [tcvn3_as_ansi("Lê Văn"), "Hoàng Mai Bảo Duyên"]

    assert convert_row(unicode_row) == unicode_row
    assert convert_row(mixed_row) == ["Lê Văn", "Hoàng Mai Bảo Duyên"]


def test_windows_1252_letters_below_a1_converted():
    # 0x83 is the VN1 capital "Á", which Windows-1252 shows as "ƒ".
    assert from_tcvn3_text("ƒnh") == "Ánh"
    assert from_tcvn3_text("Hà – “Nội”")[1:] == from_tcvn3_text("à") + " – “Nội”"


def test_short_sample_decides_when_every_word_impossible(tmp_path: Path):
    one_name = "Dương Hoàng Lan".encode("tcvn3")

    assert legacy_bytes_encoding(one_name, "cp1258") == "tcvn3"
    assert legacy_bytes_encoding(windows_1258_form("Dương Hoàng Lan").encode("cp1258"), "cp1258") is None
    assert legacy_bytes_encoding("José Müller".encode("cp1258"), "cp1258") is None


def test_split_name_unicode_header_over_vntime_rows(tmp_path: Path):
    header = ["STT", "Mã HS", "Họ đệm", "Tên", "Ngày sinh", "Ghi chú"]
    rows = [header]
    for number, name in enumerate(NAMES, 1):
        family, given_name = name.rsplit(" ", 1)
        rows.append([str(number), f"HS{number:03d}", tcvn3_as_ansi(family), tcvn3_as_ansi(given_name),
                     f"0{number}/09/2012", tcvn3_as_ansi("Chuyển đến")])
    path = write_xlsx(tmp_path / "ds.xlsx", {"6A1": rows})
    hints = ReadHints(columns=frozenset(match_key(c) for c in header),
                      required=frozenset({match_key("Mã HS")}))

    result = read(path, hints)

    assert result.streams[0].headers[:6] == header
    assert [f"{row.cells[2]} {row.cells[3]}" for row in result.rows[0]] == NAMES
    assert result.rows[0][0].cells[5] == "Chuyển đến"


def test_capitals_title_not_flagged(tmp_path: Path):
    # Typed in .VnTimeH: the small codes of "á" and "ọ" inside a word in capitals.
    title = tcvn3_as_ansi("DANH SáCH HọC SINH")
    lines = [title, *[tcvn3_as_ansi(line) for line in student_lines(NAMES)]]
    path = write_csv(tmp_path / "ds.csv", lines)

    result = read(path)

    assert ("warning", "table.text_tcvn3") in result.notices
    assert ("warning", "table.tcvn3_case_lost") not in result.notices


def test_capitals_font_cells_in_xlsx_flagged(tmp_path: Path):
    lines = student_lines([*NAMES, "NGUYỄN VĂN AN"])
    rows = [[tcvn3_as_ansi(cell) for cell in line.split(",")] for line in lines]
    rows[-1][2] = "NGUYÔN V¡N AN"  # typed in .VnTimeH: the small codes drawn as capitals
    path = write_xlsx(tmp_path / "ds.xlsx", {"6A1": rows})

    result = read(path)

    assert result.rows[0][-1].cells[2] == "NGUYễN VĂN AN"
    assert ("warning", "table.tcvn3_case_lost") in result.notices


# VNI-Windows -------------------------------------------------------------------------------

# Text typed in a VNI font, as Windows-1252 shows it, beside the Unicode it stands for.
VNI_FORMS = {
    "Tröôøng Tieåu hoïc Vieät Nam": "Trường Tiểu học Việt Nam",
    "Nguyeãn Thò Thu Höông": "Nguyễn Thị Thu Hương",
    "Ñaø Naüng, Caàn Thô": "Đà Nẵng, Cần Thơ",
    "Thaønh phoá Hoà Chí Minh": "Thành phố Hồ Chí Minh",
    "NGUYEÃN VAÊN ÑÖÙC": "NGUYỄN VĂN ĐỨC",
    "Ñaék Laék, Kyø Ñaøi, Mó Ly": "Đắk Lắk, Kỳ Đài, Mĩ Ly",
    "khuyûu tay, Nöõ, yù kieán, ngöôøi": "khuỷu tay, Nữ, ý kiến, người",
}
VIETNAMESE_LETTERS = ("aáàảãạăắằẳẵặâấầẩẫậeéèẻẽẹêếềểễệiíìỉĩịoóòỏõọôốồổỗộơớờởỡợ"
                      "uúùủũụưứừửữựyýỳỷỹỵđ")


def test_known_vni_forms_converted():
    for typed, unicode in VNI_FORMS.items():
        assert from_vni_text(typed) == unicode
        assert to_vni_text(unicode) == typed


def test_vni_round_trips_every_letter():
    for letter in VIETNAMESE_LETTERS + VIETNAMESE_LETTERS.upper():
        assert from_vni_text(to_vni_text(letter)) == letter, letter
        assert letter.encode("vni").decode("vni") == letter, letter


def test_vni_decoder_mark_across_chunks():
    data = "Nguyễn Văn Hữu".encode("vni")
    decoder = codecs.getincrementaldecoder("vni")()

    text = "".join(decoder.decode(data[i:i + 1]) for i in range(len(data))) + decoder.decode(b"", True)

    assert text == "Nguyễn Văn Hữu"


def test_vni_bytes_told_from_tcvn3_and_windows_1258():
    assert legacy_bytes_encoding(SENTENCE.encode("vni"), "cp1258") == "vni"
    assert legacy_bytes_encoding(SENTENCE.encode("tcvn3"), "cp1258") == "tcvn3"
    assert legacy_bytes_encoding(windows_1258_form(SENTENCE).encode("cp1258"), "cp1258") is None


def test_cell_check_tells_vni():
    check = LegacyTextCheck()
    check.add([to_vni_text(name) for name in NAMES])

    assert check.encoding() == "vni"


def test_vni_convert_keeps_unicode_row():
    # "Hoà" and "Toán" are VNI forms too ("Hồ", "Tốn"): a row typed in Unicode keeps them.
    unicode_row = ["7", "HS007", "Hoà", "Toán", "Tô Hiến Thành"]
    vni_row = ["8", "HS008", to_vni_text("Lê Văn Hồ"), to_vni_text("Nữ")]

    assert convert_row(unicode_row, "vni") == unicode_row
    assert convert_row(vni_row, "vni") == ["8", "HS008", "Lê Văn Hồ", "Nữ"]


def test_detect_encoding_chooses_vni(tmp_path: Path):
    path = tmp_path / "ds.csv"
    path.write_bytes(("Họ và tên\r\n" + "\r\n".join(NAMES)).encode("vni"))

    with path.open("rb") as handle:
        detected = detect_encoding(handle)

    assert (detected.encoding, detected.reason) == ("vni", "vni_pattern")


def test_vni_csv_file_read_as_unicode(tmp_path: Path):
    path = tmp_path / "ds.csv"
    path.write_bytes("\r\n".join(student_lines(NAMES)).encode("vni"))

    result = read(path)

    assert result.streams[0].headers[:5] == ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh",
                                             "Giới tính"]
    assert [row.cells[2] for row in result.rows[0]] == NAMES
    assert result.rows[0][0].cells[4] == "Nữ"
    assert ("warning", "table.encoding_vni") in result.notices
    assert result.streams[0].properties["encoding"] == "vni"


def test_vni_html_xls_read_as_unicode(tmp_path: Path):
    cells = "".join(f"<tr><td>{n}</td><td>HS{n:03d}</td><td>{name}</td></tr>"
                    for n, name in enumerate(NAMES, 1))
    page = f"<html><body><table><tr><td>STT</td><td>Mã HS</td><td>Họ và tên</td></tr>{cells}</table>"
    path = tmp_path / "ds.xls"
    path.write_bytes(page.encode("vni"))

    result = read(path)

    assert [row.cells[2] for row in result.rows[0]] == NAMES
    assert ("warning", "table.encoding_vni") in result.notices


def test_vni_xlsx_under_unicode_header(tmp_path: Path):
    path = unicode_header_workbook(tmp_path / "ds.xlsx", to_vni_text)

    result = read(path)

    assert result.streams[0].headers[2] == "Họ và tên"
    assert [row.cells[2] for row in result.rows[0]] == NAMES
    assert result.rows[0][0].cells[4] == "Nữ"
    assert ("warning", "table.text_vni") in result.notices
    assert ("warning", "table.tcvn3_case_lost") not in result.notices
    assert result.streams[0].properties["text_encoding"] == "vni"


def test_unicode_xlsx_not_read_as_vni(tmp_path: Path):
    names = [*NAMES, "Tô Thị Hoà", "Lò Văn Toán", "Hà Thị Ngà"]
    rows = [line.split(",") for line in student_lines(names)]
    path = write_xlsx(tmp_path / "ds.xlsx", {"6A1": rows})

    result = read(path)

    assert [row.cells[2] for row in result.rows[0]] == names
    assert not [key for _, key in result.notices if "vni" in key]
