"""Folders and zip files as members: layout, case-insensitive names, limits and unsafe entries."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from adapters.base import Limits
from adapters.common.archive import RATIO_CHECK_MIN_BYTES, open_archive
from gateway.errors import InputError


def write_zip(
    path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED
) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def raised_key(path: Path, limits: Limits | None = None) -> str:
    with pytest.raises(InputError) as raised:
        open_archive(path, limits or Limits())
    return raised.value.key


def test_folder_members_are_listed(tmp_path: Path):
    (tmp_path / "manifest.csv").write_bytes(b"a\n")
    (tmp_path / "users.csv").write_bytes(b"b\n")

    with open_archive(tmp_path, Limits()) as archive:
        assert sorted(member.name for member in archive.members) == ["manifest.csv", "users.csv"]


def test_folder_with_one_top_level_folder(tmp_path: Path):
    inner = tmp_path / "export-2024"
    inner.mkdir()
    (inner / "manifest.csv").write_bytes(b"a\n")
    (tmp_path / ".DS_Store").write_bytes(b"junk")

    with open_archive(tmp_path, Limits()) as archive:
        member = archive.find("manifest.csv")
        assert member is not None
        assert member.path == "export-2024/manifest.csv"


def test_zip_with_one_top_level_folder(tmp_path: Path):
    path = write_zip(tmp_path / "p.zip", {
        "pkg/manifest.csv": b"a\n",
        "pkg/users.csv": b"b\n",
        "__MACOSX/pkg/._users.csv": b"junk",
    })

    with open_archive(path, Limits()) as archive:
        assert sorted(member.name for member in archive.members) == ["manifest.csv", "users.csv"]
        member = archive.find("users.csv")
        assert member is not None
        assert member.path == "pkg/users.csv"


def test_member_names_match_in_any_case(tmp_path: Path):
    path = write_zip(tmp_path / "p.zip", {"userprofiles.csv": b"x\n"})

    with open_archive(path, Limits()) as archive:
        member = archive.find("userProfiles.csv")
        assert member is not None
        assert member.name == "userprofiles.csv"
        assert archive.find("roles.csv") is None


def test_zip_member_is_streamed(tmp_path: Path):
    data = b"0123456789" * 100_000
    path = write_zip(tmp_path / "p.zip", {"big.csv": data})

    with open_archive(path, Limits()) as archive, archive.open(archive.members[0]) as handle:
        first = handle.read(1000)
        rest = handle.read()

    assert first == data[:1000]
    assert first + rest == data


def test_zip_dotdot_member_rejected(tmp_path: Path):
    path = write_zip(tmp_path / "p.zip", {"../evil.csv": b"x\n", "manifest.csv": b"a\n"})

    assert raised_key(path) == "archive.unsafe_name"


def test_zip_absolute_member_rejected(tmp_path: Path):
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("placeholder.csv")
        info.filename = "/etc/evil.csv"
        archive.writestr(info, b"x\n")

    assert raised_key(path) == "archive.unsafe_name"


def test_zip_bomb_ratio_rejected(tmp_path: Path):
    path = write_zip(tmp_path / "p.zip", {"users.csv": b"0" * (2 * RATIO_CHECK_MIN_BYTES)})

    with pytest.raises(InputError) as raised:
        open_archive(path, Limits(max_compression_ratio=200))

    assert raised.value.key == "archive.compression_ratio"
    assert raised.value.params["member"] == "users.csv"
    assert raised.value.params["ratio"] > 200


def test_small_member_not_checked_for_ratio(tmp_path: Path):
    path = write_zip(tmp_path / "p.zip", {"users.csv": b"," * 50_000})

    with open_archive(path, Limits(max_compression_ratio=10)) as archive:
        assert len(archive.members) == 1


def test_too_many_members_rejected(tmp_path: Path):
    path = write_zip(tmp_path / "p.zip", {f"f{i}.csv": b"x\n" for i in range(5)})

    with pytest.raises(InputError) as raised:
        open_archive(path, Limits(max_archive_members=3))

    assert raised.value.key == "archive.too_many_members"
    assert raised.value.params["count"] == 5
    assert raised.value.params["limit"] == 3


def test_folder_with_too_many_files_rejected(tmp_path: Path):
    for i in range(4):
        (tmp_path / f"f{i}.csv").write_bytes(b"x\n")

    assert raised_key(tmp_path, Limits(max_archive_members=3)) == "archive.too_many_members"


def test_archive_file_too_large_rejected(tmp_path: Path):
    path = write_zip(tmp_path / "p.zip", {"users.csv": os.urandom(4000)})

    assert raised_key(path, Limits(max_archive_bytes=1000)) == "archive.file_too_large"


def test_total_uncompressed_too_large_rejected(tmp_path: Path):
    path = write_zip(tmp_path / "p.zip", {"a.csv": b"x" * 600, "b.csv": b"y" * 600})

    assert raised_key(path, Limits(max_uncompressed_bytes=1000)) == "archive.total_too_large"


def test_duplicate_names_in_other_case_rejected(tmp_path: Path):
    path = write_zip(tmp_path / "p.zip", {"users.csv": b"a\n", "Users.csv": b"b\n"})

    assert raised_key(path) == "archive.duplicate_name"


def test_zip_symlink_member_rejected(tmp_path: Path):
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("users.csv")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, b"/etc/passwd")

    assert raised_key(path) == "archive.symlink"


def test_folder_symlink_rejected(tmp_path: Path):
    target = tmp_path / "outside.csv"
    target.write_bytes(b"secret\n")
    package = tmp_path / "package"
    package.mkdir()
    (package / "users.csv").symlink_to(target)

    assert raised_key(package) == "archive.symlink"


def test_encrypted_member_rejected(tmp_path: Path):
    path = write_zip(tmp_path / "p.zip", {"users.csv": b"x\n"})
    # zipfile cannot write encrypted members: set the "encrypted" flag bit in
    # the local header (offset 6) and the central directory header (offset 8).
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"PK\x03\x04") + 6] |= 0x1
    raw[raw.index(b"PK\x01\x02") + 8] |= 0x1
    path.write_bytes(bytes(raw))

    assert raised_key(path) == "archive.encrypted"


def test_bzip2_member_rejected(tmp_path: Path):
    path = write_zip(tmp_path / "p.zip", {"users.csv": b"x\n"}, compression=zipfile.ZIP_BZIP2)

    assert raised_key(path) == "archive.unsupported_compression"


def test_damaged_member_raises_input_error_on_read(tmp_path: Path):
    data = os.urandom(20_000)
    path = write_zip(tmp_path / "p.zip", {"users.csv": data}, compression=zipfile.ZIP_STORED)
    raw = bytearray(path.read_bytes())
    offset = raw.index(data[:64])
    raw[offset + 100] ^= 0xFF
    path.write_bytes(bytes(raw))

    with (
        open_archive(path, Limits()) as archive,
        archive.open(archive.members[0]) as handle,
        pytest.raises(InputError) as raised,
    ):
        while handle.read(4096):
            pass

    assert raised.value.key == "archive.read_failed"
    assert raised.value.params["member"] == "users.csv"


def test_missing_path_rejected(tmp_path: Path):
    assert raised_key(tmp_path / "nothing.zip") == "archive.not_found"


def test_file_that_is_not_zip_rejected(tmp_path: Path):
    path = tmp_path / "users.csv"
    path.write_bytes(b"id\n1\n")

    assert raised_key(path) == "archive.not_supported"


# Recursive: files in the folders below the root -----------------------------------------------


def test_recursive_folder_names_subfolders(tmp_path: Path):
    root = tmp_path / "export" / "Danh sách"
    (root / "Khối 6" / "6A").mkdir(parents=True)
    (root / "Khối 7").mkdir()
    (root / "__MACOSX").mkdir()
    (root / ".git").mkdir()
    (root / "tong-hop.csv").write_bytes(b"a\n")
    (root / "Khối 6" / "6A" / "6A1.xlsx").write_bytes(b"b\n")
    (root / "Khối 7" / "7A1.csv").write_bytes(b"c\n")
    (root / "__MACOSX" / "._7A1.csv").write_bytes(b"d\n")
    (root / ".git" / "HEAD").write_bytes(b"e\n")

    with open_archive(tmp_path / "export", Limits(), recursive=True) as archive:
        members = sorted((member.name, member.path) for member in archive.members)
        assert members == [
            ("Khối 6/6A/6A1.xlsx", "Danh sách/Khối 6/6A/6A1.xlsx"),
            ("Khối 7/7A1.csv", "Danh sách/Khối 7/7A1.csv"),
            ("tong-hop.csv", "Danh sách/tong-hop.csv"),
        ]
        with archive.open(archive.members[0]) as handle:
            assert handle.read() in {b"a\n", b"b\n", b"c\n"}

    with open_archive(tmp_path / "export", Limits()) as archive:
        assert [member.name for member in archive.members] == ["tong-hop.csv"]


def test_recursive_zip_names_subfolders(tmp_path: Path):
    path = write_zip(tmp_path / "export.zip", {
        "Danh sách/Khối 6/6A1.xlsx": b"b", "Danh sách/7A1.csv": b"c",
        "__MACOSX/Danh sách/._7A1.csv": b"d", "Danh sách/.hidden/x.csv": b"e",
    })

    with open_archive(path, Limits(), recursive=True) as archive:
        assert sorted(member.name for member in archive.members) == ["7A1.csv", "Khối 6/6A1.xlsx"]
        with archive.open(archive.find("Khối 6/6A1.xlsx")) as handle:
            assert handle.read() == b"b"


def test_recursive_folder_counts_folders_in_limit(tmp_path: Path):
    for number in range(5):
        (tmp_path / f"lop-{number}").mkdir()
    (tmp_path / "ds.csv").write_bytes(b"a\n")

    with pytest.raises(InputError) as raised:
        open_archive(tmp_path, Limits(max_archive_members=4), recursive=True)

    assert raised.value.key == "archive.too_many_members"


def test_excel_owner_file_ignored(tmp_path: Path):
    (tmp_path / "6A1.xlsx").write_bytes(b"a")
    (tmp_path / "~$6A1.xlsx").write_bytes(b"b")

    with open_archive(tmp_path, Limits()) as archive:
        assert [member.name for member in archive.members] == ["6A1.xlsx"]
