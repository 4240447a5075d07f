"""Encoding detection: byte order marks, UTF-16, UTF-8 scanned in chunks, Windows-1258, NFC."""

from __future__ import annotations

import codecs
import io
import unicodedata
from pathlib import Path

import pytest

from adapters.base import Limits, ReadHints, SourceRow, Stream
from adapters.common.encoding import CHUNK_BYTES, Utf8Recoder, detect_encoding
from adapters.table.adapter import TableAdapter
from gateway.text import match_key

NAME = "Nguyễn Thị Hoà"  # NFC, as typed
# Windows-1258 bytes of NAME: "ê" is one byte (EA), the tilde (DE), dot below
# (F2) and grave (CC) are combining bytes after their base letter.
NAME_CP1258 = b"Nguy\xea\xden Thi\xf2 Hoa\xcc"
HEADER = "Mã học sinh,Họ và tên,Ngày sinh\r\n"
HINTS = ReadHints(frozenset({"ma hoc sinh", "ho va ten", "ngay sinh"}), frozenset({"ma hoc sinh"}))


class CountingReader(io.BytesIO):
    """A binary file that records the largest read it served."""

    largest_read = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.largest_read = max(self.largest_read, len(data))
        return data


def detect(data: bytes, **options: object):  # type: ignore[no-untyped-def]
    return detect_encoding(io.BytesIO(data), **options)  # type: ignore[arg-type]


def read_csv_file(tmp_path: Path, data: bytes) -> tuple[Stream, list[SourceRow], list[str]]:
    path = tmp_path / "hoc-sinh.csv"
    path.write_bytes(data)
    with TableAdapter().open(path, Limits(), HINTS) as package:
        streams = package.streams()
        stream = next(streams)
        rows = list(stream.rows)
        return stream, rows, [notice.error.key for notice in package.notices]


# Detection ------------------------------------------------------------------


def test_utf8_bom_detected():
    found = detect(codecs.BOM_UTF8 + HEADER.encode())

    assert (found.encoding, found.bom, found.reason) == ("utf-8-sig", True, "bom")


def test_utf8_without_bom_detected():
    found = detect(HEADER.encode())

    assert (found.encoding, found.bom, found.reason) == ("utf-8", False, "valid_utf8")


@pytest.mark.parametrize("bom, codec", [
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
], ids=["le", "be"])
def test_utf16_bom_detected(bom: bytes, codec: str):
    found = detect(bom + HEADER.encode(codec))

    assert (found.encoding, found.bom) == ("utf-16", True)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_detected_by_nul_bytes(codec: str):
    found = detect((HEADER + "0101,An,01/02/2014\r\n").encode(codec))

    assert (found.encoding, found.bom, found.reason) == (codec, False, "utf16_pattern")


def test_windows_1258_is_the_fallback():
    found = detect(b"Ho ten\r\n" + NAME_CP1258 + b"\r\n")

    assert (found.encoding, found.reason) == ("cp1258", "fallback")


def test_windows_1258_bytes_decode_to_nfc_name():
    decoded = NAME_CP1258.decode(detect(NAME_CP1258).encoding)

    assert decoded != NAME  # base letters plus combining marks
    assert unicodedata.normalize("NFC", decoded) == unicodedata.normalize("NFC", NAME)


def test_utf8_byte_past_first_chunk_still_utf8():
    data = b"a,b\r\n" + b"x" * (3 * CHUNK_BYTES) + "ễ\r\n".encode()

    assert detect(data).encoding == "utf-8"


def test_cp1258_byte_past_first_chunk_not_utf8():
    data = b"a,b\r\n" + b"x" * (3 * CHUNK_BYTES) + NAME_CP1258

    assert detect(data).encoding == "cp1258"


def test_utf8_with_few_invalid_bytes_is_mostly_utf8():
    data = (HEADER + f"01,{NAME},x\r\n" * 20).encode() + b"02," + NAME_CP1258 + b",x\r\n"

    found = detect(data)

    assert (found.encoding, found.reason, found.invalid_bytes) == ("utf-8", "mostly_utf8", 4)


def test_utf8_header_over_cp1258_rows():
    data = HEADER.encode() + (b"01," + NAME_CP1258 + b",x\r\n") * 20

    found = detect(data)

    assert (found.encoding, found.reason) == ("utf8_lines_cp1258", "mixed_lines")
    lines = unicodedata.normalize("NFC", data.decode(found.encoding)).splitlines()
    assert lines[:2] == [HEADER.strip(), "01,Nguyễn Thị Hoà,x"]


def test_utf8_header_over_tcvn3_rows(tmp_path: Path):
    names = ["Nguyễn Văn An", "Trần Thị Bích Ngọc", "Lê Hoàng Việt", "Phạm Thu Hương"]
    rows = "".join(f"0{n},{name},x\r\n" for n, name in enumerate(names, 1))

    stream, rows_read, notices = read_csv_file(tmp_path, HEADER.encode() + rows.encode("tcvn3"))

    assert stream.headers[:2] == ["Mã học sinh", "Họ và tên"]
    assert [row.cells[1] for row in rows_read] == names
    assert "table.encoding_mixed" in notices


