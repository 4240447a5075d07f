"""A small school export as an XLSX workbook, written for the adapter contract tests and for demos.

It has the layout the adapter must handle. A title and a school name sit above
the header, and a class label right above it. There is a password column, a
column-number row and date cells. A second class block has its own label and
a repeated header, and footer and signature rows end the blocks.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from openpyxl import Workbook

SAMPLE_FILE = "danh-sach-hoc-sinh.xlsx"
SAMPLE_PASSWORD = "Sample-Secret-7391"  # noqa: S105 (a planted value the tests look for)

HEADER: list[object] = ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Giới tính", "Mật khẩu"]


def write_sample(directory: Path) -> Path:
    """Write the sample workbook under ``directory`` and return its path."""
    rows: list[list[object]] = [
        ["SỞ GIÁO DỤC VÀ ĐÀO TẠO THÀNH PHỐ CẦN THƠ"],
        ["TRƯỜNG THCS MẪU"],
        ["DANH SÁCH HỌC SINH"],
        [],
        ["Lớp: 6A1"],
        HEADER,
        ["(1)", "(2)", "(3)", "(4)", "(5)", "(6)"],
        [1, "0101000001", "Nguyễn Thị Hoà", date(2014, 3, 9), "Nữ", SAMPLE_PASSWORD],
        [2, "0101000002", "Trần Văn Thủy", date(2014, 11, 20), "Nam", SAMPLE_PASSWORD],
        ["Tổng số: 2"],
        ["Lớp: 6A2"],
        HEADER,
        [1, "0101000003", "Lê Minh Khôi", date(2014, 1, 31), "Nam", SAMPLE_PASSWORD],
        ["Tổng số: 1"],
        [],
        [None, None, None, None, "Cần Thơ, ngày 5 tháng 9 năm 2025"],
        ["Người lập biểu", None, None, None, "Hiệu trưởng"],
    ]

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Danh sách"
    for row in rows:
        sheet.append(row)
    for cell in sheet["D"]:
        cell.number_format = "DD/MM/YYYY"
    sheet.merge_cells("A3:F3")
    sheet.merge_cells("A5:F5")

    path = Path(directory) / SAMPLE_FILE
    workbook.save(path)
    return path
