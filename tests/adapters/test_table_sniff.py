"""Telling binary files from text before the table adapter reads them as CSV."""

from __future__ import annotations

import gzip
import io
import random
import unicodedata
import zipfile
from pathlib import Path

import pytest
import xlwt

from adapters.base import Limits
from adapters.table.adapter import TableAdapter
from adapters.table.sniff import sniff_kind
from gateway.demo.vendor import windows_1258_form, write_vendor_csv1258
from gateway.legacy_text import TCVN3_CONTROL_LETTERS
from tests.adapters.test_table_adapter import STUDENT_COLUMNS, read, write_csv

# Capitals that TCVN 5712:1993 (VN1) puts at control bytes, as GNU iconv's TCVN5712-1 reads them.
VN1_CONTROL_CAPITALS = {"Ú": 0x01, "Ụ": 0x02, "Ừ": 0x04, "Ử": 0x05, "Ữ": 0x06, "Ứ": 0x11,
                        "Ự": 0x12, "Ỳ": 0x13, "Ỷ": 0x14, "Ỹ": 0x15, "Ý": 0x16, "Ỵ": 0x17}


def noise(size: int, *, seed: int = 7) -> bytes:
    """Return random bytes without NUL, like compressed data with its NUL bytes removed."""
    rng = random.Random(seed)
    return bytes(rng.randrange(1, 256) for _ in range(size))


def vn1_bytes(text: str) -> bytes:
    """Return ``text`` in VN1, with the capitals that VN1 puts at control bytes."""
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        code = VN1_CONTROL_CAPITALS.get(char)
        out += bytes([code]) if code is not None else char.encode("tcvn3")
    return bytes(out)


def zip_of_photos() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("anh-the/0101.jpg", b"\xff\xd8\xff\xe0" + noise(2000))
    return buffer.getvalue()


def ole2_without_workbook(tmp_path: Path) -> bytes:
    """Return an OLE2 compound file whose one stream is not a workbook, as a Word 97 file is."""
    book = xlwt.Workbook()
    book.add_sheet("6A1").write(0, 0, "STT")
    book.save(str(tmp_path / "tmp.xls"))
    data = (tmp_path / "tmp.xls").read_bytes()
    # Directory entries store their names in UTF-16: rename the stream "Workbook" to "Document".
    return data.replace("Workbook".encode("utf-16-le"), "Document".encode("utf-16-le"))


# Kinds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("signature", [
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a",
    b"GIF87a", b"\x1f\x8b\x08\x00", b"7z\xbc\xaf\x27\x1c\x00\x04", b"Rar!\x1a\x07\x01\x00",
], ids=["pdf", "png", "jpeg", "gif89", "gif87", "gzip", "7z", "rar"])
def test_signature_makes_file_binary(signature: bytes):
    assert sniff_kind(signature + b"1 0 obj\n<< /Length 10 >>\nstream\n") == "binary"


def test_bytes_without_nul_binary():
    data = noise(20_000)

    assert data.count(0) == 0
    assert sniff_kind(data) == "binary"


def test_few_nul_bytes_with_controls_binary():
    data = gzip.compress("Nguyễn Văn An;0101;01/02/2014\r\n".encode() * 3000, mtime=0)[10:]

    assert data.count(0) * 100 < len(data)
    assert sniff_kind(data) == "binary"


def test_utf16_pattern_with_controls_binary():
    # A font or a library can have a NUL at every other byte, as UTF-16 text does.
    data = b"".join(bytes([byte, 0]) for byte in noise(4000))

    assert sniff_kind(data) == "binary"


def test_utf16_text_not_binary():
    text = "\r\n".join([";".join(STUDENT_COLUMNS), "1;0101;Nguyễn Thị Thuỷ;01/02/2014;Nữ"] * 50)

    assert sniff_kind(text.encode("utf-16")) == "csv"
    assert sniff_kind(text.encode("utf-16-le")) == "csv"


