"""A staff list given to the school-export adapter: it is not read, and no pupil ends.

Every list here is synthetic: made-up people of made-up schools, each test on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from gateway.ingest import service
from gateway.store.models import Record
from tests.support.store import StoreHandle

SCHOOL, SCHOOL_NAME = "0990113", "Trường Mầm non Thử"
PUPIL_HEADER = ["STT", "Mã trường", "Tên trường", "Lớp", "Mã học sinh", "Họ và tên", "Ngày sinh",
                "Giới tính"]
STAFF_HEADER = ["STT", "Mã định danh", "Họ và tên", "Ngày sinh", "Giới tính", "Chức vụ",
                "Tổ chuyên môn", "Trình độ", "Mã trường", "Tên trường"]
JOBS = ["Hiệu trưởng", "Giáo viên", "Giáo viên", "Nhân viên kế toán"]


def workbook(path: Path, sheet: str, rows: list[list[object]]) -> Path:
    book = Workbook()
    worksheet = book.active
    worksheet.title = sheet
    for row in rows:
        worksheet.append(row)
    book.save(path)
    return path


def pupil_list(path: Path, pupils: int, title: list[list[object]] | None = None,
               extra: list[str] | None = None) -> Path:
    """Write a list of made-up pupils of one school, in class "Mầm 1", born in 2021."""
    rows: list[list[object]] = [*(title or []), PUPIL_HEADER + (extra or [])]
    for number in range(1, pupils + 1):
        rows.append([number, SCHOOL, SCHOOL_NAME, "Mầm 1", f"{SCHOOL}{number:04d}",
                     f"Trẻ Thử {number}", f"{number:02d}/03/2021", "Nam" if number % 2 else "Nữ",
                     *([""] * len(extra or []))])
    return workbook(path, "Mam non", rows)


def staff_list(path: Path, school: str = SCHOOL) -> Path:
    """Write a staff list of four made-up adults of ``school``, titled as a staff list."""
    rows: list[list[object]] = [["TRƯỜNG MẦM NON THỬ"], ["DANH SÁCH CÁN BỘ, GIÁO VIÊN, NHÂN VIÊN"],
                                [], STAFF_HEADER]
    for number, job in enumerate(JOBS, start=1):
        rows.append([number, f"79{number:08d}", f"Người Thử {number}", f"05/06/{1979 + number}",
                     "Nữ", job, "Tổ Mầm", "Đại học", school, SCHOOL_NAME])
    return workbook(path, "CBGVNV", rows)


def ingest(store: StoreHandle, path: Path, source: str = "s13") -> service.RunReport:
    return service.ingest(store.db, store.settings, path, "school-export", source)


def active_students(source: str = "s13") -> int:
    return Record.select().where((Record.source == source) & (Record.entity == "student")
                                 & (Record.state == "active")).count()


def test_staff_list_ends_no_pupil(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, pupil_list(tmp_path / "tre.xlsx", 6))
    report = ingest(store, staff_list(tmp_path / "can-bo.xlsx"))

    assert report.state == "succeeded"
    assert report.file_errors == 1
    assert [n["error"] for n in report.notices if n["level"] == "error"] == ["table.staff_list_title"]
    assert report.changes == 0
    assert active_students() == 6


def test_staff_list_in_folder_keeps_other_ends(store: StoreHandle, tmp_path: Path) -> None:
    """The pupils of another file are read, and the error stops every end by absence."""
    ingest(store, pupil_list(tmp_path / "first.xlsx", 6))
    folder = tmp_path / "folder"
    folder.mkdir()
    pupil_list(folder / "a-tre.xlsx", 5)
    staff_list(folder / "b-can-bo.xlsx")
    report = ingest(store, folder)

    assert report.counts["decisions"]["student"].get("end", 0) == 0
    assert any(n["error"] == "ingest.absent_not_ended" for n in report.notices)
    assert active_students() == 6


def test_pupil_list_with_homeroom_teacher_title(store: StoreHandle, tmp_path: Path) -> None:
    title: list[list[object]] = [["TRƯỜNG MẦM NON THỬ"],
                                 ["DANH SÁCH TRẺ NHÓM MẦM 1 - GVCN: Trần Thị Bích"]]
    report = ingest(store, pupil_list(tmp_path / "tre.xlsx", 4, title, extra=["Ghi chú"]))

    assert report.file_errors == 0
    assert report.counts["decisions"]["student"] == {"insert": 4}