def test_line_decoder_bounded_buffer():
    decoder = codecs.getincrementaldecoder("utf8_lines_cp1258")()

    texts = [decoder.decode(b"a" * CHUNK_BYTES) for _ in range(8)]

    assert len(decoder.pending) <= 5 * CHUNK_BYTES
    assert sum(map(len, texts)) + len(decoder.pending) == 8 * CHUNK_BYTES


def test_chance_utf8_line_stays_fallback():
    # Two non-ASCII characters that decode as UTF-8 by chance are not a UTF-8 line.
    data = (b"01," + NAME_CP1258 + b",x\r\n") * 20 + "02,Ví,x\r\n".encode()

    assert detect(data).reason == "fallback"


def test_windows_1258_scan_stops_early():
    reader = CountingReader((b"01," + NAME_CP1258 + b",x\r\n") * (4 * CHUNK_BYTES // 20))

    found = detect_encoding(reader)

    assert found.reason == "fallback"
    assert reader.tell() == CHUNK_BYTES


def test_detection_reads_in_chunks():
    reader = CountingReader(b"a,b\r\n" * (CHUNK_BYTES // 2))

    detect_encoding(reader)

    assert reader.tell() == len(reader.getvalue())
    assert reader.largest_read <= CHUNK_BYTES


def test_declared_encoding_used_when_not_utf8():
    found = detect(b"<p>caf\xe9</p>", declared="windows-1252")

    assert (found.encoding, found.reason) == ("cp1252", "declared")


def test_declared_encoding_ignored_when_utf8():
    found = detect("<p>café</p>".encode(), declared="windows-1258")

    assert found.encoding == "utf-8"


@pytest.mark.parametrize("declared", ["utf-8", "UTF8", "utf-16"])
def test_declared_unicode_contradicted_by_bytes_ignored(declared: str):
    found = detect(b"<p>" + NAME_CP1258 + b"</p>", declared=declared)

    assert (found.encoding, found.reason) == ("cp1258", "fallback")


def test_unknown_declared_encoding_falls_back():
    found = detect(NAME_CP1258, declared="x-no-such-codec")

    assert found.encoding == "cp1258"


def test_recoder_turns_utf16_into_utf8():
    source = io.BytesIO(codecs.BOM_UTF16_LE + (NAME * 5000).encode("utf-16-le"))

    recoded = Utf8Recoder(source, "utf-16", chunk_bytes=1000)  # type: ignore[arg-type]

    assert recoded.read(6) == b"Nguy\xe1\xbb"  # cuts "ễ" in the middle, as bytes
    assert (b"Nguy\xe1\xbb" + recoded.read()).decode("utf-8") == NAME * 5000


# Through the table adapter --------------------------------------------------


@pytest.mark.parametrize("bom, encoding", [
    (codecs.BOM_UTF8, "utf-8-sig"),
    (b"", "utf-8"),
], ids=["bom", "no-bom"])
def test_utf8_first_header_read(tmp_path: Path, bom: bytes, encoding: str):
    stream, rows, _ = read_csv_file(tmp_path, bom + (HEADER + "01,An,x\r\n").encode())

    assert stream.headers[0] == "Mã học sinh"
    assert stream.properties["encoding"] == encoding
    assert rows[0].cells == ["01", "An", "x", "", ""]


@pytest.mark.parametrize("bom, codec", [
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
], ids=["le", "be"])
def test_utf16_first_header_has_no_bom(tmp_path: Path, bom: bytes, codec: str):
    data = bom + (HEADER + f"01,{NAME},09/03/2014\r\n").encode(codec)

    stream, rows, _ = read_csv_file(tmp_path, data)

    assert stream.headers[0] == "Mã học sinh"
    assert match_key(stream.headers[0]) == "ma hoc sinh"
    assert rows[0].cells is not None
    assert rows[0].cells[1] == NAME
    assert stream.properties["encoding"] == "utf-16"
    assert stream.properties["encoding_bom"] == "true"


def test_windows_1258_file_read_as_nfc(tmp_path: Path):
    # An ASCII header: its match keys equal those of the Vietnamese names.
    header = b"Ma hoc sinh,Ho va ten\r\n"

    stream, rows, notices = read_csv_file(tmp_path, header + b"01," + NAME_CP1258 + b"\r\n")

    assert rows[0].cells is not None
    assert rows[0].cells[1] == unicodedata.normalize("NFC", NAME)
    assert stream.properties["encoding"] == "cp1258"
    assert stream.properties["encoding_reason"] == "fallback"
    assert "table.encoding_fallback" in notices


def test_nfd_utf8_input_comes_out_nfc(tmp_path: Path):
    text = unicodedata.normalize("NFD", HEADER + f"01,{NAME},x\r\n")

    stream, rows, _ = read_csv_file(tmp_path, text.encode())

    assert stream.headers[:2] == ["Mã học sinh", "Họ và tên"]
    assert rows[0].cells is not None
    assert rows[0].cells[1] == unicodedata.normalize("NFC", NAME)


def test_late_non_ascii_read_as_utf8(tmp_path: Path):
    filler = "".join(f"{n:06d},An,x\r\n" for n in range(20_000))
    data = (HEADER + filler + f"999999,{NAME},x\r\n").encode()
    assert data.index("ễ".encode()) > CHUNK_BYTES

    stream, rows, notices = read_csv_file(tmp_path, data)

    assert stream.properties["encoding"] == "utf-8"
    assert rows[-1].cells is not None
    assert rows[-1].cells[1] == NAME
    assert notices == []
