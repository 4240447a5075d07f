"""An opened OneRoster CSV package: its streams in dependency order, with virtual columns.

Streams: orgs, academicSessions, classes, users, enrollments. The adapter
adds these virtual columns, each filling a column of the same name when the
file has one and leaves it empty:

- users ``role``: the distinct roles of the user in ``roles.csv`` (1.2),
  primary roles first, comma-separated;
- users ``primaryOrgSourcedId``: the orgSourcedId of the user's primary role
  row (1.2), else the first of ``orgSourcedIds`` (1.1);
- users ``birthDate`` and ``sex`` from ``demographics.csv``, when the manifest
  declares it;
- classes ``schoolYear``: the school year of the class's terms;
- enrollments ``schoolYear``: the school year of the enrollment's class.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from itertools import islice
from pathlib import Path

from adapters.base import Limits, Notice, Package, Scope, SourceRow, Stream
from adapters.common.archive import Archive
from adapters.common.csvfile import CsvTable, KeptColumns, read_csv
from adapters.common.forked import Forked, fork_available
from adapters.oneroster import files
from adapters.oneroster.columns import VirtualColumns, cell, column_index, split_list
from adapters.oneroster.joins import (
    DEMOGRAPHICS_FILE,
    LoadReport,
    UserFacts,
    UserIndex,
    spool_demographics,
)
from adapters.oneroster.manifest import PackageFile, plan_files, read_manifest
from adapters.oneroster.schoolyears import read_class_years, read_session_years, year_of_terms
from gateway.errors import GatewayError, InputError, Place
from gateway.logs import fields
from gateway.text import match_key

log = logging.getLogger(__name__)

KEY_COLUMN = "sourcedId"
# Users rows looked up in the join index per query. It stays below 999, the
# default limit of bound parameters in SQLite before version 3.32.
USER_CHUNK = 500
_NO_FACTS = UserFacts()
# The columns the users join reads from each joined file; it keeps no other.
JOIN_COLUMNS = {
    "roles": ("userSourcedId", "role", "roleType", "orgSourcedId", "status"),
    "demographics": ("sourcedId", "birthDate", "sex", "status"),
}


class OneRosterPackage(Package):
    """A OneRoster package read from an ``Archive``; ``close`` removes its temporary files."""

    def __init__(self, archive: Archive, limits: Limits, kept_columns: KeptColumns):
        self._archive = archive
        self._limits = limits
        self._kept_columns = kept_columns
        self.manifest = read_manifest(archive, limits)
        self.files, plan_notices = plan_files(self.manifest, archive)
        self.notices: list[Notice] = [*self.manifest.notices, *plan_notices]
        self.description = self.manifest.describe()

        self._failed: set[str] = set()
        self._workdir: Path | None = None
        self._index: UserIndex | None = None
        self._session_years: dict[str, str] | None = None
        self._periods: frozenset[str] = frozenset()
        self._class_years: dict[str, str] | None = None
        log.info(
            "oneroster package opened",
            extra=fields(version=self.manifest.oneroster_version, files=len(self.files),
                         notices=len(self.notices)),
        )

    def close(self) -> None:
        """Close the join index and remove its temporary folder."""
        if self._index is not None:
            self._index.close()
            self._index = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def streams(self) -> Iterator[Stream]:
        """Yield the declared, readable stream files in dependency order.

        Requesting the next stream closes the file of the previous one, so read
        each stream's rows before moving on.
        """
        for name in files.STREAM_FILES:
            package_file = self.files.get(name)
            if package_file is None:
                continue
            with ExitStack() as stack:
                stream = self._open_stream(package_file, stack)
                if stream is not None:
                    log.debug(
                        "oneroster stream opened", extra=fields(stream=name, mode=stream.mode)
                    )
                    yield stream

    # Streams ------------------------------------------------------------------

    def _open_stream(self, package_file: PackageFile, stack: ExitStack) -> Stream | None:
        table = self._open_table(package_file, stack)
        if table is None:
            return None
        key_index = column_index(table.headers, KEY_COLUMN)
        if key_index is None:
            self._fail(package_file.name, InputError(
                "oneroster.column_missing", place=Place(file=table.file),
                file=table.file, column=KEY_COLUMN,
            ))
            return None

        headers, rows = self._derive(package_file.name, table)
        return Stream(
            name=package_file.name,
            file=package_file.member.path,
            headers=headers,
            rows=rows,
            mode=package_file.mode,
            scope=self._scope(package_file),
            key_column=table.headers[key_index],
        )

    def _open_table(self, package_file: PackageFile, stack: ExitStack,
                    only: Sequence[str] = ()) -> CsvTable | None:
        """Open a file as a ``CsvTable``; a file that cannot be read becomes one error notice.

        ``only`` names the columns to keep, when the caller reads no others.
        """
        if package_file.name in self._failed:
            return None
        try:
            return self._read_table(self._archive, package_file, stack, only)
        except InputError as error:
            self._fail(package_file.name, error)
            return None

    def _read_table(self, archive: Archive, package_file: PackageFile, stack: ExitStack,
                    only: Sequence[str] = ()) -> CsvTable:
        """Open a file of ``archive`` as a ``CsvTable``; raises ``InputError`` when it cannot be read."""
        handle = stack.enter_context(archive.open(package_file.member))
        kept_columns = self._join_kept_columns(only) if only else self._kept_columns
        # OneRoster requires comma-separated UTF-8, so a file in another encoding or with
        # other separators is rejected whole, with one notice that names the fault.
        return read_csv(handle, file=package_file.member.path, limits=self._limits,
                        kept_columns=kept_columns, require_utf8_commas=True)

    def _join_kept_columns(self, names: Sequence[str]) -> KeptColumns:
        """Return the ``kept_columns`` of a join file: the adapter's, limited to ``names``."""
        keys = {match_key(name) for name in names}

        def kept_columns(headers: Sequence[str]) -> list[int]:
            kept = self._kept_columns(headers)
            # With none of them, every column is kept, so the reader names the missing one.
            return [i for i in kept if match_key(headers[i]) in keys] or kept

        return kept_columns

    def _fail(self, name: str, error: GatewayError) -> None:
        self._failed.add(name)
        stream = name if name in files.STREAM_FILES else None
        self.notices.append(Notice("error", error, stream=stream))
        log.warning("oneroster file not read", extra=fields(file=name, error=error.key))

    def _derive(self, name: str, table: CsvTable) -> tuple[list[str], Iterator[SourceRow]]:
        if name == "classes":
            return self._classes(table)
        if name == "enrollments":
            return self._enrollments(table)
        if name == "users":
            return self._users(table)
        return table.headers, table.rows

    def _classes(self, table: CsvTable) -> tuple[list[str], Iterator[SourceRow]]:
        session_years = self._load_session_years()
        term_index = column_index(table.headers, "termSourcedIds")
        columns = VirtualColumns(table.headers, ["schoolYear"])

        def derive(cells: list[str]) -> list[str]:
            return [year_of_terms(cell(cells, term_index), session_years)]

        return columns.headers, _filled(table.rows, columns, derive)

    def _enrollments(self, table: CsvTable) -> tuple[list[str], Iterator[SourceRow]]:
        class_years = self._load_class_years()
        class_index = column_index(table.headers, "classSourcedId")
        columns = VirtualColumns(table.headers, ["schoolYear"])

        def derive(cells: list[str]) -> list[str]:
            return [class_years.get(cell(cells, class_index), "")]

        return columns.headers, _filled(table.rows, columns, derive)

    def _scope(self, package_file: PackageFile) -> Scope:
        if package_file.mode != "bulk" or package_file.name not in ("classes", "enrollments"):
            return Scope()
        if "academicSessions" not in self.files:
            # Without the package's sessions no school year is known, and ending every
            # year's classes would break the scope rule: a snapshot of no year ends nothing.
            return Scope(periods=frozenset())
        # A sessions file that cannot be read gives no periods: a snapshot of no
        # school year ends nothing, which errs on the safe side.
        self._load_session_years()
        return Scope(periods=self._periods)

    # School years -------------------------------------------------------------

    def _load_session_years(self) -> dict[str, str]:
        if self._session_years is None:
            self._session_years = {}
            package_file = self.files.get("academicSessions")
            if package_file is not None:
                with ExitStack() as stack:
                    table = self._open_table(package_file, stack)
                    if table is not None:
                        self._session_years, self._periods = read_session_years(table)
        return self._session_years

    def _load_class_years(self) -> dict[str, str]:
        if self._class_years is None:
            self._class_years = {}
            package_file = self.files.get("classes")
            if package_file is not None:
                session_years = self._load_session_years()
                with ExitStack() as stack:
                    table = self._open_table(package_file, stack)
                    if table is not None:
                        self._class_years = read_class_years(table, session_years)
        return self._class_years

    # Users --------------------------------------------------------------------

    def _users(self, table: CsvTable) -> tuple[list[str], Iterator[SourceRow]]:
        names = ["role", "primaryOrgSourcedId"]
        if "demographics" in self.files:
            names += ["birthDate", "sex"]
        columns = VirtualColumns(table.headers, names)
        index = self._build_index()
        id_index = column_index(table.headers, KEY_COLUMN)
        orgs_index = column_index(table.headers, "orgSourcedIds")

        def derive(cells: list[str], found: UserFacts) -> list[str]:
            org_ids = split_list(cell(cells, orgs_index))
            primary_org = found.primary_org or (org_ids[0] if org_ids else "")
            values = [",".join(found.roles), primary_org, found.birth_date, found.sex]
            return values[: len(names)]

        return columns.headers, self._user_rows(table.rows, columns, index, id_index, derive)

    def _user_rows(
        self,
        rows: Iterator[SourceRow],
        columns: VirtualColumns,
        index: UserIndex | None,
        id_index: int | None,
        derive: Callable[[list[str], UserFacts], list[str]],
    ) -> Iterator[SourceRow]:
        # The columns filled from demographics.csv: a rejected value there is placed in that file.
        joined = [i for name, i in columns.targets.items() if name in ("birthDate", "sex")]
        while chunk := list(islice(rows, USER_CHUNK)):
            ids = [cell(row.cells, id_index) for row in chunk if row.cells is not None]
            facts = index.lookup(ids) if index is not None else {}
            for row in chunk:
                if row.cells is not None:
                    found = facts.get(cell(row.cells, id_index), _NO_FACTS)
                    empty = [i for i in joined if i >= len(row.cells) or not row.cells[i]]
                    row.cells = columns.fill(row.cells, derive(row.cells, found))
                    if found.demographics_line is not None and index is not None:
                        origin = Place(file=index.demographics_file, row=found.demographics_line)
                        row.origins = {columns.headers[i]: origin for i in empty if row.cells[i]}
                yield row
        if index is not None:
            self._report_unmatched(index)

    def _build_index(self) -> UserIndex | None:
        """Spool the declared join files of this version into a ``UserIndex``, once per package."""
        names = files.JOIN_FILES[self.manifest.version]
        joined = [self.files[name] for name in names if name in self.files]
        if not joined or self._index is not None:
            return self._index
        self._workdir = Path(tempfile.mkdtemp(prefix="oneroster-join-"))
        self._index = UserIndex(self._workdir)
        side = self._start_side_spool(joined)
        for package_file in joined:
            if side is not None and package_file.name == "demographics":
                continue
            with ExitStack() as stack:
                table = self._open_table(package_file, stack, JOIN_COLUMNS[package_file.name])
                if table is None:
                    continue
                try:
                    if package_file.name == "roles":
                        report = self._index.load_roles(table)
                    else:
                        report = self._index.load_demographics(table)
                except InputError as error:
                    self._fail(package_file.name, error)
                    continue
            self._report_load(report)
        if side is not None:
            self._finish_side_spool(side)
        return self._index

    def _start_side_spool(self, joined: list[PackageFile]) -> Forked | None:
        """Spool demographics in a forked process while this one spools roles.

        Nothing else is read meanwhile, so the staging process waits: the two
        files take about half the time side by side.
        """
        demographics = next((f for f in joined if f.name == "demographics"), None)
        if (len(joined) < 2 or demographics is None or demographics.name in self._failed
                or not fork_available()):
            return None
        return Forked(lambda: self._spool_demographics_alone(demographics))

    def _spool_demographics_alone(self, package_file: PackageFile) -> LoadReport:
        """Spool ``demographics.csv``, in the forked process, through handles of its own."""
        with ExitStack() as stack:
            table = self._read_table(self._archive.reopened(), package_file, stack,
                                     JOIN_COLUMNS[package_file.name])
            return spool_demographics(self._index_directory() / DEMOGRAPHICS_FILE, table)

    def _finish_side_spool(self, side: Forked) -> None:
        try:
            report: LoadReport = side.result()
        except InputError as error:
            self._fail("demographics", error)
            return
        if self._index is not None:
            self._index.attach_demographics(report.file)
        self._report_load(report)

    def _index_directory(self) -> Path:
        if self._workdir is None:
            raise RuntimeError("the join index has no folder yet")
        return self._workdir

    def _report_load(self, report: LoadReport) -> None:
        if report.rejected:
            self._warn("oneroster.join_rows_rejected", report.file, count=report.rejected)
        if report.duplicates:
            self._warn("oneroster.join_duplicate", report.file, count=report.duplicates)

    def _report_unmatched(self, index: UserIndex) -> None:
        roles, demographics = index.count_unmatched()
        if roles and index.roles_file:
            self._warn("oneroster.roles_user_unknown", index.roles_file, count=roles)
        if demographics and index.demographics_file:
            self._warn(
                "oneroster.demographics_user_unknown", index.demographics_file, count=demographics
            )

    def _warn(self, key: str, file: str, **params: object) -> None:
        error = InputError(key, place=Place(file=file), file=file, **params)
        self.notices.append(Notice("warning", error))


def _filled(
    rows: Iterator[SourceRow], columns: VirtualColumns, derive: Callable[[list[str]], list[str]]
) -> Iterator[SourceRow]:
    for row in rows:
        if row.cells is not None:
            row.cells = columns.fill(row.cells, derive(row.cells))
        yield row
