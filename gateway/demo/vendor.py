"""Write the demo city as school-product exports: XLSX pupil lists and Windows-1258 CSV files.

Two shapes, one file per school, for the generic table adapter (product key
``school-export``):

- ``xlsx``: a workbook laid out like a vnEdu or SMAS export. Sheet
  "Danh sách học sinh" has a title row, the school's name and a blank row, then
  one block per class: a label row ("Lớp: 6A1"), the header row, the pupils and
  a footer row ("Tổng số: 5 học sinh"). A signature block ends the sheet. Names
  are split into "Họ đệm" and "Tên", girls are ticked "x" in a "Nữ" column, and
  most birth dates are date cells, the rest dd/mm/yyyy text.
- ``csv1258``: a flat list in Windows-1258 with ``;`` between cells, as Excel
  on a Vietnamese Windows saves CSV. Names are joined in "Họ và tên", gender is
  "Nam" or "Nữ" in "Giới tính", dates are dd/mm/yyyy and the class is a column.

Both shapes list the pupils of the OneRoster package of the same size and seed,
with the same Ministry identifiers, so they describe one city. What an export
adds to the city model is drawn here from the seed: the product's own pupil
code ("Mã học sinh", the school code plus a number), the ethnic group, the
learner status, the 12-digit personal identification number and the address.
Each row also carries the school code ("Mã trường") and the school name
("Tên trường"), because a folder contains the lists of many schools. The title
row that names the school is not a column, and the flat CSV list has no title
rows at all. Ethnic and status shares are plausible round figures for the
Mekong delta, not statistics.

The address is a unit of Cần Thơ in the 2025 code lists (province-2025 and
commune-2025), drawn uniformly, with the names spelt in the ways the lists
accept ("Phường Ninh Kiều", "P. Ninh Kiều", "Ninh Kiều"), and a house number
and street for a ward or a numbered hamlet for a commune. One pupil in twenty
has no address at all. The address is drawn from a generator of its own, so
every other cell is the one an export without addresses would have.

Faults (``VendorFault``) are planted like those of the OneRoster writer: each
pupil gets one with probability ``fault_rate``, and when the rate is above zero
every kind is also placed once in the first school. ``VendorSummary.planted``
lists where each one is. Three kinds reject one student row each. Two kinds
name a commune that Cần Thơ has not had since 1 July 2025, which the student
mapping (school-export/student v6 and later) answers by storing the pupil
without an address, with a warning, and versions 2 to 5 by rejecting the row.
One kind names an ethnic group that the code list lacks: version 7 stores
the pupil without the ethnic group, with a warning, and the earlier versions
reject the row. Two kinds are
normalisations that the gateway must accept: names in NFD, and a personal
number stored as a number, which lost its leading zero. The province codes
that open that number (001 to 096) all start with 0, so the mapping's
``pad_left`` puts the zero back on an 11-digit value.

Memory follows the largest school: a school's rows are built, written and
dropped before the next, and workbooks use openpyxl's write-only mode. The same
arguments give the same cells. Workbook bytes differ from run to run, because
openpyxl writes the save time into the package.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import random
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from gateway.codelists import get_codelist
from gateway.demo import city
from gateway.demo.city import CitySize, HomeroomClass, Person, Role, School
from gateway.demo.oneroster import DemoSummary, SchoolSummary, _check_rate, _resolve_size
from gateway.errors import ConfigurationError, PermanentError
from gateway.logs import fields

log = logging.getLogger(__name__)

FILE_STEM = "danh-sach-hoc-sinh"
SHEET_TITLE = "Danh sách học sinh"
LIST_TITLE = f"DANH SÁCH HỌC SINH {city.SCHOOL_YEAR_TITLE.upper()}"
CLASS_LABEL = "Lớp: {title}"
FOOTER = "Tổng số: {count} học sinh"
_START = city.YEAR_START
PLACE_AND_DATE = f"Cần Thơ, ngày {_START.day:02d} tháng {_START.month} năm {_START.year}"
SIGNATURES = ("Người lập biểu", "Hiệu trưởng")

# Column headers as the products write them.
STT = "STT"
LOCAL_CODE = "Mã học sinh"
MINISTRY_ID = "Mã định danh Bộ GD&ĐT"
FAMILY_MIDDLE = "Họ đệm"
GIVEN = "Tên"
FULL_NAME = "Họ và tên"
BIRTH_DATE = "Ngày sinh"
FEMALE = "Nữ"
GENDER = "Giới tính"
ETHNIC_GROUP = "Dân tộc"
STATUS = "Trạng thái"
PERSONAL_ID = "Số định danh cá nhân"
SCHOOL_CODE = "Mã trường"
SCHOOL_NAME = "Tên trường"
CLASS = "Lớp"
# The address columns, headed differently by the two shapes.
XLSX_DETAIL = "Địa chỉ"
XLSX_COMMUNE = "Phường/Xã"
XLSX_PROVINCE = "Tỉnh/Thành phố"
CSV_DETAIL = "Số nhà, đường"
CSV_COMMUNE = "Xã/Phường"
CSV_PROVINCE = "Tỉnh/TP"

XLSX_HEADER = (STT, LOCAL_CODE, MINISTRY_ID, FAMILY_MIDDLE, GIVEN, BIRTH_DATE, FEMALE, ETHNIC_GROUP,
               STATUS, PERSONAL_ID, SCHOOL_CODE, SCHOOL_NAME, XLSX_DETAIL, XLSX_COMMUNE,
               XLSX_PROVINCE)
CSV_HEADER = (STT, SCHOOL_CODE, SCHOOL_NAME, CLASS, LOCAL_CODE, MINISTRY_ID, FULL_NAME, BIRTH_DATE,
              GENDER, ETHNIC_GROUP, STATUS, PERSONAL_ID, CSV_DETAIL, CSV_COMMUNE, CSV_PROVINCE)
# Excel writes ";" where the decimal mark is a comma, as on Windows set to Vietnamese.
CSV_DELIMITER = ";"
DATE_TEXT = "%d/%m/%Y"
# Share of XLSX rows whose birth date is typed as dd/mm/yyyy text instead of a date cell.
TEXT_DATE_SHARE = 0.1


@dataclass(frozen=True)
class Weighted:
    """One value of a drawn attribute: its code, the spellings exports use, and its share."""

    code: str
    spellings: tuple[str, ...]
    share: float


# Codes of the 1979 list (mappings/codelists/ethnic-group-1979), with spellings that vary by product.
ETHNIC_GROUPS = (
    Weighted("01", ("Kinh",), 0.87),
    Weighted("05", ("Khơ-me", "Khmer", "Khơ Me"), 0.09),
    Weighted("04", ("Hoa",), 0.03),
    Weighted("17", ("Chăm",), 0.005),
    Weighted("02", ("Tày",), 0.005),
)
# Codes of mappings/codelists/learner-status, spelt as the Ministry's templates write them.
LEARNER_STATUSES = (
    Weighted("studying", ("Đang học",), 0.95),
    Weighted("transferred_in", ("Chuyển đến",), 0.02),
    Weighted("transferred_out", ("Chuyển đi",), 0.01),
    Weighted("repeating", ("Lưu ban",), 0.01),
    Weighted("returned", ("Nghỉ học xin học lại",), 0.005),
    Weighted("left", ("Thôi học",), 0.005),
)
# Province codes that open a personal identification number: Cần Thơ, Sóc Trăng, Hậu Giang and
# Hồ Chí Minh City. They are the statistics office's province codes with a leading zero.
BIRTH_PROVINCES = (
    Weighted("092", (), 0.7),
    Weighted("094", (), 0.15),
    Weighted("093", (), 0.1),
    Weighted("079", (), 0.05),
)
# The last six digits of a personal number are a city-wide running number, permuted.
PERSONAL_SERIALS = 10**6
# The name of a local group that is not one of the 54 groups of either list.
UNKNOWN_ETHNIC_NAME = "Tà Mun"
# Cần Thơ in province-2025 (the statistics office's code), where every pupil of the city lives.
PROVINCE_CODE = "92"
# Share of pupils whose address cells are all empty.
NO_ADDRESS_SHARE = 0.05
# A ward of Cần Thơ's Ninh Kiều district before the 2025 merger, which commune-2025 does not have.
UNKNOWN_COMMUNE_NAME = "Phường Xuân Khánh"
# A ward of An Giang (province 91), which Cần Thơ does not have.
OTHER_PROVINCE_COMMUNE_NAME = "Phường Long Xuyên"


class VendorFault(StrEnum):
    # Rejected kinds: the student row is rejected for the reason in the comment. The two commune
    # kinds lose only the address (ingest.field_dropped) since school-export/student v6, and the
    # ethnic-group kind only the ethnic group since v7.
    BIRTH_DATE_INVALID = "birth_date_invalid"  # "31/02/2012": mapping.date_invalid
    BIRTH_DATE_TWO_DIGIT_YEAR = "birth_date_two_digit_year"  # "03/04/12": mapping.date_two_digit_year
    ETHNIC_GROUP_UNKNOWN = "ethnic_group_unknown"  # "Tà Mun": mapping.code_unknown
    LOCAL_ID_DUPLICATE = "local_id_duplicate"  # the code of the pupil before: ingest.duplicate_local_id
    COMMUNE_UNKNOWN = "commune_unknown"  # "Phường Xuân Khánh": mapping.commune_2025_unknown_in
    # "Phường Long Xuyên": mapping.commune_2025_in_other_province
    COMMUNE_OTHER_PROVINCE = "commune_other_province"
    # Normalised kinds: the row is accepted with the clean value.
    NAME_NFD = "name_nfd"  # names in decomposed form (XLSX only: a CSV in Windows-1258 cannot hold it)
    PERSONAL_ID_ZERO_LOST = "personal_id_zero_lost"  # an 11-digit number, restored by pad_left


REJECTED_FAULTS = (
    VendorFault.BIRTH_DATE_INVALID,
    VendorFault.BIRTH_DATE_TWO_DIGIT_YEAR,
    VendorFault.ETHNIC_GROUP_UNKNOWN,
    VendorFault.LOCAL_ID_DUPLICATE,
    VendorFault.COMMUNE_UNKNOWN,
    VendorFault.COMMUNE_OTHER_PROVINCE,
)
NORMALISED_FAULTS = (VendorFault.NAME_NFD, VendorFault.PERSONAL_ID_ZERO_LOST)


# --- Pupils ---


@dataclass(frozen=True)
class Address:
    """A pupil's home address: the codes of the 2025 units and the cells an export writes."""

    province_code: str
    province_name: str  # as the export spells it
    commune_code: str
    commune_name: str  # as the export spells it
    detail: str  # a house number and street, or a hamlet


