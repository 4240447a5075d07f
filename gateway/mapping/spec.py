"""Mapping files: reading, checking against their own schema, and identity by content hash."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from gateway import PROJECT_ROOT
from gateway.errors import ConfigurationError, Problems

MAPPING_DIR = PROJECT_ROOT / "mappings"
MAPPING_SCHEMA = MAPPING_DIR / "mapping.schema.json"


@dataclass(frozen=True)
class MappingSpec:
    """One mapping version as data; ``version_id`` is the hash of its canonical content."""

    document: dict[str, Any]
    origin: str

    @property
    def adapter(self) -> str:
        return str(self.document["adapter"])

    @property
    def entity(self) -> str:
        return str(self.document["entity"])

    @property
    def stream(self) -> str:
        return str(self.document["stream"])

    @property
    def number(self) -> int:
        return int(self.document["version"])

    @property
    def schema_version(self) -> int:
        return int(self.document["schema_version"])

    @property
    def label(self) -> str:
        return f"{self.adapter}/{self.entity}/v{self.number}"

    @property
    def canonical(self) -> str:
        return canonical_json(self.document)

    @property
    def version_id(self) -> str:
        return hashlib.sha256(self.canonical.encode("utf-8")).hexdigest()


def canonical_json(value: Any) -> str:
    """Serialise ``value`` the one way the store hashes and compares: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@cache
def _schema_validator() -> jsonschema.Draft202012Validator:
    with MAPPING_SCHEMA.open(encoding="utf-8") as handle:
        return jsonschema.Draft202012Validator(json.load(handle))


def check_document(document: Any, origin: str, problems: Problems) -> bool:
    """Add a problem for every way ``document`` breaks the mapping file schema."""
    errors = sorted(_schema_validator().iter_errors(document), key=lambda e: list(e.path))
    for error in errors:
        where = "/".join(str(p) for p in error.path) or "(top level)"
        problems.add(f"{origin}: {where}: {error.message}")
    return not errors


# The C parser when PyYAML was built with libyaml: the same documents, parsed several times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Checked specs by file, size and modification time: ``gateway init``, every run and every
# test store read the same shipped files, and parsing and checking them is most of that time.
_checked: dict[tuple[str, int, int], MappingSpec] = {}


def read_spec(path: Path) -> MappingSpec:
    """Read and check one mapping file; ``ConfigurationError`` lists every problem.

    A file read before, unchanged since, is not parsed again: a copy of its spec is returned.
    """
    try:
        status = path.stat()
    except OSError as exc:
        raise ConfigurationError("error.mapping_file", problems=[f"{path}: {exc}"]) from exc
    key = (str(path.resolve()), status.st_size, status.st_mtime_ns)
    spec = _checked.get(key)
    if spec is None:
        spec = _checked[key] = _read_spec(path)
    return copy.deepcopy(spec)


def _read_spec(path: Path) -> MappingSpec:
    problems = Problems()
    try:
        with path.open(encoding="utf-8") as handle:
            document = yaml.load(handle, Loader=_YAML_LOADER)  # noqa: S506 (a safe loader)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError("error.mapping_file", problems=[f"{path}: {exc}"]) from exc
    check_document(document, str(path), problems)
    problems.raise_if_any("error.mapping_file")
    _check_joins(document, str(path), problems)
    expected = f"v{document['version']}.yaml"
    if path.name != expected or path.parent.name != document["entity"]:
        problems.add(f"{path}: file must be {document['adapter']}/{document['entity']}/{expected}")
    problems.raise_if_any("error.mapping_file")
    spec = MappingSpec(document=document, origin=_relative(path))
    # Compiling once without input finds invalid patterns, cycles and wrong types at
    # import, not in the middle of a run.
    from gateway.mapping.compiler import check_mapping

    for error in check_mapping(spec):
        problems.add(f"{path}: {error.message()}")
    problems.raise_if_any("error.mapping_file")
    return spec


def _check_joins(document: dict[str, Any], origin: str, problems: Problems) -> None:
    """A join may name only fields of the same mapping that are not joins themselves.

    A ``first_of`` field may name only fields of the same mapping that are not ``first_of`` fields.
    """
    fields = document["fields"]
    for name, spec in fields.items():
        for part in spec.get("join", []):
            if part not in fields or "join" in fields[part]:
                problems.add(f"{origin}: fields/{name}/join: '{part}' must be a non-join field")
        for part in spec.get("first_of", []):
            if part not in fields or "first_of" in fields[part]:
                problems.add(f"{origin}: fields/{name}/first_of: '{part}' must be a field that is "
                             f"not a first_of field")


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def shipped_mapping_files(root: Path = MAPPING_DIR) -> list[Path]:
    """Return the mapping files shipped with the product: ``<adapter>/<entity>/v<N>.yaml``."""
    return sorted(
        p for p in root.glob("*/*/v*.yaml")
        if p.parent.parent.name not in {"schemas", "codelists"}
    )
