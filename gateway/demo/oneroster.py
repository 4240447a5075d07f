"""Write the demo city as a OneRoster 1.2 bulk CSV package.

The package is a folder with ``manifest.csv`` and seven bulk files (orgs,
academicSessions, classes, users, roles, demographics, enrollments). Files are
UTF-8 without BOM, with CRLF line ends, written by the ``csv`` module.

Schools are built, written and dropped one at a time while all seven files stay
open, so memory follows the largest school and not the number of students.
``manifest.csv`` is written last: a folder without it is an interrupted run.

Known departures from the specification, on purpose:

- ``classes.courseSourcedId`` is empty although the spec requires it: homeroom
  classes belong to no course and the package has no ``courses.csv``.
- The faults listed in ``gateway.demo.faults``.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from gateway.demo import city
from gateway.demo.city import CitySize, Person, Role, School
from gateway.demo.faults import NORMALISED, REJECTED, FaultInjector, PersonRows
from gateway.errors import ConfigurationError, PermanentError
from gateway.i18n import translate
from gateway.logs import fields

log = logging.getLogger(__name__)

DEFAULT_FAULT_RATE = 0.01
SYSTEM_NAME = "Demo city generator"
SYSTEM_CODE = "demo-city"
# One timestamp for every row, so that the same seed gives the same bytes.
DATE_LAST_MODIFIED = "2025-09-05T00:00:00.000Z"

# Every file of a OneRoster 1.2 CSV package, in the order of the spec's manifest.
MANIFEST_FILES = (
    "academicSessions",
    "categories",
    "classes",
    "classResources",
    "courses",
    "courseResources",
    "demographics",
    "enrollments",
    "lineItemLearningObjectiveIds",
    "lineItems",
    "lineItemScoreScales",
    "orgs",
    "resources",
    "resultLearningObjectiveIds",
    "results",
    "resultScoreScales",
    "roles",
    "scoreScales",
    "userProfiles",
    "userResources",
    "users",
)

HEADERS: Mapping[str, tuple[str, ...]] = {
    "orgs": (
        "sourcedId",
        "status",
        "dateLastModified",
        "name",
        "type",
        "identifier",
        "parentSourcedId",
    ),
    "academicSessions": (
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "type",
        "startDate",
        "endDate",
        "parentSourcedId",
        "schoolYear",
    ),
    "classes": (
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ),
    "users": (
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
        "userMasterIdentifier",
        "preferredGivenName",
        "preferredMiddleName",
        "preferredFamilyName",
        "primaryOrgSourcedId",
        "pronouns",
    ),
    "roles": (
        "sourcedId",
        "status",
        "dateLastModified",
        "userSourcedId",
        "roleType",
        "role",
        "beginDate",
        "endDate",
        "orgSourcedId",
        "userProfileSourcedId",
    ),
    "demographics": (
        "sourcedId",
        "status",
        "dateLastModified",
        "birthDate",
        "sex",
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
        "countryOfBirthCode",
        "stateOfBirthAbbreviation",
        "cityOfBirth",
        "publicSchoolResidenceStatus",
    ),
    "enrollments": (
        "sourcedId",
        "status",
        "dateLastModified",
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ),
}
_COLUMNS = {table: frozenset(header) for table, header in HEADERS.items()}


@dataclass
class SchoolSummary:
    sourced_id: str
    identifier: str
    name: str
    level: str
    classes: int
    students: int
    staff: int


@dataclass
class DemoSummary:
    """Record of one ``write_oneroster`` run: rows per file, each school, faults by kind."""

    package: Path
    size: str
    seed: int
    fault_rate: float
    files: dict[str, int] = field(default_factory=dict)  # "users.csv": data rows
    schools: list[SchoolSummary] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)  # rejected kinds, one row each
    normalised: dict[str, int] = field(default_factory=dict)  # accepted after NFC
    seconds: float = 0.0

    @property
    def students(self) -> int:
        return sum(s.students for s in self.schools)

    @property
    def staff(self) -> int:
        return sum(s.staff for s in self.schools)

    @property
    def classes(self) -> int:
        return sum(s.classes for s in self.schools)

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-ready values."""
        return {
            "package": str(self.package),
            "size": self.size,
            "seed": self.seed,
            "fault_rate": self.fault_rate,
            "totals": {
                "schools": len(self.schools),
                "classes": self.classes,
                "students": self.students,
                "staff": self.staff,
            },
            "files": dict(self.files),
            "schools": [asdict(school) for school in self.schools],
            "faults": dict(self.faults),
            "normalised": dict(self.normalised),
            "seconds": round(self.seconds, 3),
        }

    def fault_detail(self, lang: str | None = None) -> str:
        """Return the faults as "label: count" text, for the ``demo.faults`` message."""
        counts = {**self.faults, **self.normalised}
        parts = []
        for kind, count in counts.items():
            if count:
                label = translate(f"demo.fault.{kind}", lang)
                parts.append(f"{label}: {count}")
        return ", ".join(parts) or translate("demo.fault.none", lang)


