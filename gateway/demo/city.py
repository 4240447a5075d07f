"""The model of the synthetic city: its sizes, its schools and the people in them.

A city is a sequence of ``SchoolPlan`` values (cheap: a name and a code) that
``build_school`` turns, one at a time, into a ``School`` with its homeroom
classes, students and staff. Nothing here keeps more than one school, so
memory follows the largest school, not the city.

Everything is derived from the seed and the school's code. The people of a
school depend on neither the other schools nor the size requested, only on
the school's shape (classes per grade, class sizes). Sizes with the same
shapes, like ``medium`` and ``full``, therefore share their first schools.

NOTE: names come from Faker's ``vi_VN`` provider (ten family names in Faker
40), so the same seed gives the same people only with the same Faker version.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from faker import Faker

from gateway.text import match_key

# --- Facts of the demo city, kept together so that they read as data. ---

DEPARTMENT_NAME = "Sở Giáo dục và Đào tạo thành phố Cần Thơ"
# The Ministry's department code of Cần Thơ, as used in exam numbers.
DEPARTMENT_CODE = "55"
# School codes number the schools by the 28 districts that existed before July 2025.
FORMER_DISTRICTS = 28

SCHOOL_YEAR_TITLE = "Năm học 2025-2026"
SCHOOL_YEAR = "2026"  # OneRoster names a school year by the calendar year it ends in.
YEAR_START = date(2025, 9, 5)
YEAR_END = date(2026, 5, 31)
# Semester bounds follow the usual Ministry calendar, where term I ends in
# mid-January. They are the demo's assumption, not a published date.
SEMESTERS = (
    ("Học kỳ I", date(2025, 9, 5), date(2026, 1, 17)),
    ("Học kỳ II", date(2026, 1, 19), date(2026, 5, 31)),
)
# Ages are reached during this calendar year: grade 1 pupils turn 6 in 2025.
AGE_YEAR = 2025

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://demo-city.example/edu-gateway")
EMAIL_DOMAIN = "demo-cantho.example"  # .example is reserved (RFC 2606): mail never leaves


class Level(StrEnum):
    PRESCHOOL = "preschool"
    PRIMARY = "primary"
    LOWER_SECONDARY = "lower_secondary"
    UPPER_SECONDARY = "upper_secondary"


class Role(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    PRINCIPAL = "principal"


@dataclass(frozen=True)
class GradeGroup:
    """One grade of a level: class titles start with ``prefix`` ("6A" gives "6A1")."""

    prefix: str
    grade: str  # OneRoster grade code: "PK" for every preschool group, "01" to "12"
    age: int


@dataclass(frozen=True)
class LevelFacts:
    """Facts shared by every school of a level, whatever the size of the city."""

    school_title: str
    digit: int  # the level's digit in a school code
    groups: tuple[GradeGroup, ...]
    homeroom_teachers: int  # teachers enrolled in each homeroom class
    female_staff_share: float
    district_offset: int  # spreads the first schools of each level over different districts


def _grades(first: int, last: int) -> tuple[GradeGroup, ...]:
    return tuple(GradeGroup(f"{g}A", f"{g:02d}", 5 + g) for g in range(first, last + 1))


LEVELS: Mapping[Level, LevelFacts] = {
    Level.PRESCHOOL: LevelFacts(
        "Trường Mầm non",
        1,
        (GradeGroup("Mầm ", "PK", 3), GradeGroup("Chồi ", "PK", 4), GradeGroup("Lá ", "PK", 5)),
        homeroom_teachers=2,
        female_staff_share=0.98,
        district_offset=0,
    ),
    Level.PRIMARY: LevelFacts(
        "Trường Tiểu học",
        2,
        _grades(1, 5),
        homeroom_teachers=1,
        female_staff_share=0.8,
        district_offset=5,
    ),
    Level.LOWER_SECONDARY: LevelFacts(
        "Trường THCS",
        3,
        _grades(6, 9),
        homeroom_teachers=1,
        female_staff_share=0.7,
        district_offset=12,
    ),
    Level.UPPER_SECONDARY: LevelFacts(
        "Trường THPT",
        4,
        _grades(10, 12),
        homeroom_teachers=1,
        female_staff_share=0.6,
        district_offset=19,
    ),
}


# --- Sizes ---


@dataclass(frozen=True)
class LevelShape:
    """Size of the schools of one level in a city size (ranges are inclusive)."""

    classes_per_grade: tuple[int, int]
    class_size: tuple[int, int]
    subject_teachers_per_class: float = 0.0
    subject_teachers_min: int = 0


@dataclass(frozen=True)
class CitySize:
    """A city size: how many schools of each level, and how big they are."""

    name: str
    schools: Mapping[Level, int]
    shapes: Mapping[Level, LevelShape]

    @property
    def school_count(self) -> int:
        return sum(self.schools.values())


# Schools of real size. With seed 2025, ``full`` averages 233 children per
# preschool and 596, 748 and 897 pupils per primary, lower and upper secondary
# school: 654,406 pupils, 19,145 classes and 37,856 staff in all.
_REALISTIC = {
    Level.PRESCHOOL: LevelShape((2, 4), (22, 30)),
    Level.PRIMARY: LevelShape((2, 5), (30, 38), 0.5, 4),
    Level.LOWER_SECONDARY: LevelShape((4, 6), (35, 41), 1.3, 9),
    Level.UPPER_SECONDARY: LevelShape((5, 10), (36, 42), 1.5, 10),
}
# One class per grade, so that a small city still covers every level in seconds.
_SMALL = {
    Level.PRESCHOOL: LevelShape((1, 1), (18, 24)),
    Level.PRIMARY: LevelShape((1, 1), (24, 30), 0.0, 4),
    Level.LOWER_SECONDARY: LevelShape((1, 1), (32, 38), 0.0, 9),
    Level.UPPER_SECONDARY: LevelShape((1, 1), (35, 42), 0.0, 10),
}
_TINY = {level: LevelShape((1, 1), (4, 6), 0.0, 1) for level in Level}

SIZES: Mapping[str, CitySize] = {
    "tiny": CitySize("tiny", {Level.PRIMARY: 1, Level.UPPER_SECONDARY: 1}, _TINY),
    "small": CitySize(
        "small",
        {Level.PRESCHOOL: 1, Level.PRIMARY: 2, Level.LOWER_SECONDARY: 1, Level.UPPER_SECONDARY: 1},
        _SMALL,
    ),
    "medium": CitySize(
        "medium",
        {
            Level.PRESCHOOL: 31,
            Level.PRIMARY: 40,
            Level.LOWER_SECONDARY: 20,
            Level.UPPER_SECONDARY: 9,
        },
        _REALISTIC,
    ),
    "full": CitySize(
        "full",
        {
            Level.PRESCHOOL: 381,
            Level.PRIMARY: 488,
            Level.LOWER_SECONDARY: 242,
            Level.UPPER_SECONDARY: 104,
        },
        _REALISTIC,
    ),
}


# --- Schools and people ---


@dataclass(frozen=True)
class SchoolPlan:
    """A school before its people exist: level, running number in its level, code, name."""

    level: Level
    number: int
    code: str
    name: str
    shape: LevelShape

    @property
    def facts(self) -> LevelFacts:
        return LEVELS[self.level]


@dataclass(slots=True)
class Person:
    """A student or staff member. ``index`` is unique within the school."""

    index: int
    role: Role
    sourced_id: str
    master_id: str
    local_code: str
    family: str
    middle: str
    given: str
    sex: str
    birth_date: date
    grade: str = ""
    username: str = ""
    email: str = ""
    phone: str = ""
    password: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.family, self.middle, self.given) if part)


@dataclass(slots=True)
class HomeroomClass:
    sourced_id: str
    title: str
    grade: str
    age: int
    location: str
    students: list[int] = field(default_factory=list)  # Person.index values
    teachers: list[int] = field(default_factory=list)  # the first is the primary teacher


@dataclass
class School:
    plan: SchoolPlan
    sourced_id: str
    classes: list[HomeroomClass]
    people: list[Person]  # students first, then the principal, then teachers

    def count(self, role: Role) -> int:
        return sum(1 for person in self.people if person.role is role)


def sourced_id(seed: int, kind: str, key: str) -> str:
    """Return a stable UUID for one object of the demo city."""
    return str(uuid.uuid5(NAMESPACE, f"{seed}/{kind}/{key}"))


def department_id(seed: int) -> str:
    return sourced_id(seed, "org", DEPARTMENT_CODE)


def session_ids(seed: int) -> tuple[str, list[str]]:
    """Return the sourcedIds of the school year and of its semesters."""
    year = sourced_id(seed, "session", SCHOOL_YEAR)
    return year, [sourced_id(seed, "session", f"{SCHOOL_YEAR}/{n}") for n in (1, 2)]


def plan_city(size: CitySize, seed: int) -> Iterator[SchoolPlan]:
    """Yield the schools of ``size`` in writing order: by level, then by number.

    For one seed, the school at a given level and number has the same code and
    name in every size. Its people are the same too where the sizes share the
    school's shape, as ``medium`` and ``full`` do.
    """
    honorees = _honorees()
    for level, count in size.schools.items():
        names = list(honorees)
        # Seeded shuffle for repeatable demo data, not for anything secret.
        random.Random(f"{seed}/{level}/names").shuffle(names)  # noqa: S311
        for number in range(count):
            yield SchoolPlan(
                level,
                number,
                _school_code(level, number),
                _school_name(level, number, names),
                size.shapes[level],
            )


def _honorees() -> tuple[str, ...]:
    """Return Faker's vi_VN street names fit to name a school: people, events, ideals."""
    provider = Faker("vi_VN").provider("faker.providers.address")
    streets: tuple[str, ...] = getattr(provider, "streets", ())
    # Keep "Trần Hưng Đạo", drop "30 Tháng 4", "Pasteur" and "Alexandre de Rhodes".
    return tuple(
        s
        for s in dict.fromkeys(streets)
        if " " in s and not any(ch.isdigit() for ch in s) and all(w[0].isupper() for w in s.split())
    )


