"""Folders and zip files opened as a set of named members, within ``Limits``.

``open_archive`` checks the whole input before any member is read. It checks
the archive size, the member count, the total uncompressed size and the
compression ratio per member. It rejects absolute paths, ``..`` segments,
symbolic links, and two names that differ only in case. Every violation raises
``InputError`` whose parameters name the limit and its setting, so an admin
can act.

The members are the files at the root, or, when the root contains only one
folder, the files directly inside that folder. With ``recursive``, the files
of the folders below count too, named by their path from that root
(``Khối 6/6A1.xlsx``), as schools send lists sorted into folders. Names are matched without
regard to case, because producers disagree on spelling (``userprofiles.csv``
against ``userProfiles.csv``). Members are read as streams.
"""

from __future__ import annotations

import logging
import os
import stat
import unicodedata
import zipfile
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from adapters.base import Limits
from gateway.errors import InputError, Place
from gateway.logs import fields

log = logging.getLogger(__name__)

# Members smaller than this are not checked for their compression ratio: they
# cannot be a bomb, and small files of repeated text compress very well.
RATIO_CHECK_MIN_BYTES = 1024 * 1024

# Python's zipfile decompresses bzip2 and LZMA members without an output bound
# per read, so one read of a crafted member could fill memory. Deflate output is
# bounded per read and truncated at the declared size.
_SUPPORTED_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}

# Entries that file managers add and that are never data.
_IGNORED_NAMES = {"thumbs.db", "desktop.ini"}
_IGNORED_FOLDERS = {"__macosx"}


@dataclass(frozen=True)
class Member:
    """One file of an archive or folder.

    ``name`` is relative to the package root (no folder part, except the folders
    below the root when the archive was opened ``recursive``); ``path`` is the
    full path inside the archive or folder, for messages.
    """

    name: str
    path: str
    size: int


