"""The demo city model: sizes, school plans, and the people built for each school."""

from __future__ import annotations

import unicodedata
from dataclasses import replace

import pytest
from faker import Faker

from gateway.demo.city import (
    LEVELS,
    SIZES,
    CitySize,
    Level,
    Role,
    School,
    build_school,
    new_faker,
    plan_city,
)

SEED = 2025


def _schools(size: str | CitySize, seed: int = SEED) -> list[School]:
    spec = SIZES[size] if isinstance(size, str) else size
    faker = new_faker()
    return [build_school(plan, faker, seed) for plan in plan_city(spec, seed)]


@pytest.fixture(scope="module")
def small() -> list[School]:
    return _schools("small")


@pytest.mark.parametrize(
    ("size", "schools"), [("tiny", 2), ("small", 5), ("medium", 100), ("full", 1215)],
    ids=["tiny", "small", "medium", "full"],
)
def test_size_school_count(size: str, schools: int) -> None:
    assert SIZES[size].school_count == schools
    assert len(list(plan_city(SIZES[size], SEED))) == schools


def test_small_covers_every_level(small: list[School]) -> None:
    assert {school.plan.level for school in small} == set(Level)


def test_small_and_tiny_people_counts(small: list[School]) -> None:
    students = sum(school.count(Role.STUDENT) for school in small)
    staff = sum(len(school.people) - school.count(Role.STUDENT) for school in small)
    tiny_students = sum(school.count(Role.STUDENT) for school in _schools("tiny"))

    assert 500 <= students <= 700
    assert 45 <= staff <= 75
    assert 30 <= tiny_students <= 50


def test_full_plan_codes_and_names_unique() -> None:
    plans = list(plan_city(SIZES["full"], SEED))
    codes = [plan.code for plan in plans]
    names = [plan.name for plan in plans]

    assert len(set(codes)) == len(codes)
    assert len(set(names)) == len(names)
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert any(code.startswith("0") for code in codes)


def test_school_names_follow_level_titles() -> None:
    for plan in plan_city(SIZES["small"], SEED):
        assert plan.name.startswith(LEVELS[plan.level].school_title + " ")


def test_school_same_in_bigger_size() -> None:
    """A school's people depend on its seed, code and shape, not on the city around it."""
    first_medium = _schools(replace(SIZES["medium"], schools={Level.UPPER_SECONDARY: 1}))[0]
    first_full = _schools(replace(SIZES["full"], schools={Level.UPPER_SECONDARY: 2}))[0]

    assert first_medium.plan == first_full.plan
    assert first_medium.people == first_full.people
    assert first_medium.classes == first_full.classes


def test_other_seed_other_people() -> None:
    one = _schools("tiny", seed=1)[0]
    two = _schools("tiny", seed=2)[0]

    assert [p.full_name for p in one.people] != [p.full_name for p in two.people]
    assert {p.master_id for p in one.people} != {p.master_id for p in two.people}


def test_names_come_from_faker_lists(small: list[School]) -> None:
    provider = Faker("vi_VN").provider("faker.providers.person")
    given = (set(provider.first_names_female) | set(provider.first_names_male)
             | set(provider.first_names_unisex))
    for person in (p for school in small for p in school.people):
        assert person.family in provider.last_names
        assert person.middle in provider.middle_names
        assert person.given in given


def test_middle_name_matches_sex(small: list[School]) -> None:
    people = [p for school in small for p in school.people]

    assert not [p for p in people if p.sex == "male" and p.middle == "Thị"]
    assert not [p for p in people if p.sex == "female" and p.middle == "Văn"]


def test_names_are_nfc(small: list[School]) -> None:
    for person in (p for school in small for p in school.people):
        assert unicodedata.is_normalized("NFC", person.full_name)


def test_birth_year_follows_grade(small: list[School]) -> None:
    """Pupils turn 6 in grade 1 in 2025; preschool groups Mầm, Chồi, Lá are 3, 4 and 5."""
    preschool_years = {"Mầm": 2022, "Chồi": 2021, "Lá": 2020}
    for school in small:
        for homeroom in school.classes:
            if homeroom.grade == "PK":
                expected = preschool_years[homeroom.title.split()[0]]
            else:
                expected = 2019 - (int(homeroom.grade) - 1)
            years = {school.people[i].birth_date.year for i in homeroom.students}
            assert years == {expected}, homeroom.title


def test_staff_are_adults(small: list[School]) -> None:
    staff = [p for school in small for p in school.people if p.role is not Role.STUDENT]

    assert all(1966 <= p.birth_date.year <= 2002 for p in staff)


def test_master_ids_unique_ten_digit_text(small: list[School]) -> None:
    ids = [p.master_id for school in small for p in school.people]

    assert len(set(ids)) == len(ids)
    assert all(len(i) == 10 and i.isdigit() for i in ids)
    assert any(i.startswith("0") for i in ids)


def test_local_codes_unique_per_school(small: list[School]) -> None:
    for school in small:
        codes = [p.local_code for p in school.people]
        assert len(set(codes)) == len(codes)


def test_only_staff_have_contact(small: list[School]) -> None:
    people = [p for school in small for p in school.people]
    staff = [p for p in people if p.role is not Role.STUDENT]
    emails = [p.email for p in staff]

    assert all(not p.email and not p.phone for p in people if p.role is Role.STUDENT)
    assert len(set(emails)) == len(emails)
    assert all(e.endswith("@demo-cantho.example") for e in emails)
    assert all(len(p.phone) == 10 and p.phone.startswith("0") for p in staff)


def test_one_principal_per_school(small: list[School]) -> None:
    for school in small:
        assert school.count(Role.PRINCIPAL) == 1


def test_homeroom_teachers_per_level(small: list[School]) -> None:
    for school in small:
        expected = LEVELS[school.plan.level].homeroom_teachers
        for homeroom in school.classes:
            assert len(homeroom.teachers) == expected
            assert all(school.people[i].role is Role.TEACHER for i in homeroom.teachers)


def test_every_student_in_one_homeroom(small: list[School]) -> None:
    for school in small:
        placed = [i for homeroom in school.classes for i in homeroom.students]
        students = [p.index for p in school.people if p.role is Role.STUDENT]
        assert sorted(placed) == students


def test_class_titles_per_level(small: list[School]) -> None:
    titles = {school.plan.level: [c.title for c in school.classes] for school in small}

    assert titles[Level.PRESCHOOL] == ["Mầm 1", "Chồi 1", "Lá 1"]
    assert titles[Level.LOWER_SECONDARY] == ["6A1", "7A1", "8A1", "9A1"]
    assert titles[Level.UPPER_SECONDARY] == ["10A1", "11A1", "12A1"]
