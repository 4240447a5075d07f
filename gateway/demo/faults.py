"""Faults injected into the demo package, so that a demo run exercises quarantine.

Each fault touches the rows of one person and makes exactly one row wrong,
in a way the gateway must catch (five kinds, one rejected row each; ``SEX_UNKNOWN``
costs the person the gender only, with a warning) or quietly repair
(``NAME_NFD``: the normaliser turns the name back into NFC).

How many: each person gets a fault with probability ``rate``, of a kind drawn
at random. When ``rate`` is above zero, every kind is also placed once in the
first school, spread over its students, so that even ``tiny`` has one of each.
A fault that does not fit the person it fell on (an enrollment fault on a
teacher, a decomposed name that is plain ASCII) waits for the next person it
fits in the same school.
"""

from __future__ import annotations

import random
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from gateway.demo.city import Person, Role, School, sourced_id

Row = dict[str, str]


class FaultKind(StrEnum):
    # Rejected kinds: the row named in the comment is rejected.
    ENROLLMENT_CLASS_UNKNOWN = "enrollment_class_unknown"  # enrollments: class not in classes.csv
    SOURCED_ID_DUPLICATE = "sourced_id_duplicate"  # users: a second row for an earlier user
    BIRTH_DATE_NOT_ISO = "birth_date_not_iso"  # demographics: dd/mm/yyyy
    # demographics: "x". Rejected by oneroster/student v2 and staff v1; later versions store
    # the person without the gender (ingest.field_dropped).
    SEX_UNKNOWN = "sex_unknown"
    GIVEN_NAME_EMPTY = "given_name_empty"  # users: no givenName
    STATUS_INVALID = "status_invalid"  # users: "inactive", not in the spec
    # Normalised kind: the row is accepted after NFC.
    NAME_NFD = "name_nfd"  # users: names in decomposed form


REJECTED = tuple(kind for kind in FaultKind if kind is not FaultKind.NAME_NFD)
NORMALISED = (FaultKind.NAME_NFD,)


@dataclass
class PersonRows:
    """Rows written for one person. ``duplicate`` is an extra users row, if any."""

    user: Row
    role: Row
    demographics: Row
    enrollments: list[Row]
    duplicate: Row | None = None


@dataclass
class FaultInjector:
    """Decides and applies the faults of a whole city, one school at a time."""

    seed: int
    rate: float
    counts: Counter[FaultKind] = field(default_factory=Counter)
    # Kinds not yet placed for the one-of-each guarantee, which the next school takes.
    owed: list[FaultKind] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.rate > 0:
            self.owed = list(FaultKind)

    def for_school(self, school: School) -> SchoolFaults:
        # Seeded for repeatable demo data, not for anything secret.
        rng = random.Random(f"{self.seed}/{school.plan.code}/faults")  # noqa: S311
        owed, self.owed = self.owed, []
        return SchoolFaults(self, school, rng, owed)


class SchoolFaults:
    """Faults of one school. Call ``apply`` for each person in order, then ``close``."""

    def __init__(
        self, injector: FaultInjector, school: School, rng: random.Random, owed: list[FaultKind]
    ):
        self.injector = injector
        self.school = school
        self.rng = rng
        self.pending: list[tuple[FaultKind, bool]] = []  # (kind, owed to the guarantee)
        students = school.count(Role.STUDENT)
        # Owed kinds are released at evenly spaced students, the enrollment fault first.
        self.releases = [
            ((i + 1) * students // (len(owed) + 1), kind) for i, kind in enumerate(owed)
        ]
        self.previous: Row | None = None  # the last user row before any fault

    def apply(self, person: Person, rows: PersonRows) -> FaultKind | None:
        """Inject at most one fault into ``rows`` and return its kind."""
        clean_user = dict(rows.user)
        while self.releases and self.releases[0][0] <= person.index:
            self.pending.append((self.releases.pop(0)[1], True))
        if self.injector.rate and self.rng.random() < self.injector.rate:
            self.pending.append((self.rng.choice(list(FaultKind)), False))

        chosen = None
        for position, (kind, _) in enumerate(self.pending):
            if self._fits(kind, person, rows):
                chosen = kind
                del self.pending[position]
                break
        if chosen is not None:
            _APPLY[chosen](self, person, rows)
            self.injector.counts[chosen] += 1
        self.previous = clean_user
        return chosen

    def close(self) -> None:
        """Hand owed kinds that found no person back to the injector for the next school."""
        left = [kind for kind, owed in self.pending if owed] + [kind for _, kind in self.releases]
        self.injector.owed.extend(left)

    def _fits(self, kind: FaultKind, person: Person, rows: PersonRows) -> bool:
        if kind is FaultKind.ENROLLMENT_CLASS_UNKNOWN:
            return person.role is Role.STUDENT and bool(rows.enrollments)
        if kind is FaultKind.SOURCED_ID_DUPLICATE:
            return self.previous is not None and _names(self.previous) != _names(rows.user)
        if kind is FaultKind.NAME_NFD:
            return unicodedata.normalize("NFD", person.full_name) != person.full_name
        return True

    def _unknown_class(self, person: Person, rows: PersonRows) -> None:
        # A class of last year's roster, which this package does not contain.
        key = f"{self.school.plan.code}/{person.index}"
        rows.enrollments[0]["classSourcedId"] = sourced_id(self.injector.seed, "class-2024", key)

    def _duplicate(self, person: Person, rows: PersonRows) -> None:
        assert self.previous is not None
        copy = dict(self.previous)
        for column in ("givenName", "middleName", "familyName"):
            copy[column] = rows.user[column]
        rows.duplicate = copy


def _names(row: Row) -> tuple[str, str, str]:
    return row["familyName"], row["middleName"], row["givenName"]


def _birth_date_not_iso(_: SchoolFaults, person: Person, rows: PersonRows) -> None:
    rows.demographics["birthDate"] = person.birth_date.strftime("%d/%m/%Y")


def _sex_unknown(_: SchoolFaults, person: Person, rows: PersonRows) -> None:
    # Vendor exports mark women with "x" in a "Nữ" column, and here it lands in sex.
    rows.demographics["sex"] = "x"


def _given_name_empty(_: SchoolFaults, person: Person, rows: PersonRows) -> None:
    rows.user["givenName"] = ""


def _status_invalid(_: SchoolFaults, person: Person, rows: PersonRows) -> None:
    rows.user["status"] = "inactive"


def _name_nfd(_: SchoolFaults, person: Person, rows: PersonRows) -> None:
    for column in ("givenName", "middleName", "familyName"):
        rows.user[column] = unicodedata.normalize("NFD", rows.user[column])


_APPLY: dict[FaultKind, Callable[[SchoolFaults, Person, PersonRows], None]] = {
    FaultKind.ENROLLMENT_CLASS_UNKNOWN: SchoolFaults._unknown_class,
    FaultKind.SOURCED_ID_DUPLICATE: SchoolFaults._duplicate,
    FaultKind.BIRTH_DATE_NOT_ISO: _birth_date_not_iso,
    FaultKind.SEX_UNKNOWN: _sex_unknown,
    FaultKind.GIVEN_NAME_EMPTY: _given_name_empty,
    FaultKind.STATUS_INVALID: _status_invalid,
    FaultKind.NAME_NFD: _name_nfd,
}
