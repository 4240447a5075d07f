"""Binding a mapping version to one stream's headers, once per run.

Columns are matched by ``match_key`` of the header text against the mapping's
names and synonyms, never by position. The result maps a row of cells to a
canonical record, or raises ``MappingError`` naming the column and the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.errors import MappingError, Place
from gateway.mapping.spec import MappingSpec
from gateway.mapping.steps import StepError, compile_steps
from gateway.text import match_key

Getter = Callable[[Sequence[str]], str | None]


@dataclass(frozen=True)
class MappedRow:
    """What one row means for one entity: ``upsert`` this record, or ``end`` it."""

    action: str
    local_id: str
    record: dict[str, Any]


@dataclass(frozen=True)
class FieldPlan:
    name: str
    column: str | None  # the header as written in the file, for messages
    compute: Callable[[Sequence[str], dict[str, Any]], Any]
    required: bool
    stored: bool


class MissingColumns(Exception):
    """The stream lacks a column that a required field or the row filter needs."""

    def __init__(self, names: list[str]):
        super().__init__(", ".join(names))
        self.names = names


def _names(columns: str | list[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


class CompiledMapping:
    """A mapping version bound to a stream's headers; build once per stream per run."""

    def __init__(self, spec: MappingSpec, headers: Sequence[str],
                 properties: Mapping[str, str] | None = None):
        self.spec = spec
        # Facts about the whole stream (a workbook's date system, say) that steps may read.
        self.properties = dict(properties or {})
        self.version_id = spec.version_id
        self._positions = {match_key(h): (i, h) for i, h in enumerate(headers)}
        document = spec.document
        self._when = self._compile_when(document.get("when"))
        self._status = self._compile_status(document.get("row_status"))
        # Joins read other fields' results, so they run last. The registry stores
        # mappings with sorted keys, so file order cannot be relied on.
        items = sorted(document["fields"].items(), key=lambda item: "join" in item[1])
        self.fields = [self._compile_field(n, f) for n, f in items]
        self.key_column = next((f.column for f in self.fields if f.name == "local_id"), None)

    # -- column lookup ---------------------------------------------------

    def _find(self, columns: str | list[str]) -> tuple[int, str] | None:
        for name in _names(columns):
            found = self._positions.get(match_key(name))
            if found:
                return found
        return None

    def _getter(self, columns: str | list[str], required: bool) -> tuple[Getter, str | None]:
        found = self._find(columns)
        if found is None:
            if required:
                raise MissingColumns(_names(columns))
            return (lambda cells: None), None
        index, header = found

        def get(cells: Sequence[str]) -> str | None:
            value = cells[index] if index < len(cells) else ""
            return value or None

        return get, header

    # -- compile ---------------------------------------------------------

    def _compile_when(self, when: dict[str, Any] | None) -> Callable[[Sequence[str]], bool]:
        if not when:
            return lambda cells: True
        get, _ = self._getter(when["column"], required=True)
        accepted = {match_key(v) for v in when["any_of"]}
        separator = when.get("split")

        def applies(cells: Sequence[str]) -> bool:
            value = get(cells) or ""
            parts = value.split(separator) if separator else [value]
            return any(match_key(p) in accepted for p in parts)

        return applies

    def when_value(self, cells: Sequence[str]) -> str:
        """Return the text of the row-filter column, for counting rows no mapping takes."""
        when = self.spec.document.get("when")
        if not when:
            return ""
        get, _ = self._getter(when["column"], required=False)
        return get(cells) or ""

    def _compile_status(self, status: dict[str, Any] | None) -> Callable[[Sequence[str]], str]:
        if not status:
            return lambda cells: "upsert"
        get, header = self._getter(status["column"], required=False)
        keep = {match_key(v) for v in status["keep"]}
        end = {match_key(v) for v in status["end"]}
        allowed = " | ".join(v or '""' for v in [*status["keep"], *status["end"]])

        def action(cells: Sequence[str]) -> str:
            value = get(cells) or ""
            key = match_key(value)
            if key in end:
                return "end"
            if key in keep:
                return "upsert"
            raise MappingError(
                "mapping.status_invalid", place=Place(column=header), value=value, allowed=allowed
            )

        return action

    def _compile_field(self, name: str, spec: dict[str, Any]) -> FieldPlan:
        steps = compile_steps(spec.get("steps") or [])
        required = bool(spec.get("required"))
        default = spec.get("default")
        stored = not name.startswith("_")
        if "const" in spec:
            constant = spec["const"]
            return FieldPlan(name, None, lambda cells, out: constant, required, stored)
        if "join" in spec:
            parts = list(spec["join"])

            def join(cells: Sequence[str], out: dict[str, Any]) -> Any:
                text = " ".join(str(out[p]) for p in parts if out.get(p))
                return text or None

            return FieldPlan(name, None, join, required, stored)
        get, header = self._getter(spec["column"], required=required)

        def compute(cells: Sequence[str], out: dict[str, Any]) -> Any:
            value = get(cells)
            value = steps(value) if value is not None else None
            return default if value is None else value

        return FieldPlan(name, header, compute, required, stored)

    # -- run -------------------------------------------------------------

    def applies(self, cells: Sequence[str]) -> bool:
        return self._when(cells)

    def asks_end(self, cells: Sequence[str]) -> bool:
        """Return whether the row's status asks to end the record, without judging the rest."""
        try:
            return self._status(cells) == "end"
        except MappingError:
            return False

    def local_id(self, cells: Sequence[str]) -> str | None:
        """Return the row's local id as read, even when the rest of the row is bad."""
        found = self._find(self.spec.document["fields"]["local_id"].get("column", []))
        if not found:
            return None
        index = found[0]
        return (cells[index] if index < len(cells) else "") or None

    def map(self, cells: Sequence[str], place: Place) -> MappedRow:
        """Return the row's action and record; raise ``MappingError`` at the first bad field."""
        action = self._run_status(cells, place)
        if action == "end":
            # A deletion row may carry only its id and status (OneRoster deltas do).
            local_id = self.local_id(cells)
            if local_id is None:
                raise MappingError("mapping.required_missing", place=place.with_(
                    column=self.key_column, field="local_id"), field="local_id",
                    column=self.key_column or "")
            return MappedRow(action=action, local_id=local_id, record={})
        out: dict[str, Any] = {}
        for plan in self.fields:
            try:
                value = plan.compute(cells, out)
            except StepError as exc:
                raise MappingError(
                    exc.key, place=place.with_(column=plan.column, field=plan.name), **exc.params
                ) from None
            if value is None and plan.required:
                raise MappingError(
                    "mapping.required_missing",
                    place=place.with_(column=plan.column, field=plan.name),
                    field=plan.name,
                    column=plan.column or "",
                )
            out[plan.name] = value
        record = {k: v for k, v in out.items() if v is not None and not k.startswith("_")}
        return MappedRow(action=action, local_id=str(out["local_id"]), record=record)

    def _run_status(self, cells: Sequence[str], place: Place) -> str:
        try:
            return self._status(cells)
        except MappingError as exc:
            raise MappingError(exc.key, place=place.with_(column=exc.place.column), **exc.params) from None
