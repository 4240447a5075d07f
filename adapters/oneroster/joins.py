"""The users join: roles (OneRoster 1.2) and demographics, spooled into an on-disk SQLite index.

A city's roles and demographics files have one or more rows per user, so they
are not held in memory. ``UserIndex`` writes them into SQLite files in a
temporary folder, keyed by user sourcedId. The users stream looks up its rows
a chunk at a time. Rows whose ``status`` is ``tobedeleted`` are left out
of the join, because they remove the role or demographics record they name.

Demographics go into a file of their own (``spool_demographics``), attached
to the index, so that another process can write it while this one loads roles.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from adapters.common.csvfile import CsvTable
from adapters.oneroster.columns import cell, column_index
from gateway.errors import InputError, Place
from gateway.text import match_key

_SCHEMA = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE roles (user_id TEXT NOT NULL, seq INTEGER NOT NULL, is_primary INTEGER NOT NULL,
                    role TEXT NOT NULL, org TEXT NOT NULL);
CREATE TABLE seen (user_id TEXT NOT NULL);
"""
_DEMOGRAPHICS_SCHEMA = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE demographics (user_id TEXT PRIMARY KEY, birth_date TEXT NOT NULL, sex TEXT NOT NULL,
                           line INTEGER NOT NULL) WITHOUT ROWID;