def _school_code(level: Level, number: int) -> str:
    """Return a six-digit code: former district (01-28), level digit, number in that district."""
    facts = LEVELS[level]
    district = (number + facts.district_offset) % FORMER_DISTRICTS + 1
    return f"{district:02d}{facts.digit}{number // FORMER_DISTRICTS + 1:03d}"


def _school_name(level: Level, number: int, honorees: list[str]) -> str:
    honoree = honorees[number % len(honorees)]
    repeat = number // len(honorees)
    # A numeral keeps names unique once every honoree is taken at this level.
    suffix = f" {repeat + 1}" if repeat else ""
    return f"{LEVELS[level].school_title} {honoree}{suffix}"


def new_faker() -> Faker:
    """Return the Faker that ``build_school`` reseeds for each school."""
    return Faker("vi_VN")


def build_school(plan: SchoolPlan, faker: Faker, seed: int) -> School:
    """Build one school's classes and people, seeded by ``seed`` and the school's code."""
    faker.seed_instance(f"{seed}/{plan.code}")
    builder = _SchoolBuilder(plan, faker, seed)
    classes = builder.classes()
    students = builder.students(classes)
    staff = builder.staff(classes, first_index=len(students))
    return School(plan, sourced_id(seed, "org", plan.code), classes, students + staff)


