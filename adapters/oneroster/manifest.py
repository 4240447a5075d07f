"""``manifest.csv``: the versions of a OneRoster CSV package and how each file is sent.

The manifest is a two-column table (``propertyName,value``). ``manifest.version``
must be 1.0 and ``oneroster.version`` 1.1 or 1.2 (1.0 is read with the 1.1
rules, with a warning). Each ``file.<name>`` is ``bulk``, ``delta`` or
``absent``. An empty value is read as ``absent`` with a warning, because real
producers leave it empty. Any other value is an error notice, and the file is
not read. Property names and values are matched without regard to case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from adapters.base import Limits, Mode, Notice
from adapters.common.archive import Archive, Member
from adapters.common.csvfile import CsvTable, read_csv
from adapters.oneroster import files
from adapters.table.suffixes import NOTE_SUFFIXES, SUPPORTED_SUFFIXES
from gateway.errors import InputError, Place
from gateway.text import match_key

MANIFEST_FILE = "manifest.csv"
Level = Literal["warning", "error"]
_MODES = ("bulk", "delta", "absent")
# Files that the school-export adapter reads as lists; a folder's .txt files are usually notes.
_LIST_SUFFIXES = tuple(suffix for suffix in SUPPORTED_SUFFIXES if suffix not in NOTE_SUFFIXES)


@dataclass
class Manifest:
    """The facts of ``manifest.csv``, and the notices its values raised."""

    file: str
    manifest_version: str
    oneroster_version: str
    # The version whose rules the adapter applies: "1.1" or "1.2".
    version: str
    # File name (specification spelling) -> "bulk", "delta" or "absent".
    modes: dict[str, str]
    # File name -> a value other than bulk, delta and absent.
    invalid: dict[str, str]
    source_system_name: str
    source_system_code: str
    notices: list[Notice] = field(default_factory=list)

    def describe(self) -> dict[str, object]:
        """Return the manifest facts for ``Package.description``."""
        file_modes: dict[str, str] = dict(self.modes)
        file_modes.update({name: "invalid" for name in self.invalid})
        return {
            "format": "oneroster-csv",
            "manifest_version": self.manifest_version,
            "oneroster_version": self.oneroster_version,
            "read_as_version": self.version,
            "files": file_modes,
            "source_system_name": self.source_system_name,
            "source_system_code": self.source_system_code,
        }


@dataclass(frozen=True)
class PackageFile:
    """A file of the package that the adapter reads, with its mode from the manifest."""

    name: str
    member: Member
    mode: Mode


def read_manifest(archive: Archive, limits: Limits) -> Manifest:
    """Read ``manifest.csv`` from ``archive``.

    Raises ``InputError`` when the manifest is missing or unreadable, lacks a
    version, or declares a version this adapter does not support.
    """
    member = archive.find(MANIFEST_FILE)
    tables = [m.path for m in archive.members if Path(m.name).suffix.lower() in _LIST_SUFFIXES
              and not files.is_known_stem(Path(m.name).stem)]
    if member is None and tables:
        # Spreadsheets and no manifest: most likely a folder of lists for the school-export adapter.
        raise InputError("oneroster.manifest_missing_tables", place=Place(file=MANIFEST_FILE),
                         path=str(archive.source), example=tables[0])
    if member is None:
        raise InputError(
            "oneroster.manifest_missing", place=Place(file=MANIFEST_FILE), path=str(archive.source)
        )
    with archive.open(member) as handle:
        properties = _read_properties(read_csv(handle, file=member.path, limits=limits,
                                               require_utf8_commas=True))

    manifest_version = _required(properties, "manifest.version", member.path)
    if manifest_version != files.MANIFEST_VERSION:
        raise InputError(
            "oneroster.manifest_version_unsupported", place=Place(file=member.path),
            file=member.path, value=manifest_version, supported=files.MANIFEST_VERSION,
        )
    declared = _required(properties, "oneroster.version", member.path)
    version = files.READ_AS.get(declared)
    if version is None:
        raise InputError(
            "oneroster.version_unsupported", place=Place(file=member.path),
            file=member.path, value=declared, supported=", ".join(files.SUPPORTED_VERSIONS),
        )

    manifest = Manifest(
        file=member.path,
        manifest_version=manifest_version,
        oneroster_version=declared,
        version=version,
        modes={},
        invalid={},
        source_system_name=properties.get("source.systemname", ("", ""))[1],
        source_system_code=properties.get("source.systemcode", ("", ""))[1],
    )
    if declared != version:
        manifest.notices.append(_warning(
            "oneroster.version_read_as", member.path, version=declared, read_as=version
        ))
    _read_file_modes(manifest, properties)
    return manifest


def _read_properties(table: CsvTable) -> dict[str, tuple[str, str]]:
    """Return property name (case-folded) -> (name as written, value)."""
    keys = [match_key(header) for header in table.headers]
    if "propertyname" not in keys or "value" not in keys:
        raise InputError(
            "oneroster.manifest_columns", place=Place(file=table.file),
            file=table.file, found=", ".join(table.headers),
        )
    name_index, value_index = keys.index("propertyname"), keys.index("value")

    properties: dict[str, tuple[str, str]] = {}
    for row in table.rows:
        if row.cells is None:
            raise InputError(
                "oneroster.manifest_row_invalid", place=Place(file=table.file, row=row.line),
                file=table.file, line=row.line,
            ) from row.error
        name, value = row.cells[name_index], row.cells[value_index]
        if not name:
            continue
        earlier = properties.get(name.casefold())
        if earlier is not None and earlier[1] != value:
            raise InputError(
                "oneroster.manifest_duplicate", place=Place(file=table.file, row=row.line),
                file=table.file, property=name, line=row.line,
            )
        properties[name.casefold()] = (name, value)
    return properties


def _required(properties: dict[str, tuple[str, str]], name: str, file: str) -> str:
    value = properties.get(name.casefold(), ("", ""))[1]
    if not value:
        raise InputError(
            "oneroster.manifest_property_missing", place=Place(file=file), file=file, property=name
        )
    return value


def _read_file_modes(manifest: Manifest, properties: dict[str, tuple[str, str]]) -> None:
    for key, (written, value) in properties.items():
        if not key.startswith("file."):
            continue
        name = files.canonical_name(written[len("file."):])
        mode = value.casefold()
        if mode in _MODES:
            manifest.modes[name] = mode
        elif not mode:
            manifest.modes[name] = "absent"
            manifest.notices.append(Notice("warning", InputError(
                "oneroster.manifest_value_empty", place=Place(file=manifest.file),
                property=written, file=files.file_name(name),
            )))
        else:
            manifest.invalid[name] = value
            manifest.notices.append(Notice("error", InputError(
                "oneroster.manifest_value_invalid", place=Place(file=manifest.file),
                property=written, value=value, file=files.file_name(name),
            )))


def plan_files(manifest: Manifest, archive: Archive) -> tuple[dict[str, PackageFile], list[Notice]]:
    """Decide which files of ``archive`` are read, and return them with the notices found.

    A declared file that is missing is an error notice when this adapter reads
    it and a warning otherwise. A present file that the manifest declares
    absent, or does not list, is a warning and is not read.
    """
    present = _present_files(archive)
    known = files.KNOWN_FILES[manifest.version]
    selected: dict[str, PackageFile] = {}
    notices: list[Notice] = []

    for name, mode in manifest.modes.items():
        member = present.get(name)
        label = member.path if member else files.file_name(name)
        if mode == "absent":
            if member is not None:
                notices.append(_warning("oneroster.file_declared_absent", label))
        elif name not in known:
            notices.append(
                _warning("oneroster.file_unknown", label, version=manifest.oneroster_version)
            )
        elif member is None:
            level = "error" if name in files.READ_FILES else "warning"
            notices.append(Notice(cast(Level, level), InputError(
                "oneroster.file_missing", place=Place(file=label), file=label, mode=mode
            )))
        elif name in files.NOT_MAPPED_FILES[manifest.version]:
            notices.append(_warning("oneroster.file_not_mapped", label))
        else:
            selected[name] = PackageFile(name, member, cast(Mode, mode))

    for name, member in present.items():
        if name not in manifest.modes and name not in manifest.invalid:
            notices.append(_warning("oneroster.file_not_listed", member.path))

    if "users" not in selected:
        for name in files.JOIN_FILES[manifest.version]:
            if name in selected:
                member = selected.pop(name).member
                notices.append(_warning("oneroster.join_without_users", member.path))
    return selected, notices


def _present_files(archive: Archive) -> dict[str, Member]:
    present = {}
    for member in archive.members:
        folded = member.name.casefold()
        if folded.endswith(".csv") and folded != MANIFEST_FILE:
            present[files.canonical_name(member.name[: -len(".csv")])] = member
    return present


def _warning(key: str, file: str, **params: object) -> Notice:
    return Notice("warning", InputError(key, place=Place(file=file), file=file, **params))