"""
DEMOGRAPHICS_FILE = "demographics-join.sqlite"


@dataclass(slots=True)
class UserFacts:
    """The joined facts of one user."""

    # Distinct role values: those of primary role rows first, then the others, in file order.
    roles: list[str] = field(default_factory=list)
    # orgSourcedId of the first role row whose roleType is primary.
    primary_org: str = ""
    birth_date: str = ""
    sex: str = ""
    # The line of demographics.csv that gave birth_date and sex, for the place of a rejection.
    demographics_line: int | None = None


@dataclass
class LoadReport:
    """Counts from spooling one joined file."""

    file: str
    loaded: int = 0
    rejected: int = 0
    duplicates: int = 0


class UserIndex:
    """Roles and demographics rows by user sourcedId, in a SQLite file under ``directory``."""

    def __init__(self, directory: Path):
        self._directory = directory
        self._db = sqlite3.connect(directory / "users-join.sqlite")
        self._db.executescript(_SCHEMA)
        self.roles_file: str | None = None
        self.demographics_file: str | None = None

    def close(self) -> None:
        self._db.close()

    def load_roles(self, table: CsvTable) -> LoadReport:
        """Spool the rows of ``roles.csv``; raises ``InputError`` when a needed column is absent."""
        user_index = _required_column(table, "userSourcedId")
        role_index = _required_column(table, "role")
        type_index = column_index(table.headers, "roleType")
        org_index = column_index(table.headers, "orgSourcedId")
        status_index = column_index(table.headers, "status")
        report = LoadReport(table.file)

        def values() -> Iterator[tuple[str, int, int, str, str]]:
            for seq, (user, cells, _) in enumerate(_live_rows(table, user_index, status_index, report)):
                primary = int(match_key(cell(cells, type_index)) == "primary")
                yield user, seq, primary, cells[role_index], cell(cells, org_index)

        self._db.executemany("INSERT INTO roles VALUES (?, ?, ?, ?, ?)", values())
        self._db.execute("CREATE INDEX roles_by_user ON roles (user_id, is_primary DESC, seq, role, org)")
        self._db.commit()
        self.roles_file = table.file
        return report

    def load_demographics(self, table: CsvTable) -> LoadReport:
        """Spool ``demographics.csv`` in this process and attach it; see ``spool_demographics``."""
        report = spool_demographics(self._directory / DEMOGRAPHICS_FILE, table)
        self.attach_demographics(table.file)
        return report

    def attach_demographics(self, file: str) -> None:
        """Join the demographics that ``spool_demographics`` wrote from ``file``."""
        self._db.execute("ATTACH DATABASE ? AS spooled", (str(self._directory / DEMOGRAPHICS_FILE),))
        self.demographics_file = file

    def lookup(self, user_ids: Sequence[str]) -> dict[str, UserFacts]:
        """Return the facts of each of ``user_ids`` (at most 500) that the joined files name.

        Also records the ids as seen, for ``count_unmatched``.
        """
        unique = list(dict.fromkeys(user_ids))
        if not unique:
            return {}
        self._db.executemany("INSERT INTO seen VALUES (?)", [(user,) for user in unique])
        marks = ", ".join("?" * len(unique))
        facts: dict[str, UserFacts] = {}

        query = (
            f"SELECT user_id, is_primary, role, org FROM roles WHERE user_id IN ({marks})"
            " ORDER BY user_id, is_primary DESC, seq"
        )
        for user, primary, role, org in self._db.execute(query, unique):
            found = facts.get(user)
            if found is None:
                found = facts[user] = UserFacts()
            if role and role not in found.roles:
                found.roles.append(role)
            if primary and not found.primary_org:
                found.primary_org = org

        if self.demographics_file is None:
            return facts
        query = f"SELECT user_id, birth_date, sex, line FROM demographics WHERE user_id IN ({marks})"
        for user, birth_date, sex, line in self._db.execute(query, unique):
            found = facts.get(user)
            if found is None:
                found = facts[user] = UserFacts()
            found.birth_date, found.sex, found.demographics_line = birth_date, sex, line
        return facts

    def count_unmatched(self) -> tuple[int, int]:
        """Return how many roles rows and demographics rows name a user never looked up."""
        roles = self._db.execute(
            "SELECT COUNT(*) FROM roles WHERE user_id NOT IN (SELECT user_id FROM seen)"
        ).fetchone()[0]
        if self.demographics_file is None:
            return int(roles), 0
        demographics = self._db.execute(
            "SELECT COUNT(*) FROM demographics WHERE user_id NOT IN (SELECT user_id FROM seen)"
        ).fetchone()[0]
        return int(roles), int(demographics)


def spool_demographics(path: Path, table: CsvTable) -> LoadReport:
    """Write ``demographics.csv`` into a new SQLite file at ``path``; a user's first row wins.

    The sourcedId of a demographics row is its user's. Raises ``InputError`` when
    the sourcedId column is absent.
    """
    user_index = _required_column(table, "sourcedId")
    birth_index = column_index(table.headers, "birthDate")
    sex_index = column_index(table.headers, "sex")
    status_index = column_index(table.headers, "status")
    report = LoadReport(table.file)

    def values() -> Iterator[tuple[str, str, str, int]]:
        for user, cells, line in _live_rows(table, user_index, status_index, report):
            yield user, cell(cells, birth_index), cell(cells, sex_index), line

    db = sqlite3.connect(path)
    try:
        db.executescript(_DEMOGRAPHICS_SCHEMA)
        cursor = db.executemany("INSERT OR IGNORE INTO demographics VALUES (?, ?, ?, ?)", values())
        report.duplicates = report.loaded - max(cursor.rowcount, 0)
        db.commit()
    finally:
        db.close()
    return report


def _live_rows(table: CsvTable, user_index: int, status_index: int | None,
               report: LoadReport) -> Iterator[tuple[str, list[str], int]]:
    """Yield (user sourcedId, cells, line) of the rows to join, counting them in ``report``."""
    for row in table.rows:
        if row.cells is None:
            report.rejected += 1
            continue
        user = row.cells[user_index]
        if not user or _is_deleted(cell(row.cells, status_index)):
            continue
        report.loaded += 1
        yield user, row.cells, row.line


def _required_column(table: CsvTable, name: str) -> int:
    index = column_index(table.headers, name)
    if index is None:
        raise InputError(
            "oneroster.column_missing", place=Place(file=table.file), file=table.file, column=name
        )
    return index


def _is_deleted(status: str) -> bool:
    return match_key(status) == "tobedeleted"
