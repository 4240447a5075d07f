"""`gateway codelists list` as a user runs it: each code with its name in the CLI's language."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = [sys.executable, "-m", "gateway.cli.main"]


def gateway(home: Path, *args: str) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environment["GATEWAY_HOME"] = str(home)
    result = subprocess.run([*GATEWAY, *args], capture_output=True, text=True, env=environment,
                            cwd=ROOT, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def list_line(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"  {label} "))


def test_codelists_list_vietnamese_names(tmp_path: Path) -> None:
    text = gateway(tmp_path, "codelists", "list")

    assert list_line(text, "gender@1") == "  gender@1 Giới tính (2): male (Nam), female (Nữ)"
    assert list_line(text, "ethnic-group-1979@1").startswith(
        "  ethnic-group-1979@1 Dân tộc (mã theo Quyết định 121-TCTK/PPCĐ năm 1979) (54): "
        "01 (Kinh), 02 (Tày), 03 (Thái), 04 (Hoa), ")
    assert "01 (Thành phố Hà Nội)" in list_line(text, "province-2025@1")


def test_codelists_list_english_names(tmp_path: Path) -> None:
    text = gateway(tmp_path, "--lang", "en", "codelists", "list")

    assert list_line(text, "gender@1") == "  gender@1 Gender (2): male (Male), female (Female)"
    assert "04 (Muong), 05 (Khmer), 06 (Hoa)" in list_line(text, "ethnic-group-gso@1")
    # A list without English names shows the Vietnamese ones.
    assert "01 (Thành phố Hà Nội)" in list_line(text, "province-2025@1")


def test_codelists_list_json_names(tmp_path: Path) -> None:
    lists = json.loads(gateway(tmp_path, "--json", "codelists", "list"))

    by_name = {described["name"]: described for described in lists}
    assert by_name["gender"]["names"] == {"male": {"vi": "Nam", "en": "Male"},
                                          "female": {"vi": "Nữ", "en": "Female"}}
    assert len(by_name["commune-2025"]["names"]) == 3321
    assert by_name["commune-2025"]["names"]["26740"] == {"vi": "Phường Sài Gòn"}


def test_codelists_provenance_vietnamese_first(tmp_path: Path) -> None:
    lines = gateway(tmp_path, "codelists", "list").splitlines()

    provenance = lines[lines.index(list_line("\n".join(lines), "gender@1")) + 1]
    assert provenance == ('      Mẫu biểu của Bộ chỉ ghi "Nam" / "Nữ". Cách viết tiếng Anh và của '
                          'OneRoster là bí danh. "other" và "unspecified" của OneRoster không ứng '
                          'với mã nào.')


def test_codelists_provenance_english(tmp_path: Path) -> None:
    lines = gateway(tmp_path, "--lang", "en", "codelists", "show", "province-2025").splitlines()

    assert lines[-1].startswith("  The 34 provinces and centrally governed cities")
    assert "Built from the PyPI package vietnam-provinces" in lines[-1]


def test_codelists_show_package_provenance_vietnamese(tmp_path: Path) -> None:
    lines = gateway(tmp_path, "codelists", "show", "commune-2025").splitlines()

    assert lines[-1].startswith("  Các xã, phường, đặc khu (3.321 đơn vị)")
    assert "Dựng từ gói PyPI vietnam-provinces" in lines[-1]
    assert "Built from" not in lines[-1]


def test_codelists_show_lists_every_code(tmp_path: Path) -> None:
    text = gateway(tmp_path, "codelists", "show", "ethnic-group-1979")
    lines = text.splitlines()

    assert lines[0].startswith("ethnic-group-1979@1 ")
    assert lines[0].endswith("(54)")
    assert "  01 (Kinh)" in lines
    assert len([line for line in lines if line.startswith("  ") and line[2:4].isdigit()]) == 54


def test_codelists_show_json_has_names(tmp_path: Path) -> None:
    document = json.loads(gateway(tmp_path, "--json", "codelists", "show", "gender"))

    assert document["codes"] == ["male", "female"]
    assert document["names"]["female"]["vi"] == "Nữ"
    assert document["provenance"]["vi"].startswith("Mẫu biểu của Bộ")
    assert document["provenance"]["en"].startswith("The Ministry's templates")