@dataclass(frozen=True)
class Pupil:
    """One pupil as a school product lists them: a person of the city plus what the export adds."""

    person: Person
    homeroom: HomeroomClass
    number: int  # "STT": the running number within the class, from 1
    code: str  # "Mã học sinh": the product's own code, unique in the city
    school_code: str
    school_name: str
    ethnic_code: str  # in the 1979 numbering
    ethnic_name: str  # as the export spells it
    status_code: str
    status_name: str
    personal_id: str  # 12 digits
    address: Address | None

    @property
    def family_middle(self) -> str:
        """Return "Họ đệm": the family name and the middle name."""
        return " ".join(part for part in (self.person.family, self.person.middle) if part)


def city_pupils(size: str | CitySize, seed: int) -> Iterator[tuple[School, list[Pupil]]]:
    """Yield each school of the city with its pupils, by class and then by number in the class.

    The schools and people are those of ``write_oneroster`` for the same size and seed.
    Raises ``ConfigurationError`` for an unknown size, or when the city has more pupils than
    personal numbers can be made unique for (``PERSONAL_SERIALS``).
    """
    spec = _resolve_size(size)
    faker = city.new_faker()
    serial = 0
    for plan in city.plan_city(spec, seed):
        school = city.build_school(plan, faker, seed)
        pupils = _school_pupils(school, seed, serial)
        serial += len(pupils)
        yield school, pupils


