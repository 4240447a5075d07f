"""Streaming CSV reading: line ends, quoting, encodings, limits and dropped columns."""

from __future__ import annotations

import csv
import io
import unicodedata

import pytest

from adapters.base import Limits, SourceRow
from adapters.common.csvfile import CsvTable, max_line_chars, read_csv
from adapters.oneroster.adapter import OneRosterAdapter
from gateway.errors import InputError


def table_of(data: bytes, limits: Limits | None = None, **options: object) -> CsvTable:
    return read_csv(io.BytesIO(data), file="test.csv", limits=limits or Limits(), **options)  # type: ignore[arg-type]


def rows_of(data: bytes, limits: Limits | None = None, **options: object) -> list[SourceRow]:
    return list(table_of(data, limits, **options).rows)


def good(rows: list[SourceRow]) -> list[tuple[int, list[str]]]:
    return [(row.line, row.cells) for row in rows if row.cells is not None]


def errors(rows: list[SourceRow]) -> list[tuple[int, str]]:
    return [(row.line, row.error.key) for row in rows if row.error is not None]


class CountingReader(io.BytesIO):
    """A binary file that records how many bytes have been read from it."""

    bytes_read = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def test_bom_stripped_from_first_header():
    table = table_of("\ufeffsourcedId,name\r\nA1,An\r\n".encode())

    assert table.headers == ["sourcedId", "name"]
    assert good(list(table.rows)) == [(2, ["A1", "An"])]


def test_mixed_line_ends_keep_physical_line_numbers():
    data = b"id,name\r\n1,a\n2,b\r\n\n3,c\r4,d"

    expected = [(2, ["1", "a"]), (3, ["2", "b"]), (5, ["3", "c"]), (6, ["4", "d"])]
    assert good(rows_of(data)) == expected


def test_crlf_split_across_read_chunks():
    # The CR of a CRLF is the last byte of the first 64 KiB chunk.
    first = b"id,name\r\n" + b"1," + b"x" * (65536 - 9 - 2 - 1) + b"\r"
    data = first + b"\n2,b\r\n"
    assert len(first) == 65536

    rows = rows_of(data)

    assert [row.line for row in rows] == [2, 3]
    assert rows[1].cells == ["2", "b"]


def test_quoted_multi_value_and_multi_line_cells():
    data = (
        b'id,grades,title\n'
        b'1,"09,10,11","Lop 10A1\nchuyen Toan"\n'
        b'2,10,"He said ""hi"""\r\n'
    )

    rows = rows_of(data)

    assert good(rows) == [
        (2, ["1", "09,10,11", "Lop 10A1\nchuyen Toan"]),
        (4, ["2", "10", 'He said "hi"']),
    ]


def test_quoted_cell_with_crlf_inside_keeps_it():
    rows = rows_of(b'id,note\r\n1,"a\r\nb"\r\n2,c\r\n')

    assert good(rows) == [(2, ["1", "a\r\nb"]), (4, ["2", "c"])]


def test_too_many_cells_is_row_error():
    rows = rows_of(b"id,name\n1,a\n2,Nguyen, Van A\n3,c\n")

    assert good(rows) == [(2, ["1", "a"]), (4, ["3", "c"])]
    assert errors(rows) == [(3, "csv.too_many_cells")]
    error = rows[1].error
    assert error is not None
    assert error.params == {"cells": 3, "columns": 2, "separator": ","}
    assert error.place.file == "test.csv"
    assert error.place.row == 3
    assert rows[1].cells is None


def test_fewer_cells_are_padded():
    rows = rows_of(b"id,name,grade\n1\n2,b\n")

    assert good(rows) == [(2, ["1", "", ""]), (3, ["2", "b", ""])]


def test_invalid_utf8_row_is_row_error():
    data = b"id,name\n1,An\n2,Nguy\xe1n\n3,B\xc3\xacnh\n"

    rows = rows_of(data)

    assert good(rows) == [(2, ["1", "An"]), (4, ["3", "Bình"])]
    assert errors(rows) == [(3, "csv.invalid_encoding")]
    error = rows[1].error
    assert error is not None
    assert error.params["line"] == 3
    assert error.params["encoding"] == "UTF-8"


def test_invalid_byte_in_multi_line_cell():
    data = b'id,note\n1,"first\nsec\xffond"\n2,ok\n'

    rows = rows_of(data)

    assert errors(rows) == [(2, "csv.invalid_encoding")]
    assert rows[0].error is not None
    assert rows[0].error.params["line"] == 3
    assert good(rows) == [(4, ["2", "ok"])]