class _SchoolBuilder:
    """Steps of ``build_school``. All randomness comes from the seeded ``faker``."""

    def __init__(self, plan: SchoolPlan, faker: Faker, seed: int):
        self.plan = plan
        self.faker = faker
        self.random: random.Random = faker.random
        self.seed = seed
        self.usernames: dict[str, int] = {}

    def classes(self) -> list[HomeroomClass]:
        low, high = self.plan.shape.classes_per_grade
        result: list[HomeroomClass] = []
        for group in self.plan.facts.groups:
            for n in range(1, self.random.randint(low, high) + 1):
                title = f"{group.prefix}{n}"
                result.append(
                    HomeroomClass(
                        sourced_id(self.seed, "class", f"{self.plan.code}/{title}"),
                        title,
                        group.grade,
                        group.age,
                        f"Phòng {len(result) + 1}",
                    )
                )
        return result

    def students(self, classes: list[HomeroomClass]) -> list[Person]:
        low, high = self.plan.shape.class_size
        people: list[Person] = []
        for homeroom in classes:
            for _ in range(self.random.randint(low, high)):
                sex = "male" if self.random.random() < 0.51 else "female"
                birth = _random_birth(self.random, homeroom.age)
                person = self._person(len(people), Role.STUDENT, sex, birth)
                person.grade = homeroom.grade
                person.username = person.master_id
                homeroom.students.append(person.index)
                people.append(person)
        return people

    def staff(self, classes: list[HomeroomClass], first_index: int) -> list[Person]:
        facts, shape = self.plan.facts, self.plan.shape
        homeroom_count = len(classes) * facts.homeroom_teachers
        subject_count = max(
            shape.subject_teachers_min, round(len(classes) * shape.subject_teachers_per_class)
        )
        roles = [Role.PRINCIPAL] + [Role.TEACHER] * (homeroom_count + subject_count)
        people = []
        for offset, role in enumerate(roles):
            sex = "female" if self.random.random() < facts.female_staff_share else "male"
            youngest, oldest = (40, 57) if role is Role.PRINCIPAL else (23, 59)
            age = self.random.randint(youngest, oldest)
            birth = _random_birth(self.random, age)
            people.append(self._person(first_index + offset, role, sex, birth))
            self._contact(people[-1])
        # Teachers take the homerooms in order, and the rest teach subjects only.
        teachers = iter(p.index for p in people if p.role is Role.TEACHER)
        for _ in range(facts.homeroom_teachers):
            for homeroom in classes:
                homeroom.teachers.append(next(teachers))
        return people

    def _person(self, index: int, role: Role, sex: str, birth: date) -> Person:
        family, middle, given = vietnamese_name(self.faker, sex)
        prefix = "HS" if role is Role.STUDENT else "GV"
        return Person(
            index=index,
            role=role,
            sourced_id=sourced_id(self.seed, "user", f"{self.plan.code}/{index}"),
            master_id=_master_id(self.plan, index, self.seed),
            local_code=f"{prefix}{index + 1:05d}",
            family=family,
            middle=middle,
            given=given,
            sex=sex,
            birth_date=birth,
            password=self.faker.password(length=10),
        )

    def _contact(self, person: Person) -> None:
        initials = "".join(match_key(w)[:1] for w in f"{person.family} {person.middle}".split())
        base = match_key(person.given).replace(" ", "") + initials
        seen = self.usernames.get(base, 0)
        self.usernames[base] = seen + 1
        local = f"{base}{seen + 1}" if seen else base
        person.username = f"{local}.{self.plan.code}"
        person.email = f"{local}.{self.plan.code}@{EMAIL_DOMAIN}"
        # Vietnamese mobile numbers: ten digits, starting 03, 05, 07, 08 or 09.
        person.phone = self.faker.numerify("0" + self.random.choice("35789") + "########")