def _school_pupils(school: School, seed: int, first_serial: int) -> list[Pupil]:
    # Seeded for repeatable demo data, not for anything secret. A generator of its own
    # keeps the people of city.build_school unchanged.
    rng = random.Random(f"{seed}/{school.plan.code}/vendor")  # noqa: S311
    address_rng = random.Random(f"{seed}/{school.plan.code}/address")  # noqa: S311
    code = school.plan.code
    pupils: list[Pupil] = []
    for homeroom in school.classes:
        for number, index in enumerate(homeroom.students, start=1):
            person = school.people[index]
            ethnic = _draw(rng, ETHNIC_GROUPS)
            status = _draw(rng, LEARNER_STATUSES)
            serial = first_serial + len(pupils)
            pupils.append(Pupil(
                person=person,
                homeroom=homeroom,
                number=number,
                code=f"{code}{index + 1:04d}",
                school_code=code,
                school_name=school.plan.name,
                ethnic_code=ethnic.code,
                ethnic_name=rng.choice(ethnic.spellings),
                status_code=status.code,
                status_name=status.spellings[0],
                personal_id=_personal_id(rng, person, serial, seed),
                address=_address(address_rng),
            ))
    return pupils


@dataclass(frozen=True)
class _Unit:
    code: str
    spellings: tuple[str, ...]  # the list's name first, then its aliases
    ward: bool


