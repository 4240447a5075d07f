"""The demo city: a synthetic Cần Thơ school system for demos, tests and benchmarks.

``write_oneroster`` writes, from a seed, the schools of a fictional city as a
OneRoster 1.2 bulk CSV package, the way a school-management product would
export them. The package holds the Department of Education and Training, its
preschools, primary, lower and upper secondary schools, and their homeroom
classes for the 2025-2026 school year with students, teachers and principals.
A controlled share of faulty rows is planted for the gateway to reject or repair.

``write_vendor_xlsx`` and ``write_vendor_csv1258`` write the same pupils as the
exports of a school-management product: one vnEdu-style workbook, or one
Windows-1258 CSV list, per school, for the ``school-export`` adapter.

What it is not:

- Not real people. Names are drawn at random from Faker's Vietnamese lists,
  birth dates are random within the age of the grade, and phone numbers and
  e-mail addresses are made up (e-mail uses the reserved ``.example`` domain).
  Any match with a living person is chance.
- Not real codes. School codes, Ministry identifiers and local codes have the
  look of real ones (digit strings kept as text, some starting with 0) but are
  computed from the seed: they identify nobody in the Ministry's database.
  The department's code and name, the school-naming pattern and the number of
  schools per level do follow the real city.
- Not a statistical model. Class sizes, staffing and the share of women among
  staff are plausible round figures, not official statistics.
"""

from gateway.demo.city import SIZES, CitySize, Level
from gateway.demo.faults import FaultKind
from gateway.demo.oneroster import DemoSummary, SchoolSummary, write_oneroster
from gateway.demo.vendor import (
    PlantedFault,
    Pupil,
    VendorFault,
    VendorSummary,
    city_pupils,
    write_vendor_csv1258,
    write_vendor_xlsx,
)

__all__ = [
    "SIZES",
    "CitySize",
    "DemoSummary",
    "FaultKind",
    "Level",
    "PlantedFault",
    "Pupil",
    "SchoolSummary",
    "VendorFault",
    "VendorSummary",
    "city_pupils",
    "write_oneroster",
    "write_vendor_csv1258",
    "write_vendor_xlsx",
]