def write_oneroster(
    out_dir: Path,
    size: str | CitySize = "small",
    seed: int = 2025,
    fault_rate: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Write the demo city of ``size`` as a OneRoster 1.2 bulk package in ``out_dir``.

    ``size`` is a key of ``SIZES`` or a ``CitySize``. ``fault_rate`` is the
    share of people given a fault: 1% by default, and 0 writes a clean package.
    ``progress`` is called with (schools written, schools in total).
    The same arguments give byte-identical files. Existing package files in
    ``out_dir`` are replaced.

    Raises ``ConfigurationError`` for an unknown size or a rate outside [0, 1],
    and ``PermanentError`` when the folder cannot be written.
    """
    spec = _resolve_size(size)
    rate = _check_rate(fault_rate)
    out_dir = Path(out_dir)
    started = time.monotonic()
    summary = DemoSummary(out_dir, spec.name, seed, rate)
    injector = FaultInjector(seed, rate)
    log.info(
        "demo city started", extra=fields(size=spec.name, seed=seed, schools=spec.school_count)
    )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "manifest.csv").unlink(missing_ok=True)
        with _PackageWriter(out_dir) as writer:
            _write_city(writer, spec, seed, injector, summary, progress)
        _write_manifest(out_dir)
    except OSError as exc:
        raise PermanentError(
            "demo.write_failed", path=str(out_dir), reason=exc.strerror or str(exc)
        ) from exc

    summary.files = {f"{table}.csv": count for table, count in writer.counts.items()}
    summary.faults = {kind.value: injector.counts[kind] for kind in REJECTED}
    summary.normalised = {kind.value: injector.counts[kind] for kind in NORMALISED}
    summary.seconds = time.monotonic() - started
    log.info(
        "demo city written",
        extra=fields(
            size=spec.name,
            seed=seed,
            schools=len(summary.schools),
            students=summary.students,
            staff=summary.staff,
            faults=sum(summary.faults.values()),
            seconds=round(summary.seconds, 2),
        ),
    )
    return summary


def _resolve_size(size: str | CitySize) -> CitySize:
    if isinstance(size, CitySize):
        return size
    if size not in city.SIZES:
        raise ConfigurationError("demo.size_unknown", size=size, sizes=", ".join(city.SIZES))
    return city.SIZES[size]


def _check_rate(fault_rate: float | None) -> float:
    if fault_rate is None:
        return DEFAULT_FAULT_RATE
    if not 0 <= fault_rate <= 1:
        raise ConfigurationError("demo.fault_rate_invalid", value=fault_rate)
    return float(fault_rate)


def _write_city(
    writer: _PackageWriter,
    spec: CitySize,
    seed: int,
    injector: FaultInjector,
    summary: DemoSummary,
    progress: Callable[[int, int], None] | None,
) -> None:
    writer.write("orgs", _department_row(seed))
    for row in _session_rows(seed):
        writer.write("academicSessions", row)

    faker = city.new_faker()
    for done, plan in enumerate(city.plan_city(spec, seed), start=1):
        school = city.build_school(plan, faker, seed)
        for table, row in _school_rows(school, injector, seed):
            writer.write(table, row)
        summary.schools.append(_school_summary(school))
        log.debug(
            "demo school written",
            extra=fields(school=plan.code, classes=len(school.classes), people=len(school.people)),
        )
        if progress is not None:
            progress(done, spec.school_count)


def _school_summary(school: School) -> SchoolSummary:
    students = school.count(Role.STUDENT)
    return SchoolSummary(
        school.sourced_id,
        school.plan.code,
        school.plan.name,
        school.plan.level.value,
        len(school.classes),
        students,
        len(school.people) - students,
    )


class _PackageWriter:
    """Seven bulk files, open together, with the number of data rows written to each."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.counts = dict.fromkeys(HEADERS, 0)
        self._handles: list[IO[str]] = []
        self._writers: dict[str, Any] = {}

    def __enter__(self) -> _PackageWriter:
        try:
            for table, header in HEADERS.items():
                handle = (self.folder / f"{table}.csv").open("w", encoding="utf-8", newline="")
                self._handles.append(handle)
                self._writers[table] = csv.writer(handle, lineterminator="\r\n")
                self._writers[table].writerow(header)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def write(self, table: str, row: Mapping[str, str]) -> None:
        # A misspelt column would otherwise be written as an empty cell.
        assert row.keys() <= _COLUMNS[table], sorted(row.keys() - _COLUMNS[table])
        self._writers[table].writerow([row.get(column, "") for column in HEADERS[table]])
        self.counts[table] += 1

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._handles.clear()


def _write_manifest(folder: Path) -> None:
    rows = [("manifest.version", "1.0"), ("oneroster.version", "1.2")]
    rows += [(f"file.{name}", "bulk" if name in HEADERS else "absent") for name in MANIFEST_FILES]
    rows += [("source.systemName", SYSTEM_NAME), ("source.systemCode", SYSTEM_CODE)]
    with (folder / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(("propertyName", "value"))
        writer.writerows(rows)


# --- Rows ---


def _base(sourced_id: str) -> dict[str, str]:
    return {"sourcedId": sourced_id, "status": "active", "dateLastModified": DATE_LAST_MODIFIED}


def _department_row(seed: int) -> dict[str, str]:
    return _base(city.department_id(seed)) | {
        "name": city.DEPARTMENT_NAME,
        "type": "district",
        "identifier": city.DEPARTMENT_CODE,
    }


def _session_rows(seed: int) -> Iterator[dict[str, str]]:
    year_id, semester_ids = city.session_ids(seed)
    yield _base(year_id) | {
        "title": city.SCHOOL_YEAR_TITLE,
        "type": "schoolYear",
        "startDate": city.YEAR_START.isoformat(),
        "endDate": city.YEAR_END.isoformat(),
        "schoolYear": city.SCHOOL_YEAR,
    }
    for semester_id, (title, start, end) in zip(semester_ids, city.SEMESTERS, strict=True):
        yield _base(semester_id) | {
            "title": title,
            "type": "semester",
            "startDate": start.isoformat(),
            "endDate": end.isoformat(),
            "parentSourcedId": year_id,
            "schoolYear": city.SCHOOL_YEAR,
        }


def _school_rows(school: School, injector: FaultInjector, seed: int) -> Iterator[tuple[str, Any]]:
    """Yield (table, row) for one school: its org, classes, then each person's rows."""
    yield (
        "orgs",
        _base(school.sourced_id)
        | {
            "name": school.plan.name,
            "type": "school",
            "identifier": school.plan.code,
            "parentSourcedId": city.department_id(seed),
        },
    )
    terms = ",".join(city.session_ids(seed)[1])
    for homeroom in school.classes:
        yield (
            "classes",
            _base(homeroom.sourced_id)
            | {
                "title": homeroom.title,
                "grades": homeroom.grade,
                "classCode": homeroom.title,
                "classType": "homeroom",
                "location": homeroom.location,
                "schoolSourcedId": school.sourced_id,
                "termSourcedIds": terms,
            },
        )

    enrollments = _enrollments_by_person(school, seed)
    faults = injector.for_school(school)
    for person in school.people:
        rows = _person_rows(school, person, enrollments.pop(person.index, []), seed)
        faults.apply(person, rows)
        yield "users", rows.user
        if rows.duplicate is not None:
            yield "users", rows.duplicate
        yield "roles", rows.role
        yield "demographics", rows.demographics
        for enrollment in rows.enrollments:
            yield "enrollments", enrollment
    faults.close()


def _enrollments_by_person(school: School, seed: int) -> dict[int, list[dict[str, str]]]:
    """Return each person's homeroom enrollments, keyed by ``Person.index``."""
    result: dict[int, list[dict[str, str]]] = {}
    for homeroom in school.classes:
        members = [(index, "student", True) for index in homeroom.students]
        members += [(index, "teacher", n == 0) for n, index in enumerate(homeroom.teachers)]
        for index, role, primary in members:
            user_id = school.people[index].sourced_id
            result.setdefault(index, []).append(
                _base(city.sourced_id(seed, "enrollment", f"{homeroom.sourced_id}/{user_id}"))
                | {
                    "classSourcedId": homeroom.sourced_id,
                    "schoolSourcedId": school.sourced_id,
                    "userSourcedId": user_id,
                    "role": role,
                    "primary": "true" if primary else "false",
                    "beginDate": city.YEAR_START.isoformat(),
                }
            )
    return result


def _person_rows(
    school: School, person: Person, enrollments: list[dict[str, str]], seed: int
) -> PersonRows:
    user = _base(person.sourced_id) | {
        "enabledUser": "true",
        "username": person.username,
        "givenName": person.given,
        "familyName": person.family,
        "middleName": person.middle,
        "identifier": person.local_code,
        "email": person.email,
        "phone": person.phone,
        "grades": person.grade,
        "password": person.password,
        "userMasterIdentifier": person.master_id,
        "primaryOrgSourcedId": school.sourced_id,
    }
    role = _base(city.sourced_id(seed, "role", person.sourced_id)) | {
        "userSourcedId": person.sourced_id,
        "roleType": "primary",
        "role": person.role.value,
        "beginDate": city.YEAR_START.isoformat(),
        "orgSourcedId": school.sourced_id,
    }
    # OneRoster keys a demographics row by the sourcedId of its user.
    demographics = _base(person.sourced_id) | {
        "birthDate": person.birth_date.isoformat(),
        "sex": person.sex,
    }
    return PersonRows(user, role, demographics, enrollments)