@cache
def _city_units() -> tuple[tuple[str, ...], tuple[_Unit, ...]]:
    """Return the spellings of the city's province and its communes, by code, from the code lists."""
    provinces = get_codelist("province-2025")
    communes = get_codelist("commune-2025")
    province = provinces.entry(PROVINCE_CODE)
    units = []
    for code in sorted(communes.codes):
        entry = communes.entry(code)
        if entry.parent != PROVINCE_CODE:
            continue
        name = entry.name["vi"]
        units.append(_Unit(code, tuple(dict.fromkeys((name, *entry.aliases))),
                           name.startswith("Phường")))
    return tuple(dict.fromkeys((province.name["vi"], *province.aliases))), tuple(units)


@cache
def _streets() -> tuple[str, ...]:
    return city._honorees()


def _address(rng: random.Random) -> Address | None:
    """Draw an address in the city, or none for ``NO_ADDRESS_SHARE`` of the pupils."""
    if rng.random() < NO_ADDRESS_SHARE:
        return None
    province_spellings, units = _city_units()
    unit = rng.choice(units)
    if unit.ward:
        number = str(rng.randint(1, 250))
        # One in five lives down an alley ("hẻm"), written as the house number after a slash.
        if rng.random() < 0.2:
            number = f"{number}/{rng.randint(1, 40)}"
        detail = f"{number} {rng.choice(_streets())}"
    else:
        detail = f"Ấp {rng.randint(1, 9)}"
    return Address(PROVINCE_CODE, rng.choice(province_spellings), unit.code,
                   rng.choice(unit.spellings), detail)


def _draw(rng: random.Random, values: Sequence[Weighted]) -> Weighted:
    return rng.choices(values, weights=[value.share for value in values])[0]


def _personal_id(rng: random.Random, person: Person, serial: int, seed: int) -> str:
    """Return a 12-digit personal number: province, sex and century, year of birth, six digits.

    The fourth digit is 0 for a man born in the 1900s and 1 for a woman, then 2 and 3 for the
    2000s. The last six digits are ``serial`` permuted, so no two pupils share a number.
    """
    if serial >= PERSONAL_SERIALS:
        raise ConfigurationError("demo.pupils_too_many", limit=PERSONAL_SERIALS)
    province = _draw(rng, BIRTH_PROVINCES).code
    year = person.birth_date.year
    sex_and_century = 2 * (year // 100 - 19) + (1 if person.sex == "female" else 0)
    return f"{province}{sex_and_century}{year % 100:02d}{_permute(serial, seed):06d}"


def _permute(number: int, seed: int) -> int:
    """Permute [0, 10**6) with a four-round Feistel network on halves of three digits."""
    half = 1000
    left, right = divmod(number, half)
    for round_number in range(4):
        key = f"{seed}/personal/{round_number}/{right}".encode()
        digest = hashlib.blake2b(key, digest_size=8).digest()
        left, right = right, (left + int.from_bytes(digest, "big")) % half
    return left * half + right


# --- Rows and faults ---


@dataclass
class ExportRow:
    """The values of one pupil's row that a fault may change; the rest come from ``pupil``."""

    pupil: Pupil
    code: str
    family_middle: str
    given: str
    birth: date | str
    ethnic: str
    personal_id: str | int
    commune: str  # empty when the pupil has no address

    @classmethod
    def of(cls, pupil: Pupil) -> ExportRow:
        commune = pupil.address.commune_name if pupil.address else ""
        return cls(pupil, pupil.code, pupil.family_middle, pupil.person.given,
                   pupil.person.birth_date, pupil.ethnic_name, pupil.personal_id, commune)

    def address_cells(self) -> tuple[str, str, str]:
        """Return the detail, commune and province cells, empty when the pupil has no address."""
        address = self.pupil.address
        if address is None:
            return "", "", ""
        return address.detail, self.commune, address.province_name


@dataclass(frozen=True)
class PlantedFault:
    """Where one fault sits: the file in the shape's folder, sheet, row and column."""

    kind: VendorFault
    file: str
    sheet: str | None
    row: int  # the sheet row of an XLSX, the line of a CSV
    column: str
    local_id: str  # "Mã học sinh" as written in the row
    ministry_id: str


@dataclass
class VendorSummary(DemoSummary):
    """Record of one vendor-shape run: ``DemoSummary`` plus the shape and each planted fault."""

    shape: str = ""
    planted: list[PlantedFault] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"shape": self.shape, **super().as_dict()}