def test_windows_1258_demo_csv_not_binary(tmp_path: Path):
    summary = write_vendor_csv1258(tmp_path / "csv1258", "tiny", 2025)
    for path in sorted(summary.package.glob("*.csv")):
        assert sniff_kind(path.read_bytes()[:1 << 16]) == "csv", path.name


@pytest.mark.parametrize("encoding", ["tcvn3", "vni"])
def test_legacy_csv_not_binary(tmp_path: Path, encoding: str):
    summary = write_vendor_csv1258(tmp_path / "csv1258", "tiny", 2025)
    for path in sorted(summary.package.glob("*.csv")):
        text = unicodedata.normalize("NFC", path.read_bytes().decode("cp1258"))

        assert sniff_kind(text.encode(encoding)[:1 << 16]) == "csv", path.name


def test_vn1_capitals_at_control_bytes_not_binary():
    rows = ["STT;Mã HS;HỌ VÀ TÊN", *[f"{n};HS{n:03d};NGUYỄN THỊ THÚY, ĐỖ Ý, HỨA VĂN TỴ"
                                      for n in range(1, 200)]]
    data = vn1_bytes("\r\n".join(rows))

    assert set(VN1_CONTROL_CAPITALS.values()) == TCVN3_CONTROL_LETTERS
    assert sum(data.count(code) for code in VN1_CONTROL_CAPITALS.values()) * 50 > len(data)
    assert sniff_kind(data) == "csv"


def test_dos_end_markers_and_form_feeds_not_binary():
    text = "STT,Mã HS,Họ và tên\r\n1,0101,Nguyễn Văn An\r\n\x0c2,0102,Lê Thị Bình\r\n"
    data = windows_1258_form(text).encode("cp1258")
    # CP/M and early DOS programs filled the last 128-byte record with 0x1A.
    data += b"\x1a" * (128 - len(data) % 128)

    assert sniff_kind(data) == "csv"


def test_stray_control_bytes_not_binary():
    lines = [f"{n},01010{n:05d},Nguyễn Văn An,01/02/2014,Nam" for n in range(100)]
    lines[10] += "\x1b"
    lines[50] += "\x07\x08"

    assert sniff_kind(windows_1258_form("\r\n".join(lines)).encode("cp1258")) == "csv"


# Reading ---------------------------------------------------------------------------------


def binary_files(tmp_path: Path) -> dict[str, bytes]:
    return {
        "a-bieu-mau.csv": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + noise(5000),
        "b-du-lieu.csv": noise(5000),
        "c-anh.xls": b"\x89PNG\r\n\x1a\n" + noise(5000),
        "d-nen.csv": gzip.compress(b"STT,Ma HS\r\n" * 500, mtime=0),
        "e-anh-the.xlsx": zip_of_photos(),
        "f-van-ban.xls": ole2_without_workbook(tmp_path),
    }


@pytest.mark.parametrize("name", ["a-bieu-mau.csv", "b-du-lieu.csv", "c-anh.xls", "d-nen.csv",
                                  "e-anh-the.xlsx", "f-van-ban.xls"])
def test_binary_file_gets_only_binary_notice(tmp_path: Path, name: str):
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / name).write_bytes(binary_files(tmp_path)[name])
    write_csv(folder / "z-lop-6a1.csv", [",".join(STUDENT_COLUMNS), "1,0101,An,01/02/2014,Nam"])

    result = read(folder)

    assert result.notices == [("error", "table.file_binary")]
    assert [stream.file for stream in result.streams] == ["z-lop-6a1.csv"]
    assert result.column("Họ và tên") == ["An"]


def test_binary_notice_names_file_and_next_step(tmp_path: Path):
    path = tmp_path / "bieu-mau.csv"
    path.write_bytes(b"%PDF-1.4\n" + noise(500))

    with TableAdapter().open(path, Limits(), None) as package:
        list(package.streams())
    (notice,) = package.notices

    assert "bieu-mau.csv" in notice.error.message("vi")
    assert "Excel Workbook (.xlsx)" in notice.error.message("vi")
    assert "bieu-mau.csv" in notice.error.message("en")