def test_cell_longer_than_limit_is_row_error():
    limits = Limits(max_cell_chars=5)

    rows = rows_of(b"id,name\n1,short\n2,toolong\n", limits)

    assert good(rows) == [(2, ["1", "short"])]
    assert errors(rows) == [(3, "table.cell_too_long")]
    assert rows[1].error is not None
    assert rows[1].error.params == {"column": "name", "chars": 7, "limit": 5}


def test_line_longer_than_max_is_row_error():
    limits = Limits()
    long_line = b"2," + b"x" * (max_line_chars(limits) + 10) + b"\n"

    rows = rows_of(b"id,name\n1,a\n" + long_line + b"3,c\n", limits)

    assert good(rows) == [(2, ["1", "a"]), (4, ["3", "c"])]
    assert errors(rows) == [(3, "csv.line_too_long")]


def test_blank_and_separator_only_lines_are_skipped():
    rows = rows_of(b"id,name\n\n1,a\n   \n,\n\r\n2,b\n\n")

    assert good(rows) == [(3, ["1", "a"]), (7, ["2", "b"])]
    assert errors(rows) == []


def test_cells_are_cleaned():
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Thủy")
    data = f"id,name\n A1 ,\u00a0{decomposed}\u00a0\n".encode()

    rows = rows_of(data)

    assert good(rows) == [(2, ["A1", "Nguyễn Thị Thủy"])]


def test_password_and_empty_headers_are_dropped():
    data = b"sourcedId,Password,,name,\n1,Secret-1,x,An,y\n2,Secret-2\n"

    table = table_of(data, kept_columns=OneRosterAdapter().kept_columns)
    rows = list(table.rows)

    assert table.headers == ["sourcedId", "name"]
    assert good(rows) == [(2, ["1", "An"]), (3, ["2", ""])]


def test_unterminated_quote_reads_following_lines_again():
    rows = rows_of(b'id,name\n1,"An\n2,b\n3,c\n')

    assert errors(rows) == [(2, "csv.unterminated_quote")]
    assert good(rows) == [(3, ["2", "b"]), (4, ["3", "c"])]


def test_runaway_quoted_cell_resumes_reading():
    limits = Limits()
    table_of(b"id,note\n", limits)  # raises the csv module's field size limit for these limits
    piece = b"x" * (limits.max_cell_chars + 1)
    lines = csv.field_size_limit() // len(piece) + 2
    data = b'id,note\n1,"' + (piece + b"\n") * lines + b'"\n2,ok\n'

    rows = rows_of(data, limits)

    assert rows[0].error is not None
    assert rows[0].error.key == "csv.malformed"
    assert rows[0].line == 2
    assert good(rows)[-1][1] == ["2", "ok"]


def test_duplicate_headers_raise_input_error():
    with pytest.raises(InputError) as raised:
        table_of(b"sourcedId,Name,name\n1,a,b\n")

    assert raised.value.key == "csv.duplicate_header"
    assert raised.value.params["header"] == "name"
    assert raised.value.params["columns"] == "2, 3"


def test_empty_file_raises_input_error():
    with pytest.raises(InputError) as raised:
        table_of(b"\n\r\n")

    assert raised.value.key == "csv.empty"


def test_header_only_file_has_no_rows():
    assert rows_of(b"id,name\r\n") == []


def test_unreadable_header_raises_input_error():
    with pytest.raises(InputError) as raised:
        table_of(b"id,n\xffame\n1,a\n")

    assert raised.value.key == "csv.header_unreadable"
    assert raised.value.params["line"] == 1


def test_other_encoding_is_decoded():
    data = "mã,tên\r\nA1,Hoà\r\n".encode("utf-16")

    table = table_of(data, encoding="utf-16")

    assert table.headers == ["mã", "tên"]
    assert good(list(table.rows)) == [(2, ["A1", "Hoà"])]


def test_rows_are_read_lazily():
    data = b"id,name\n" + b"".join(b"%d,name %d\n" % (i, i) for i in range(200_000))
    handle = CountingReader(data)

    table = read_csv(handle, file="big.csv", limits=Limits())
    first = next(table.rows)

    assert first.cells == ["0", "name 0"]
    assert handle.bytes_read < len(data) // 10