class _FaultPlanner:
    """Decides the faults of a whole city for one shape, one school at a time."""

    def __init__(self, seed: int, rate: float, kinds: tuple[VendorFault, ...], shape: str):
        self.seed = seed
        self.rate = rate
        self.kinds = kinds
        self.shape = shape
        self.counts: Counter[VendorFault] = Counter()
        # Kinds not yet placed for the one-of-each guarantee, which the next school takes.
        self.owed: list[VendorFault] = list(kinds) if rate > 0 else []

    def for_school(self, school_code: str, pupils: int) -> _SchoolFaults:
        # Seeded for repeatable demo data, not for anything secret.
        rng = random.Random(f"{self.seed}/{school_code}/{self.shape}/faults")  # noqa: S311
        owed, self.owed = self.owed, []
        return _SchoolFaults(self, rng, owed, pupils)


class _SchoolFaults:
    """Faults of one school: call ``apply`` for each row in order, then ``close``."""

    def __init__(self, planner: _FaultPlanner, rng: random.Random, owed: list[VendorFault],
                 pupils: int):
        self.planner = planner
        self.rng = rng
        # Owed kinds are released at evenly spaced pupils.
        self.releases = [((i + 1) * pupils // (len(owed) + 1), kind) for i, kind in enumerate(owed)]
        self.pending: list[tuple[VendorFault, bool]] = []  # (kind, owed to the guarantee)
        # The code of the last row that is stored, which a duplicate repeats. A rejected row
        # would not do: the duplicate would then be the only row with that code, and be stored.
        self.previous_code: str | None = None

    def apply(self, index: int, row: ExportRow) -> VendorFault | None:
        """Plant at most one fault in ``row`` (the ``index``-th of the school) and return its kind."""
        while self.releases and self.releases[0][0] <= index:
            self.pending.append((self.releases.pop(0)[1], True))
        if self.planner.rate and self.rng.random() < self.planner.rate:
            self.pending.append((self.rng.choice(self.planner.kinds), False))

        chosen = None
        for position, (kind, _) in enumerate(self.pending):
            if self._fits(kind, row):
                chosen = kind
                del self.pending[position]
                break
        if chosen is not None:
            _PLANT[chosen](row, self.previous_code)
            self.planner.counts[chosen] += 1
        if chosen not in REJECTED_FAULTS:
            self.previous_code = row.code
        return chosen

    def close(self) -> None:
        """Hand owed kinds that found no row back to the planner, for the next school."""
        left = [kind for kind, owed in self.pending if owed] + [kind for _, kind in self.releases]
        self.planner.owed.extend(left)

    def _fits(self, kind: VendorFault, row: ExportRow) -> bool:
        if kind is VendorFault.LOCAL_ID_DUPLICATE:
            return self.previous_code is not None
        if kind is VendorFault.NAME_NFD:
            name = f"{row.family_middle} {row.given}"
            return unicodedata.normalize("NFD", name) != name
        if kind is VendorFault.PERSONAL_ID_ZERO_LOST:
            return str(row.personal_id).startswith("0")
        if kind in (VendorFault.COMMUNE_UNKNOWN, VendorFault.COMMUNE_OTHER_PROVINCE):
            # Without a province the commune is rejected for that instead.
            return row.pupil.address is not None
        return True


def _birth_date_invalid(row: ExportRow, previous: str | None) -> None:
    row.birth = f"31/02/{row.pupil.person.birth_date.year}"


def _birth_date_two_digit_year(row: ExportRow, previous: str | None) -> None:
    birth = row.pupil.person.birth_date
    row.birth = f"{birth.day:02d}/{birth.month:02d}/{birth.year % 100:02d}"


def _ethnic_group_unknown(row: ExportRow, previous: str | None) -> None:
    row.ethnic = UNKNOWN_ETHNIC_NAME


def _local_id_duplicate(row: ExportRow, previous: str | None) -> None:
    assert previous is not None
    row.code = previous


def _commune_unknown(row: ExportRow, previous: str | None) -> None:
    row.commune = UNKNOWN_COMMUNE_NAME


def _commune_other_province(row: ExportRow, previous: str | None) -> None:
    row.commune = OTHER_PROVINCE_COMMUNE_NAME


def _name_nfd(row: ExportRow, previous: str | None) -> None:
    row.family_middle = unicodedata.normalize("NFD", row.family_middle)
    row.given = unicodedata.normalize("NFD", row.given)


def _personal_id_zero_lost(row: ExportRow, previous: str | None) -> None:
    # A spreadsheet that takes the number for a number drops its leading zero.
    row.personal_id = int(row.personal_id)


_PLANT: dict[VendorFault, Callable[[ExportRow, str | None], None]] = {
    VendorFault.BIRTH_DATE_INVALID: _birth_date_invalid,
    VendorFault.BIRTH_DATE_TWO_DIGIT_YEAR: _birth_date_two_digit_year,
    VendorFault.ETHNIC_GROUP_UNKNOWN: _ethnic_group_unknown,
    VendorFault.LOCAL_ID_DUPLICATE: _local_id_duplicate,
    VendorFault.COMMUNE_UNKNOWN: _commune_unknown,
    VendorFault.COMMUNE_OTHER_PROVINCE: _commune_other_province,
    VendorFault.NAME_NFD: _name_nfd,
    VendorFault.PERSONAL_ID_ZERO_LOST: _personal_id_zero_lost,
}


# --- Shapes ---


class _Shape(Protocol):
    name: str
    suffix: str
    sheet: str | None
    faults: tuple[VendorFault, ...]
    # The header of the cell each fault changes.
    columns: dict[VendorFault, str]

    def write(self, path: Path, school: School, rows: list[ExportRow], rng: random.Random) -> list[int]:
        """Write one school's file and return the sheet row or line of each of ``rows``."""
        ...


class _XlsxShape:
    name = "xlsx"
    suffix = "xlsx"
    sheet: str | None = SHEET_TITLE
    faults: tuple[VendorFault, ...] = tuple(VendorFault)
    columns = {
        VendorFault.BIRTH_DATE_INVALID: BIRTH_DATE,
        VendorFault.BIRTH_DATE_TWO_DIGIT_YEAR: BIRTH_DATE,
        VendorFault.ETHNIC_GROUP_UNKNOWN: ETHNIC_GROUP,
        VendorFault.LOCAL_ID_DUPLICATE: LOCAL_CODE,
        VendorFault.COMMUNE_UNKNOWN: XLSX_COMMUNE,
        VendorFault.COMMUNE_OTHER_PROVINCE: XLSX_COMMUNE,
        VendorFault.NAME_NFD: FAMILY_MIDDLE,
        VendorFault.PERSONAL_ID_ZERO_LOST: PERSONAL_ID,
    }

    def write(self, path: Path, school: School, rows: list[ExportRow], rng: random.Random) -> list[int]:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(SHEET_TITLE)
        lines: list[int] = []
        line = 0

        def append(cells: list[Any]) -> int:
            nonlocal line
            sheet.append(cells)
            line += 1
            return line

        append([LIST_TITLE])
        append([school.plan.name])
        append([])
        for homeroom, block in _blocks(rows):
            append([CLASS_LABEL.format(title=homeroom.title)])
            append(list(XLSX_HEADER))
            for row in block:
                lines.append(append(self._cells(sheet, row, rng)))
            append([FOOTER.format(count=len(block))])
        append([])
        # Signatures sit under the name and status columns, never under "Mã học sinh", so the
        # adapter reads them as footer rows.
        append([None, None, None, PLACE_AND_DATE])
        append([None, None, None, SIGNATURES[0], None, None, None, None, SIGNATURES[1]])
        workbook.save(path)
        return lines

    @staticmethod
    def _cells(sheet: Any, row: ExportRow, rng: random.Random) -> list[Any]:
        pupil, person = row.pupil, row.pupil.person
        birth: Any = row.birth
        if isinstance(birth, date):
            # Drawn for every date, so that the same seed gives the same cells.
            if rng.random() < TEXT_DATE_SHARE:
                birth = birth.strftime(DATE_TEXT)
            else:
                birth = WriteOnlyCell(sheet, value=birth)
                birth.number_format = "DD/MM/YYYY"
        female = "x" if person.sex == "female" else None
        address = [cell or None for cell in row.address_cells()]
        return [pupil.number, row.code, person.master_id, row.family_middle, row.given, birth,
                female, row.ethnic, pupil.status_name, row.personal_id, pupil.school_code,
                pupil.school_name, *address]


class _Csv1258Shape:
    name = "csv1258"
    suffix = "csv"
    sheet: str | None = None
    faults: tuple[VendorFault, ...] = tuple(
        kind for kind in VendorFault if kind is not VendorFault.NAME_NFD
    )
    columns = {
        VendorFault.BIRTH_DATE_INVALID: BIRTH_DATE,
        VendorFault.BIRTH_DATE_TWO_DIGIT_YEAR: BIRTH_DATE,
        VendorFault.ETHNIC_GROUP_UNKNOWN: ETHNIC_GROUP,
        VendorFault.LOCAL_ID_DUPLICATE: LOCAL_CODE,
        VendorFault.COMMUNE_UNKNOWN: CSV_COMMUNE,
        VendorFault.COMMUNE_OTHER_PROVINCE: CSV_COMMUNE,
        VendorFault.PERSONAL_ID_ZERO_LOST: PERSONAL_ID,
    }

    def write(self, path: Path, school: School, rows: list[ExportRow], rng: random.Random) -> list[int]:
        with path.open("w", encoding="cp1258", newline="") as handle:
            writer = csv.writer(handle, delimiter=CSV_DELIMITER, lineterminator="\r\n")
            writer.writerow([windows_1258_form(header) for header in CSV_HEADER])
            for number, row in enumerate(rows, start=1):
                writer.writerow([windows_1258_form(str(cell)) for cell in self._cells(number, row)])
        # One line per row: no cell holds a line break.
        return list(range(2, len(rows) + 2))

    @staticmethod
    def _cells(number: int, row: ExportRow) -> list[object]:
        pupil, person = row.pupil, row.pupil.person
        birth = row.birth.strftime(DATE_TEXT) if isinstance(row.birth, date) else row.birth
        gender = "Nữ" if person.sex == "female" else "Nam"
        return [number, pupil.school_code, pupil.school_name, pupil.homeroom.title, row.code,
                person.master_id, f"{row.family_middle} {row.given}", birth, gender, row.ethnic,
                pupil.status_name, row.personal_id, *row.address_cells()]


# Tone marks, which Windows-1258 writes as combining characters after the letter.
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def windows_1258_form(text: str) -> str:
    """Return ``text`` in the form that Windows-1258 can encode.

    The code page holds the letters with a circumflex, breve or horn (â, ơ, ư) and some toned
    letters (á, è), but most toned letters only as a base letter plus a combining tone mark:
    "ễ" becomes "ê" followed by U+0303. Letters the code page holds whole stay as they are.
    """
    parts = []
    for char in unicodedata.normalize("NFC", text):
        try:
            char.encode("cp1258")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFD", char)
            base = "".join(mark for mark in decomposed if mark not in _TONE_MARKS)
            tones = "".join(mark for mark in decomposed if mark in _TONE_MARKS)
            char = unicodedata.normalize("NFC", base) + tones
        parts.append(char)
    return "".join(parts)


def _blocks(rows: list[ExportRow]) -> Iterator[tuple[HomeroomClass, list[ExportRow]]]:
    """Group consecutive rows by class, in the order given."""
    block: list[ExportRow] = []
    for row in rows:
        if block and row.pupil.homeroom is not block[0].pupil.homeroom:
            yield block[0].pupil.homeroom, block
            block = []
        block.append(row)
    if block:
        yield block[0].pupil.homeroom, block


# --- Writers ---


def write_vendor_xlsx(
    out_dir: Path,
    size: str | CitySize = "small",
    seed: int = 2025,
    fault_rate: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VendorSummary:
    """Write one vnEdu-style XLSX workbook per school of the demo city into ``out_dir``.

    Arguments, faults and errors are those of ``write_oneroster``: ``fault_rate`` is 1% by
    default and 0 writes clean files. Workbooks of an earlier run in ``out_dir`` are removed.
    Raises ``ConfigurationError`` for an unknown size or a rate outside [0, 1], and
    ``PermanentError`` when the folder cannot be written.
    """
    return _write_shape(_XlsxShape(), out_dir, size, seed, fault_rate, progress)


def write_vendor_csv1258(
    out_dir: Path,
    size: str | CitySize = "small",
    seed: int = 2025,
    fault_rate: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VendorSummary:
    """Write one Windows-1258 CSV pupil list per school of the demo city into ``out_dir``.

    As ``write_vendor_xlsx``, without the NFD fault, which Windows-1258 cannot hold. The
    same arguments give byte-identical files.
    """
    return _write_shape(_Csv1258Shape(), out_dir, size, seed, fault_rate, progress)


def _write_shape(
    shape: _Shape,
    out_dir: Path,
    size: str | CitySize,
    seed: int,
    fault_rate: float | None,
    progress: Callable[[int, int], None] | None,
) -> VendorSummary:
    spec = _resolve_size(size)
    rate = _check_rate(fault_rate)
    out_dir = Path(out_dir)
    started = time.monotonic()
    summary = VendorSummary(out_dir, spec.name, seed, rate, shape=shape.name)
    planner = _FaultPlanner(seed, rate, shape.faults, shape.name)
    log.info("demo export started",
             extra=fields(shape=shape.name, size=spec.name, seed=seed, schools=spec.school_count))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for old in out_dir.glob(f"*-{FILE_STEM}.{shape.suffix}"):
            old.unlink()
        for done, (school, pupils) in enumerate(city_pupils(spec, seed), start=1):
            _write_school(shape, out_dir, school, pupils, planner, summary)
            if progress is not None:
                progress(done, spec.school_count)
    except OSError as exc:
        raise PermanentError(
            "demo.write_failed", path=str(out_dir), reason=exc.strerror or str(exc)
        ) from exc

    summary.faults = {kind.value: planner.counts[kind] for kind in REJECTED_FAULTS}
    summary.normalised = {kind.value: planner.counts[kind] for kind in NORMALISED_FAULTS
                          if kind in shape.faults}
    summary.seconds = time.monotonic() - started
    log.info(
        "demo export written",
        extra=fields(shape=shape.name, size=spec.name, seed=seed, schools=len(summary.schools),
                     students=summary.students, faults=sum(summary.faults.values()),
                     seconds=round(summary.seconds, 2)),
    )
    return summary


def _write_school(shape: _Shape, out_dir: Path, school: School, pupils: list[Pupil],
                  planner: _FaultPlanner, summary: VendorSummary) -> None:
    faults = planner.for_school(school.plan.code, len(pupils))
    rows = [ExportRow.of(pupil) for pupil in pupils]
    planted = [faults.apply(index, row) for index, row in enumerate(rows)]
    faults.close()

    name = f"{school.plan.code}-{FILE_STEM}.{shape.suffix}"
    # Seeded for repeatable demo data, not for anything secret.
    rng = random.Random(f"{planner.seed}/{school.plan.code}/{shape.name}/cells")  # noqa: S311
    lines = shape.write(out_dir / name, school, rows, rng)

    summary.files[name] = len(rows)
    # A pupil list carries no staff.
    summary.schools.append(SchoolSummary(school.sourced_id, school.plan.code, school.plan.name,
                                         school.plan.level.value, len(school.classes),
                                         school.count(Role.STUDENT), 0))
    for row, kind, line in zip(rows, planted, lines, strict=True):
        if kind is not None:
            summary.planted.append(PlantedFault(kind, name, shape.sheet, line, shape.columns[kind],
                                                row.code, row.pupil.person.master_id))
    log.debug("demo export school written",
              extra=fields(shape=shape.name, school=school.plan.code, pupils=len(rows)))