class ArchiveReader:
    """A member opened for reading; read and I/O errors become ``InputError``."""

    def __init__(self, raw: IO[bytes], archive: Archive, member: Member):
        self._raw = raw
        self._archive = archive
        self._member = member

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._raw.read(size)
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as error:
            raise self._archive.error("archive.read_failed", self._member.path) from error

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Archive(ABC):
    """A package opened as named members. Close it, or use it as a context manager."""

    def __init__(self, source: Path, members: list[Member]):
        self.source = source
        self.members = members
        self._by_name = {_fold(member.name): member for member in members}

    def find(self, name: str) -> Member | None:
        """Return the member called ``name`` in any case, or ``None``."""
        return self._by_name.get(_fold(name))

    def open(self, member: Member) -> ArchiveReader:
        """Open ``member`` for streaming reads; raises ``InputError`` when it cannot be opened."""
        try:
            raw = self._open_raw(member)
        except (OSError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as error:
            raise self.error("archive.read_failed", member.path) from error
        return ArchiveReader(raw, self, member)

    def error(self, key: str, member: str | None = None, **params: object) -> InputError:
        """Build the ``InputError`` ``key`` about this archive and ``member``."""
        place = Place(file=member or self.source.name)
        return InputError(key, place=place, path=str(self.source), member=member or "", **params)

    def reopened(self) -> Archive:
        """Return this archive with file handles of its own, for a forked process to read.

        A forked process shares the open file's offset with its parent, so the
        two must not read members of one zip file through the same handle.
        """
        return self

    @abstractmethod
    def _open_raw(self, member: Member) -> IO[bytes]: ...

    def close(self) -> None:  # noqa: B027 (a folder has nothing to release)
        """Release the archive; members opened from it must be closed first."""

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def open_archive(path: Path, limits: Limits, recursive: bool = False) -> Archive:
    """Open the folder or ``.zip`` file at ``path`` within ``limits``.

    ``recursive`` takes in the files of the folders below the root as well.
    Raises ``InputError`` when the path does not exist, is neither a folder nor
    a zip file, or breaks a limit or a naming rule.
    """
    path = Path(path)
    if path.is_dir():
        return _open_folder(path, limits, recursive)
    if not path.is_file():
        raise InputError("archive.not_found", place=Place(file=path.name), path=str(path))
    if not zipfile.is_zipfile(path):
        raise InputError("archive.not_supported", place=Place(file=path.name), path=str(path))
    return _open_zip(path, limits, recursive)


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def _is_ignored(parts: list[str]) -> bool:
    if any(_is_ignored_folder(part) for part in parts[:-1]):
        return True
    last = parts[-1]
    # "~$6A1.xlsx" is the owner file Excel writes beside a workbook while it is open.
    return last.startswith((".", "~$")) or last.casefold() in _IGNORED_NAMES


def _is_ignored_folder(name: str) -> bool:
    """Tell whether a folder is one that file managers add (``__MACOSX``) or a hidden one."""
    return name.casefold() in _IGNORED_FOLDERS or name.startswith(".")


def _root_of(paths: list[list[str]]) -> list[str]:
    """Return the folder that contains the members: none, or the one top-level folder."""
    data = [parts for parts in paths if not _is_ignored(parts)]
    if not data or any(len(parts) == 1 for parts in data):
        return []
    tops = {parts[0] for parts in data}
    return [tops.pop()] if len(tops) == 1 else []


def _check_duplicates(archive_path: Path, paths: list[str]) -> None:
    seen: dict[str, str] = {}
    for path in paths:
        key = _fold(path)
        if key in seen:
            raise InputError(
                "archive.duplicate_name", place=Place(file=path),
                path=str(archive_path), member=path, other=seen[key],
            )
        seen[key] = path


# Zip files ------------------------------------------------------------------


class _ZipArchive(Archive):
    def __init__(self, source: Path, members: list[Member], zip_file: zipfile.ZipFile):
        super().__init__(source, members)
        self._zip = zip_file

    def _open_raw(self, member: Member) -> IO[bytes]:
        return self._zip.open(member.path)

    def reopened(self) -> Archive:
        return _ZipArchive(self.source, self.members, zipfile.ZipFile(self.source))

    def close(self) -> None:
        self._zip.close()


def _open_zip(path: Path, limits: Limits, recursive: bool) -> Archive:
    size = path.stat().st_size
    if size > limits.max_archive_bytes:
        raise InputError(
            "archive.file_too_large", place=Place(file=path.name),
            path=str(path), size=size, limit=limits.max_archive_bytes,
        )
    try:
        zip_file = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(
            "archive.invalid_zip", place=Place(file=path.name), path=str(path)
        ) from error
    try:
        members = _zip_members(path, zip_file, limits, recursive)
    except BaseException:
        zip_file.close()
        raise
    log.debug(
        "zip archive opened",
        extra=fields(entries=len(zip_file.infolist()), members=len(members)),
    )
    return _ZipArchive(path, members, zip_file)


def _zip_members(path: Path, zip_file: zipfile.ZipFile, limits: Limits,
                 recursive: bool) -> list[Member]:
    entries = zip_file.infolist()
    if len(entries) > limits.max_archive_members:
        raise InputError(
            "archive.too_many_members", place=Place(file=path.name),
            path=str(path), count=len(entries), limit=limits.max_archive_members,
        )
    for entry in entries:
        _check_zip_entry(path, entry, limits)
    _check_duplicates(path, [_zip_name(entry) for entry in entries])

    total = sum(entry.file_size for entry in entries)
    if total > limits.max_uncompressed_bytes:
        raise InputError(
            "archive.total_too_large", place=Place(file=path.name),
            path=str(path), size=total, limit=limits.max_uncompressed_bytes,
        )

    files = [entry for entry in entries if not entry.is_dir()]
    split = [_zip_name(entry).split("/") for entry in files]
    root = _root_of(split)
    members = []
    for entry, parts in zip(files, split, strict=True):
        if _is_ignored(parts):
            continue
        if parts[:-1] == root:
            members.append(Member(name=parts[-1], path=entry.filename, size=entry.file_size))
        elif recursive and parts[:len(root)] == root:
            name = "/".join(parts[len(root):])
            members.append(Member(name=name, path=entry.filename, size=entry.file_size))
    return members


def _zip_name(entry: zipfile.ZipInfo) -> str:
    # Some Windows tools write backslashes; NFC because macOS stores names decomposed.
    return unicodedata.normalize("NFC", entry.filename.replace("\\", "/")).rstrip("/")


def _check_zip_entry(path: Path, entry: zipfile.ZipInfo, limits: Limits) -> None:
    name = entry.filename.replace("\\", "/")
    parts = name.rstrip("/").split("/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in parts or "" in parts:
        raise InputError("archive.unsafe_name", place=Place(file=name), path=str(path), member=name)
    if stat.S_ISLNK(entry.external_attr >> 16):
        raise InputError("archive.symlink", place=Place(file=name), path=str(path), member=name)
    if entry.is_dir():
        return
    if entry.flag_bits & 0x1:
        raise InputError("archive.encrypted", place=Place(file=name), path=str(path), member=name)
    if entry.compress_type not in _SUPPORTED_COMPRESSION:
        raise InputError(
            "archive.unsupported_compression", place=Place(file=name),
            path=str(path), member=name, method=entry.compress_type,
        )
    _check_ratio(path, entry, limits)


def _check_ratio(path: Path, entry: zipfile.ZipInfo, limits: Limits) -> None:
    # zipfile never returns more than the declared file_size, so checking the
    # declared sizes bounds what is actually decompressed.
    if entry.file_size < RATIO_CHECK_MIN_BYTES:
        return
    ratio = entry.file_size / max(entry.compress_size, 1)
    if ratio > limits.max_compression_ratio:
        raise InputError(
            "archive.compression_ratio", place=Place(file=entry.filename),
            path=str(path), member=entry.filename, ratio=round(ratio),
            limit=limits.max_compression_ratio,
        )


# Folders --------------------------------------------------------------------


class _FolderArchive(Archive):
    def _open_raw(self, member: Member) -> IO[bytes]:
        # O_NOFOLLOW: a member swapped for a symbolic link after the check is not followed.
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        descriptor = os.open(self.source / member.path, flags)
        return os.fdopen(descriptor, "rb")


def _open_folder(path: Path, limits: Limits, recursive: bool) -> Archive:
    entries = _folder_entries(path, path)
    root: list[str] = []
    data = [entry for entry in entries if not _is_ignored([entry.name])]
    if len(data) == 1 and data[0].is_dir(follow_symlinks=False):
        root = [data[0].name]
        entries = _folder_entries(path, Path(data[0].path))

    files = [([entry.name], entry) for entry in entries if entry.is_file(follow_symlinks=False)]
    if recursive:
        files.extend(_files_below(path, entries, limits))
    if len(files) > limits.max_archive_members:
        raise InputError(
            "archive.too_many_members", place=Place(file=path.name),
            path=str(path), count=len(files), limit=limits.max_archive_members,
        )
    _check_duplicates(path, ["/".join(parts) for parts, _ in files])

    members = [
        Member(
            name="/".join(parts),
            path="/".join([*root, *parts]),
            size=entry.stat(follow_symlinks=False).st_size,
        )
        for parts, entry in files
        if not _is_ignored(parts)
    ]
    total = sum(member.size for member in members)
    if total > limits.max_uncompressed_bytes:
        raise InputError(
            "archive.total_too_large", place=Place(file=path.name),
            path=str(path), size=total, limit=limits.max_uncompressed_bytes,
        )
    return _FolderArchive(path, members)


def _files_below(package: Path, entries: list[os.DirEntry[str]],
                 limits: Limits) -> list[tuple[list[str], os.DirEntry[str]]]:
    """Return the files in the folders of ``entries`` and below, each with its path from there.

    Folders count toward the member limit too, so that a tree of empty folders cannot
    make the walk long.
    """
    found: list[tuple[list[str], os.DirEntry[str]]] = []
    pending = [([entry.name], entry) for entry in entries
               if entry.is_dir(follow_symlinks=False) and not _is_ignored_folder(entry.name)]
    visited = 0
    while pending:
        parts, folder = pending.pop(0)
        visited += 1
        if visited + len(found) > limits.max_archive_members:
            raise InputError(
                "archive.too_many_members", place=Place(file=package.name),
                path=str(package), count=visited + len(found), limit=limits.max_archive_members,
            )
        for entry in _folder_entries(package, Path(folder.path)):
            if entry.is_dir(follow_symlinks=False):
                if not _is_ignored_folder(entry.name):
                    pending.append(([*parts, entry.name], entry))
            elif entry.is_file(follow_symlinks=False):
                found.append(([*parts, entry.name], entry))
    return found


def _folder_entries(package: Path, folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        if entry.is_symlink():
            member = os.path.relpath(entry.path, package)
            raise InputError(
                "archive.symlink", place=Place(file=member), path=str(package), member=member
            )
    return entries
