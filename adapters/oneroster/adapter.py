"""The OneRoster CSV adapter (versions 1.1 and 1.2; 1.0 is read as 1.1).

A package is a folder or a ``.zip`` holding ``manifest.csv`` and the CSV files
it declares. See ``adapters.oneroster.package`` for the streams and their
virtual columns, and ``docs/oneroster.md`` for how each construct is read.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from adapters.base import Adapter, Limits, ReadHints
from adapters.common.archive import open_archive
from adapters.oneroster.package import OneRosterPackage
from adapters.oneroster.sample import SAMPLE_PASSWORD, write_sample
from adapters.table.suffixes import SUPPORTED_SUFFIXES as TABLE_SUFFIXES
from gateway.errors import InputError, Place
from gateway.text import match_key

# Bytes read to find the header of a single CSV file.
_HEAD_BYTES = 4096


def _check_not_table_file(path: Path) -> None:
    """Raise an ``InputError`` that names the right input when ``path`` is one table file.

    An .xlsx file is a zip file too, and would be reported as a package without a manifest.
    """
    if not path.is_file() or path.suffix.lower() not in TABLE_SUFFIXES:
        return
    if path.suffix.lower() == ".csv":
        with path.open("rb") as handle:
            first_line = handle.read(_HEAD_BYTES).decode("utf-8-sig", errors="replace").splitlines()[:1]
        cells = {match_key(cell) for cell in next(csv.reader(first_line), [])}
        if "sourcedid" in cells or {"propertyname", "value"} <= cells:
            raise InputError("oneroster.single_file", place=Place(file=path.name), path=str(path))
    raise InputError("oneroster.table_file", place=Place(file=path.name), path=str(path))


class OneRosterAdapter(Adapter):
    """Reads OneRoster CSV packages; plain-text password columns are dropped at read."""

    key = "oneroster"
    # users.csv and userProfiles.csv carry plain-text passwords.
    never_keep = frozenset({match_key("password")})
    # Values that write_sample plants in never-kept columns, for the contract tests.
    sample_secrets: ClassVar[frozenset[str]] = frozenset({SAMPLE_PASSWORD})

    @contextmanager
    def open(self, path: Path, limits: Limits,
             hints: ReadHints | None = None) -> Iterator[OneRosterPackage]:
        """Open the package at ``path``; raises ``InputError`` when it cannot be read at all.

        ``hints`` are not needed: OneRoster names its files and columns.

        The archive and the package's temporary join index are released on exit.
        """
        path = Path(path)
        _check_not_table_file(path)
        with open_archive(path, limits) as archive:
            package = OneRosterPackage(archive, limits, self.kept_columns)
            try:
                yield package
            finally:
                package.close()

    @classmethod
    def write_sample(cls, directory: Path) -> Path:
        """Write a small sample package under ``directory`` and return its path."""
        return write_sample(directory)