def vietnamese_name(faker: Faker, sex: str) -> tuple[str, str, str]:
    """Return (family, middle, given) names drawn from Faker's vi_VN lists.

    Faker 40 gives ``last_name``, ``middle_name`` and given names by sex plus
    ``first_name_unisex``. Its ``name()`` puts the given name first, the
    Western way, so the parts are drawn one by one here. "Thị" marks women and
    "Văn" marks men, so the other sex never gets them.
    """
    excluded = "Văn" if sex == "female" else "Thị"
    middle = faker.middle_name()
    while middle == excluded:
        middle = faker.middle_name()
    if faker.random.random() < 0.2:
        given = faker.first_name_unisex()
    elif sex == "female":
        given = faker.first_name_female()
    else:
        given = faker.first_name_male()
    return faker.last_name(), middle, given


def _random_birth(rng: random.Random, age: int) -> date:
    first = date(AGE_YEAR - age, 1, 1)
    days = (date(AGE_YEAR - age + 1, 1, 1) - first).days
    return first + timedelta(days=rng.randrange(days))


def _master_id(plan: SchoolPlan, index: int, seed: int) -> str:
    """Return a ten-digit Ministry-style identifier, unique in the city for any seed.

    The school's level, number and the person's index make a serial number
    below 10**10, which a keyed permutation of that range turns into a number
    that looks random (about one in ten starts with 0) but never collides.
    """
    serial = (plan.facts.digit * 10_000 + plan.number) * 10_000 + index
    return f"{_permute(serial, seed):010d}"


def _permute(number: int, seed: int) -> int:
    """Permute the range [0, 10**10) with a four-round Feistel network keyed by ``seed``.

    Each round is invertible whatever the round function, so the whole map is a
    bijection. The round function only needs to mix, not to be secret.
    """
    half = 10**5
    left, right = divmod(number, half)
    for round_number in range(4):
        digest = hashlib.blake2b(f"{seed}/{round_number}/{right}".encode(), digest_size=8).digest()
        left, right = right, (left + int.from_bytes(digest, "big")) % half
    return left * half + right
