"""Binding a mapping version to one stream's headers, once per run.

Columns are matched by ``match_key`` of the header text against the mapping's
names and synonyms, never by position. The result maps a row of cells to a
canonical record, or raises ``MappingError`` naming the column and the field of the
row's first problem, with the problems of its other fields.

A field name may be a dotted path (``address.commune_code``): its value goes into
a nested object of the record (``{"address": {"commune_code": ...}}``). Steps,
joins and ``parent_field`` name such a field by its whole path.

A field with ``on_error: drop`` does not reject the row when its steps fail. The
field is left out instead, with every field of the same top-level object (the
whole ``address``), and the row's ``MappedRow.dropped`` carries the problem. The
private fields (``_name``) that such a field is built from share its scope, so
the failure of one of them drops the field too (a gender read from a tick column
or a code column).
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gateway.entities import DateLimit, Entity, load_entities
from gateway.errors import ConfigurationError, MappingError, Place
from gateway.mapping.date_parts import PARTS, DateParts
from gateway.mapping.day_month import DayFirstColumn, day_first_formats
from gateway.mapping.formulas import formula_checked
from gateway.mapping.spec import MappingSpec
from gateway.mapping.steps import (
    TEXT,
    StepContext,
    StepError,
    TickReader,
    compile_steps,
    identifier_text,
)
from gateway.text import collapse_spaces, match_key
from gateway.validation import SCHEMA_BASE_URI, SchemaRegistry, get_registry

Getter = Callable[[Sequence[str]], str | None]


@dataclass(frozen=True)
class MappedRow:
    """The action one row gives for one entity: ``upsert`` this record, or ``end`` it."""

    action: str
    local_id: str
    record: dict[str, Any]
    # The problems of ``on_error: drop`` fields that were left out of the record.
    dropped: tuple[DroppedField, ...] = ()


@dataclass(frozen=True)
class FieldPlan:
    name: str
    column: str | None  # the header as written in the file, for messages
    compute: Callable[[Sequence[str], dict[str, Any]], Any]
    required: bool
    stored: bool
    reads: frozenset[str] = frozenset()  # output fields computed before this one
    # With ``on_error: drop``, the path left out when the steps fail: the field itself, or the
    # top-level object of a dotted field. ``None``: a failure rejects the row.
    drops: str | None = None


def value_at(document: Mapping[str, Any], path: str) -> Any:
    """Return the value of ``document`` at the dotted ``path``, or ``None`` when it has none."""
    current: Any = document
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def drop_scope(name: str) -> str:
    """Return the path that a failed ``on_error: drop`` field leaves out: its top-level object."""
    return name.split(".", 1)[0]


def in_scope(name: str, scope: str) -> bool:
    """Tell whether the field ``name`` lies in the object ``scope`` or is that field."""
    return name == scope or name.startswith(scope + ".")


def _belongs(plan: FieldPlan, scope: str) -> bool:
    """Tell whether a failed ``on_error: drop`` field with ``scope`` leaves ``plan`` out.

    That is every field in the scope's object, and every private field given the scope
    because a field of the scope is built from it.
    """
    return in_scope(plan.name, scope) or plan.drops == scope


def is_stored(name: str) -> bool:
    """Return whether a field goes into the record: no part of its dotted path starts with ``_``."""
    return not any(part.startswith("_") for part in name.split("."))


class DroppedField(MappingError):
    """The problem of an ``on_error: drop`` field, whose ``drop_scope`` the record left out."""

    def __init__(self, key: str, /, place: Place | None = None, *, drop_scope: str, **params: Any):
        super().__init__(key, place=place, **params)
        self.drop_scope = drop_scope


class MissingColumns(Exception):
    """The stream lacks a column that a required field or the row filter needs."""

    def __init__(self, names: list[str]):
        super().__init__(", ".join(names))
        self.names = names


def _names(columns: str | list[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


def column_groups(field: Mapping[str, Any]) -> list[list[str]]:
    """Return the columns a field reads, each as its list of synonyms.

    A ``column`` field reads one group, a ``join_columns`` or ``ticks`` field one group per
    part and a ``date_parts`` field one group each for the day, month and year, after its
    ``column`` if it has one. ``const``, ``join`` and ``first_of`` fields read none.
    """
    if "ticks" in field:
        return [_names(choice["column"]) for choice in field["ticks"]]
    groups = [_names(field["column"])] if "column" in field else []
    if "date_parts" in field:
        groups += [_names(field["date_parts"][part]) for part in PARTS]
    return groups or [_names(part) for part in field.get("join_columns", [])]


def _tone_key(text: str) -> str:
    """Return ``text`` for comparison without case, spaces and punctuation, but with its marks.

    ``match_key`` drops tone marks, so "Năm" (the year of a birth date split into three
    columns) and "Nam" get one key. A tick column must not be taken for a year column.
    """
    return "".join(ch for ch in unicodedata.normalize("NFC", text).casefold() if ch.isalnum())


class CompiledMapping:
    """A mapping version bound to a stream's headers; build once per stream per run.

    Raises ``MissingColumns`` when the stream lacks a column that the mapping needs. Raises
    ``ConfigurationError`` when the mapping cannot be compiled: a step with an invalid argument,
    fields that read each other in a cycle, or a field whose steps, ``const`` or ``default``
    give a JSON type that the entity's schema does not allow. When ``problems`` is given, the
    configuration errors of fields are appended to it instead (see ``check_mapping``).
    """

    def __init__(self, spec: MappingSpec, headers: Sequence[str],
                 properties: Mapping[str, str] | None = None, *,
                 problems: list[ConfigurationError] | None = None):
        self.spec = spec
        # Facts about the whole stream (a workbook's date system, say) that steps may read.
        self.properties = dict(properties or {})
        self.version_id = spec.version_id
        self._positions = {match_key(h): (i, h) for i, h in enumerate(headers)}
        self._headers = list(headers)
        self._read: set[int] = set()  # every column index a lookup below resolved
        self._reading: set[int] = set()  # the column indexes of the field being compiled
        self._context = StepContext(properties=self.properties, mapping=spec.label)
        entity = load_entities().get(spec.entity)
        self._identifiers = entity.identifier_fields if entity else frozenset({"local_id"})
        # The identifiers that ``on_error: drop`` may leave out: the aliases, never the natural key.
        self._aliases = frozenset(entity.aliases) - {entity.natural_key} if entity else frozenset()
        self._date_limits = dict(entity.date_limits) if entity else {}
        # (field, headers found, names of the columns not found) of each date_parts field
        # that finds some of its columns but not all, so that the run can warn about it.
        self.partial_columns: list[tuple[str, list[str], list[str]]] = []
        # The stored fields that read dates from one column day first (``day_month``).
        self.day_first_columns: list[DayFirstColumn] = []
        document = spec.document
        self._when = self._compile_when(document.get("when"))
        self._status = self._compile_status(document.get("row_status"))
        errors: list[ConfigurationError] = [] if problems is None else problems
        self._check_nesting(document["fields"], errors)
        plans = self._compile_fields(document["fields"], errors)
        if errors and problems is None:
            raise errors[0]
        self.fields = self._spread_drops(
            self._in_dependency_order(plans, set(document["fields"]), errors))
        self._check_drops(self.fields, errors)
        if errors and problems is None:
            raise errors[0]
        self._by_name = {plan.name: plan for plan in self.fields}
        self._check_built_fields()
        self._keepable = self._keepable_sources(entity)
        self.keep_when_empty = self._keep_when_empty(document["fields"], entity, errors)
        if errors and problems is None:
            raise errors[0]
        self.key_column = next((f.column for f in self.fields if f.name == "local_id"), None)
        # The record path of each stored field, and whether any is nested.
        self._paths = [(plan.name, tuple(plan.name.split("."))) for plan in self.fields
                       if plan.stored]
        self._nested = any(len(path) > 1 for _, path in self._paths)
        # Besides its compile-time inputs, a row's result depends on these cells only.
        self.read_columns: tuple[int, ...] = tuple(sorted(self._read))

    def _check_built_fields(self) -> None:
        """Raise ``MissingColumns`` for a required field built from other fields whose columns are all absent.

        Such a field could only reject every row, so the stream is not read for this mapping,
        as for a required column that is absent.
        """
        for plan in self.fields:
            if not plan.required or plan.column is not None or self._source_columns(plan):
                continue
            expected = self._source_columns(plan, with_absent=True)
            if expected:
                raise MissingColumns(expected)

    def _keepable_sources(self, entity: Entity | None) -> dict[str, frozenset[int]]:
        """Return the column indexes that each stored optional field is built from.

        The columns of the fields it reads (a ``join``, a ``first_of``, a ``parent_field``)
        count too. Identifiers, references and scope fields are left out, because staging
        reads the row's keys from the record before compare could keep a stored value.
        """
        excluded = self._not_keepable(entity)
        sources: dict[str, frozenset[int]] = {}
        # ``self.fields`` is in dependency order, so the fields a plan reads come before it.
        for plan in self.fields:
            columns = set(self._own_columns.get(plan.name, ()))
            for name in plan.reads:
                columns |= sources.get(name, frozenset())
            sources[plan.name] = frozenset(columns)
        return {plan.name: sources[plan.name] for plan in self.fields
                if plan.stored and not plan.required and plan.name not in excluded
                and sources[plan.name]}

    def _not_keepable(self, entity: Entity | None) -> set[str]:
        """Return the fields whose stored value a row can never keep: identifiers, references, scope."""
        excluded = set(self._identifiers)
        if entity is not None:
            excluded.update(name for name in (entity.scope_school, entity.scope_period) if name)
        return excluded

    def _keep_when_empty(self, fields: Mapping[str, Any], entity: Entity | None,
                         errors: list[ConfigurationError]) -> tuple[str, ...]:
        """Return the fields with ``on_empty: keep``, whose empty value keeps the stored one.

        Only a stored optional field qualifies: an identifier, a reference or a scope field is
        read for the row's keys before compare could keep a stored value.
        """
        excluded = self._not_keepable(entity)
        found = []
        for name, spec in fields.items():
            if spec.get("on_empty") != "keep":
                continue
            plan = self._by_name.get(name)
            if plan is None or not plan.stored or plan.required or name in excluded:
                errors.append(ConfigurationError("error.mapping_keep_empty_field",
                                                 mapping=self.spec.label, field=name))
                continue
            found.append(name)
        return tuple(found)

    def empty_kept_fields(self, record: Mapping[str, Any]) -> list[str]:
        """Return the ``on_empty: keep`` fields that have no value in ``record``."""
        return [name for name in self.keep_when_empty if value_at(record, name) is None]

    # -- column lookup ---------------------------------------------------

    def _locate(self, columns: str | list[str]) -> tuple[int, str] | None:
        """Return the index and header of the first of ``columns`` in the stream, if any."""
        for name in _names(columns):
            found = self._positions.get(match_key(name))
            if found:
                return found
        return None

    def _find(self, columns: str | list[str]) -> tuple[int, str] | None:
        """Locate ``columns`` as ``_locate`` does, and count the column as read."""
        found = self._locate(columns)
        if found:
            self._read.add(found[0])
            self._reading.add(found[0])
        return found

    def _reads_date_parts(self, spec: Mapping[str, Any]) -> bool:
        """Tell whether a ``date_parts`` field reads its three part columns rather than its ``column``.

        It does when the stream has all three, or lacks the ``column``. A flat list with "Ngày
        sinh", "Tháng sinh" and "Năm sinh" thus reads its "Ngày sinh" as the day, and a list with
        one "Ngày sinh" column reads it as the whole date.
        """
        if "column" not in spec or self._locate(spec["column"]) is None:
            return True
        return all(self._locate(spec["date_parts"][part]) for part in PARTS)

    def _getter(self, columns: str | list[str], required: bool,
                marks: bool = False) -> tuple[Getter, str | None]:
        """Return a getter of the column ``columns`` names; with ``marks``, compare tone marks too."""
        found = self._find_with_marks(columns) if marks else self._find(columns)
        if found is None:
            if required:
                raise MissingColumns(_names(columns))
            return (lambda cells: None), None
        index, header = found

        def get(cells: Sequence[str]) -> str | None:
            value = cells[index] if index < len(cells) else ""
            return value or None

        return get, header

    def _find_with_marks(self, columns: str | list[str]) -> tuple[int, str] | None:
        """Find a column whose header equals one of ``columns`` with its tone marks (``_tone_key``)."""
        keys = {_tone_key(name) for name in _names(columns)}
        for index, header in enumerate(self._headers):
            if _tone_key(header) in keys:
                self._read.add(index)
                self._reading.add(index)
                return index, header
        return None

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

    def _check_nesting(self, fields: Mapping[str, Any], errors: list[ConfigurationError]) -> None:
        """Reject a field whose path runs through another field (``address`` and ``address.detail``).

        The record could hold either the value of the outer field or the object of the inner one.
        """
        names = set(fields)
        for name in fields:
            parts = name.split(".")
            outer = next((".".join(parts[:depth]) for depth in range(1, len(parts))
                          if ".".join(parts[:depth]) in names), None)
            if outer is not None:
                errors.append(ConfigurationError("error.mapping_field_nested_in_field",
                                                 mapping=self.spec.label, field=name, outer=outer))

    def _compile_fields(self, fields: Mapping[str, Any],
                        errors: list[ConfigurationError]) -> list[FieldPlan]:
        types = _target_types(self.spec, fields)
        one_line = _one_line_fields(self.spec, fields)
        self._name_sources = _name_sources(fields, one_line)
        plans = []
        # The column indexes that each field reads itself, for ``_keepable_sources``.
        self._own_columns: dict[str, frozenset[int]] = {}
        for name, spec in fields.items():
            self._reading = set()
            try:
                self._check_containers(name, types)
                plan = self._compile_field(name, spec, types.get(name))
                if spec.get("on_error") == "drop":
                    plan = replace(plan, drops=drop_scope(name))
                plans.append(_on_one_line(plan) if name in one_line else plan)
            except ConfigurationError as exc:
                errors.append(exc)
            self._own_columns[name] = frozenset(self._reading)
        return plans

    def _spread_drops(self, plans: list[FieldPlan]) -> list[FieldPlan]:
        """Give the private fields that an ``on_error: drop`` field reads its drop scope.

        ``gender: {first_of: [_gender_from_ticks, _gender_from_code], on_error: drop}`` thus
        drops the gender when the code column contains an unknown value, where the private field's
        failure would otherwise reject the row. A private field with its own ``on_error`` keeps
        it. A private field that a field of another scope reads too is caught by
        ``_check_drops``.
        """
        by_name = {plan.name: plan for plan in plans}
        scopes: dict[str, str] = {}
        for plan in reversed(plans):  # readers come after the fields they read
            scope = plan.drops or scopes.get(plan.name)
            if scope is None:
                continue
            for name in plan.reads:
                read = by_name.get(name)
                if read is not None and not read.stored and read.drops is None:
                    scopes.setdefault(name, scope)
        return [replace(plan, drops=scopes[plan.name]) if plan.name in scopes else plan
                for plan in plans]

    def _check_drops(self, plans: list[FieldPlan], errors: list[ConfigurationError]) -> None:
        """Reject an ``on_error: drop`` that could lose a required field or the natural key.

        Dropping a scope leaves out every field in it, so none may be required, the natural
        key or a reference. An alias (the Ministry id, the personal number) may be dropped,
        because a record without it is matched as a row with an empty cell would be: by its
        local id and its other aliases, never by the dropped value. A field outside the
        scope may not read one inside it, because it would keep a value built from data
        that the row then drops.
        """
        scopes = {plan.drops for plan in plans if plan.drops is not None}
        by_name = {plan.name: plan for plan in plans}
        for plan in plans:
            for scope in sorted(scopes):
                inside = _belongs(plan, scope)
                undroppable = plan.name in self._identifiers and plan.name not in self._aliases
                if inside and (plan.required or undroppable):
                    errors.append(ConfigurationError("error.mapping_drop_required",
                                                     mapping=self.spec.label, field=plan.name,
                                                     scope=scope))
                read = sorted(name for name in plan.reads
                              if name in by_name and _belongs(by_name[name], scope))
                if not inside and read:
                    errors.append(ConfigurationError("error.mapping_drop_read",
                                                     mapping=self.spec.label, field=plan.name,
                                                     read=read[0], scope=scope))

    def _check_containers(self, name: str, types: Mapping[str, frozenset[str] | None]) -> None:
        """Reject a stored dotted field whose outer path the schema declares as other than an object."""
        if not is_stored(name):
            return
        parts = name.split(".")
        for depth in range(1, len(parts)):
            outer = ".".join(parts[:depth])
            allowed = types.get(outer)
            if allowed is not None and "object" not in allowed:
                raise ConfigurationError("error.mapping_field_not_object", mapping=self.spec.label,
                                         field=name, outer=outer,
                                         expected=" | ".join(sorted(allowed)))

    def _compile_field(self, name: str, spec: dict[str, Any],
                       allowed: frozenset[str] | None) -> FieldPlan:
        context = replace(self._context, field=name)
        steps = compile_steps(spec.get("steps") or [], context)
        required = bool(spec.get("required"))
        default = spec.get("default")
        stored = is_stored(name)
        typed = _TypeCheck(context, allowed if stored else None)
        if "const" in spec:
            constant = spec["const"]
            typed.value("const", constant)
            return FieldPlan(name, None, lambda cells, out: constant, required, stored)
        if "join" in spec:
            typed.kind(TEXT)
            return self._join_plan(name, list(spec["join"]), required, stored)
        if "first_of" in spec:
            if spec.get("steps"):
                typed.kind(steps.kind)
            return self._first_plan(name, list(spec["first_of"]), required, stored, steps)
        if "ticks" in spec:
            typed.kind(TEXT)
            return self._ticks_plan(name, list(spec["ticks"]), required, stored)
        if "default" in spec:
            typed.value("default", default)
        typed.kind(steps.kind)
        if "join_columns" in spec:
            get, header = self._joined_getter(spec["join_columns"], required)
        elif "date_parts" in spec and self._reads_date_parts(spec):
            get, header = self._date_parts_getter(name, spec, required)
        else:
            get, header = self._getter(spec["column"], required=required,
                                       marks=bool(spec.get("match_tone_marks")))
            self._note_day_first(name, spec)
        found = header is not None
        if name in self._identifiers or name in self._name_sources:
            get = formula_checked(get, header, identifier=name in self._identifiers)
        if name in self._identifiers:
            read = get

            def get(cells: Sequence[str]) -> str | None:
                return identifier_text(read(cells))

        def compute(cells: Sequence[str], out: dict[str, Any]) -> Any:
            if not found:
                # A missing column is not an empty cell: a flag step must not read it as "unmarked".
                return default
            value = steps(get(cells), out)
            return default if value is None else value

        return FieldPlan(name, header, compute, required, stored, steps.reads)

    def _note_day_first(self, name: str, spec: Mapping[str, Any]) -> None:
        """List a stored field that reads one column of dates under day-first formats.

        NOTE: a private field (``_birth``) is not listed, so a join or ``first_of`` of dates
        from several columns gets no check of the day and month order.
        """
        formats = day_first_formats(spec.get("steps"))
        located = self._locate(spec["column"])
        if formats and located and is_stored(name):
            self.day_first_columns.append(DayFirstColumn(name, *located, formats))

    @staticmethod
    def _join_plan(name: str, parts: list[str], required: bool, stored: bool) -> FieldPlan:
        def join(cells: Sequence[str], out: dict[str, Any]) -> Any:
            text = " ".join(str(out[p]) for p in parts if out.get(p))
            return text or None

        return FieldPlan(name, None, join, required, stored, frozenset(parts))

    @staticmethod
    def _first_plan(name: str, parts: list[str], required: bool, stored: bool,
                    steps: Any) -> FieldPlan:
        def first(cells: Sequence[str], out: dict[str, Any]) -> Any:
            value = next((out[p] for p in parts if out.get(p) not in (None, "")), None)
            return value if value is None else steps(value, out)

        return FieldPlan(name, None, first, required, stored, frozenset(parts) | steps.reads)

    def _ticks_plan(self, name: str, choices: list[dict[str, Any]], required: bool,
                    stored: bool) -> FieldPlan:
        """Plan a field read from the tick-box columns of one choice, such as "Nam" and "Nữ".

        Exactly one ticked column gives its ``value``. No tick, or more than one, rejects the row
        with ``mapping.ticks_none`` or ``mapping.ticks_several``, which name the columns. The
        field has no value unless the file has every column, so a lone "Nữ" column is left to
        another field. The words of one column ("Nữ") count as a tick there and are rejected in
        the other columns.
        """
        found = [self._find_with_marks(choice["column"]) for choice in choices]
        places = [place for place in found if place is not None]
        if len(places) < len(choices):
            if required:
                raise MissingColumns([_names(c["column"])[0] for c in choices])
            return FieldPlan(name, None, lambda cells, out: None, required, stored)
        words = [tuple(choice.get("words") or ()) for choice in choices]
        readers = []
        for choice, (index, header), own in zip(choices, places, words, strict=True):
            others = tuple(word for other in words if other is not own for word in other)
            readers.append((index, header, str(choice["value"]), TickReader(own, others)))
        readers.sort(key=lambda reader: reader[0])
        headers = [header for _, header, _, _ in readers]

        def ticked(cells: Sequence[str], out: dict[str, Any]) -> Any:
            values = []
            for index, header, value, read in readers:
                try:
                    if read(cells[index] if index < len(cells) else None):
                        values.append(value)
                except StepError as exc:
                    # The problem names the one column at fault, so that the lone-column field
                    # that reads the same cell gives the same problem, which is listed once.
                    exc.column = exc.column or header
                    raise
            if len(values) == 1:
                return values[0]
            key = "mapping.ticks_several" if values else "mapping.ticks_none"
            raise StepError(key, columns=", ".join(headers))

        return FieldPlan(name, " + ".join(headers), ticked, required, stored)

    def _joined_getter(self, groups: list[Any], required: bool) -> tuple[Getter, str | None]:
        """Return a getter that joins several columns with one space, skipping empty cells.

        Every column must be present: when one is missing the field is missing as a whole
        (``MissingColumns`` if it is required), so a name is never stored with a part left out.
        """
        found = [self._find(group) for group in groups]
        missing = [name for group, place in zip(groups, found, strict=True) if place is None
                   for name in _names(group)]
        if missing:
            if required:
                raise MissingColumns(missing)
            return (lambda cells: None), None
        indexes = [place[0] for place in found if place is not None]
        header = " + ".join(place[1] for place in found if place is not None)

        def get(cells: Sequence[str]) -> str | None:
            parts = [cells[i] for i in indexes if i < len(cells) and cells[i]]
            return " ".join(parts) or None

        return get, header

    def _date_parts_getter(self, name: str, spec: Mapping[str, Any],
                           required: bool) -> tuple[Getter, str | None]:
        """Return a getter that builds a date from a day, a month and a year column.

        Used when ``_reads_date_parts`` returns true. Every part's column must be present, as for
        ``join_columns``. A stream with some of them but not all is
        listed in ``partial_columns``, so that the run warns instead of leaving the date out
        unnoticed.
        """
        groups = [spec["date_parts"][part] for part in PARTS]
        found = [self._find(group) for group in groups]
        missing = [_names(group)[0] for group, place in zip(groups, found, strict=True)
                   if place is None]
        if missing:
            present = [place[1] for place in found if place is not None]
            if present:
                self.partial_columns.append((name, present, missing))
            if required:
                whole = _names(spec["column"]) if "column" in spec else []
                raise MissingColumns([*whole, *missing])
            return (lambda cells: None), None
        located = [place for place in found if place is not None]
        limited_field, limit = self._date_limit_of(name)
        reader = DateParts(
            indexes=(located[0][0], located[1][0], located[2][0]),
            headers=(located[0][1], located[1][1], located[2][1]),
            limit=limit, limited_field=limited_field)
        return reader, " + ".join(reader.headers)

    def _date_limit_of(self, name: str) -> tuple[str, DateLimit | None]:
        """Return the field whose ``date_limits`` apply to ``name``, and those limits.

        They are the field's own, or those of a ``first_of`` or ``join`` field that reads it
        (``birth_date: {first_of: [_date_in_column, _date_in_parts]}``).
        """
        if name in self._date_limits:
            return name, self._date_limits[name]
        for other, spec in self.spec.document["fields"].items():
            if name in (spec.get("first_of") or spec.get("join") or []) and other in self._date_limits:
                return other, self._date_limits[other]
        return name, None

    def _in_dependency_order(self, plans: list[FieldPlan], names: set[str],
                             errors: list[ConfigurationError]) -> list[FieldPlan]:
        """Order fields so that each comes after the fields it reads (joins, parent fields).

        Fields keep their order within one depth, so the fields that read none come first, as
        joins always ran last. The registry stores mappings with sorted keys, so the order of a
        file cannot be relied on.
        """
        by_name = {plan.name: plan for plan in plans}
        for plan in plans:
            for unknown in sorted(plan.reads - names):
                errors.append(ConfigurationError("error.mapping_field_unknown",
                                                 mapping=self.spec.label, field=plan.name,
                                                 name=unknown))
        depths: dict[str, int] = {}
        for plan in plans:
            cycle = _depth(plan.name, by_name, depths, [])
            if cycle:
                errors.append(ConfigurationError("error.mapping_field_cycle",
                                                 mapping=self.spec.label, fields=" -> ".join(cycle)))
                break
        return sorted(plans, key=lambda plan: depths.get(plan.name, 0))

    # -- run -------------------------------------------------------------

    def applies(self, cells: Sequence[str]) -> bool:
        return self._when(cells)

    def column_of(self, field_path: str | None) -> str | None:
        """Return the header of the column that gave the value at ``field_path``, if one did.

        ``field_path`` is the dotted path of a validation problem: a field (``address.commune_code``)
        or a part of one (``school_refs.0``). Of the field names the path starts with, the
        longest is used. A ``const`` or ``join`` field, or a path that no field gives, has no column.
        """
        if not field_path:
            return None
        parts = field_path.split(".")
        for depth in range(len(parts), 0, -1):
            plan = self._by_name.get(".".join(parts[:depth]))
            if plan is not None:
                return plan.column
        return None

    def uncalculated_fields(self, cells: Sequence[str],
                            uncalculated: Mapping[str, str] | None) -> list[str]:
        """Return the stored optional fields whose value only formulas without a value could give.

        ``uncalculated`` names such formula cells by header (``SourceRow.uncalculated``). A
        field is returned when every cell it is built from reads empty and at least one of
        them is such a formula, so the row gives no information about the field's value. Identifiers,
        references and scope fields are never returned (``_keepable_sources``).
        """
        if not uncalculated:
            return []
        formulas = {index for index, header in enumerate(self._headers) if header in uncalculated}
        found = []
        for name, columns in self._keepable.items():
            if not columns & formulas:
                continue
            if all(not (cells[index] if index < len(cells) else "") for index in columns):
                found.append(name)
        return found

    def asks_end(self, cells: Sequence[str]) -> bool:
        """Return whether the row's status requests an end of the record, ignoring the other cells."""
        try:
            return self._status(cells) == "end"
        except MappingError:
            return False

    def local_id(self, cells: Sequence[str]) -> str | None:
        """Return the row's local id, even when the rest of the row is bad.

        Digits typed in groups are joined as ``identifier_text`` joins them, so that a
        rejected or ending row names the record that a good row with the same cell names.
        A cell that ``identifier_text`` rejects is returned as read.
        """
        found = self._find(self.spec.document["fields"]["local_id"].get("column", []))
        if not found:
            return None
        index = found[0]
        value = (cells[index] if index < len(cells) else "") or None
        try:
            return identifier_text(value)
        except StepError:
            return value

    def map(self, cells: Sequence[str], place: Place) -> MappedRow:
        """Return the row's action and record.

        Raises ``MappingError`` for the first bad field, with the problems of the row's other
        fields in ``others``. A good row runs each field once; only a bad row is mapped again
        to collect its problems.
        """
        try:
            action = self._status(cells)
        except MappingError:
            raise self._row_problems(cells, place) from None
        if action == "end":
            # A deletion row may carry only its id and status (OneRoster deltas do).
            local_id = self.local_id(cells)
            if local_id is None:
                raise MappingError("mapping.required_missing", place=place.with_(
                    column=self.key_column, field="local_id"), field="local_id",
                    column=self.key_column or "")
            return MappedRow(action=action, local_id=local_id, record={})
        out: dict[str, Any] = {}
        dropped: list[DroppedField] = []
        for plan in self.fields:
            if any(_belongs(plan, problem.drop_scope) for problem in dropped):
                out[plan.name] = None
                continue
            try:
                value = plan.compute(cells, out)
            except StepError as exc:
                if plan.drops is None:
                    raise self._row_problems(cells, place) from None
                dropped.append(self._drop(plan, exc, out, place))
                continue
            if value is None and plan.required:
                raise self._row_problems(cells, place) from None
            out[plan.name] = value
        return MappedRow(action=action, local_id=str(out["local_id"]), record=self._record(out),
                         dropped=tuple(dropped))

    def _drop(self, plan: FieldPlan, exc: StepError, out: dict[str, Any], place: Place) -> DroppedField:
        """Leave out the scope of a failed ``on_error: drop`` field; return its problem."""
        scope = plan.drops or plan.name
        for name in out:
            if _belongs(self._by_name[name], scope):
                out[name] = None
        problem = self._step_problem(plan, exc, place)
        # A private field's problem is named by the stored field that it leaves out.
        where = problem.place if plan.stored else problem.place.with_(field=scope)
        return DroppedField(problem.key, place=where, drop_scope=scope, **problem.params)

    @staticmethod
    def _step_problem(plan: FieldPlan, exc: StepError, place: Place) -> MappingError:
        """Return a step's failure as a row problem at the field's column.

        A step that names the column in its message gives ``column=None``, filled in here.
        """
        column = exc.column or plan.column
        key, params = _step_message(exc, plan)
        if "column" in params and params["column"] is None:
            params = {**params, "column": column or ""}
        return MappingError(key, place=place.with_(column=column, field=plan.name), **params)

    def _row_problems(self, cells: Sequence[str], place: Place) -> MappingError:
        """Map a bad row again, field by field, and return its first problem with the others.

        A field that reads a field with a problem is skipped, because its own problem would
        only repeat that one. An invalid row status is a problem too, and the fields are
        then mapped as for an upsert.
        """
        found: list[MappingError] = []
        try:
            self._status(cells)
        except MappingError as exc:
            found.append(MappingError(exc.key, place=place.with_(column=exc.place.column),
                                      **exc.params))
        out: dict[str, Any] = {}
        failed: set[str] = set()
        dropped: list[DroppedField] = []
        for plan in self.fields:
            if plan.reads & failed or any(_belongs(plan, d.drop_scope) for d in dropped):
                failed.add(plan.name)
                continue
            problem = self._field_problem(plan, cells, out, place)
            if problem is None:
                continue
            failed.add(plan.name)
            if isinstance(problem, DroppedField):
                # Listed after the problems that reject the row, so that one fix covers them all.
                dropped.append(problem)
            else:
                found.append(problem)
        problems: list[MappingError] = [*_without_repeats(found), *dropped]
        first, *others = problems
        first.others = tuple(others)
        return first

    def _field_problem(self, plan: FieldPlan, cells: Sequence[str], out: dict[str, Any],
                       place: Place) -> MappingError | None:
        """Compute one field into ``out``; return its problem, or ``None`` when it has a value."""
        try:
            value = plan.compute(cells, out)
        except StepError as exc:
            if plan.drops is not None:
                return self._drop(plan, exc, out, place)
            return self._step_problem(plan, exc, place)
        if value is None and plan.required:
            return self._missing(plan, place)
        out[plan.name] = value
        return None

    def _missing(self, plan: FieldPlan, place: Place) -> MappingError:
        """Return the problem of a required field without a value."""
        if plan.column:
            # An empty id has its own message, which suggests a temporary id until a code is issued.
            key = "mapping.local_id_missing" if plan.name == "local_id" else "mapping.required_missing"
            return MappingError(key, place=place.with_(column=plan.column, field=plan.name),
                                field=plan.name, column=plan.column)
        # A field built from other fields (a name joined from two columns) has no one
        # column: the message names the columns of the fields it is built from.
        key = self._missing_key(plan)
        columns = self._source_columns(plan, with_absent=key != "mapping.required_missing_joined")
        # Joined with ", ", which translate splits to describe each name.
        return MappingError(key, place=place.with_(field=plan.name), field=plan.name,
                            columns=", ".join(columns))

    def _missing_key(self, plan: FieldPlan) -> str:
        """Return the message key for a required field built from other fields that has no value.

        A ``first_of`` field's sources may contain text that names nothing (a title with no class).
        Its message covers that case when the field reads the adapter's own columns (``_block``).
        Messages show those columns and private fields by their catalogue text
        (``gateway.i18n.NAME_PARAMS``).
        """
        if "first_of" not in self.spec.document["fields"].get(plan.name, {}):
            return "mapping.required_missing_joined"
        if any(column.startswith("_") for column in self._source_columns(plan)):
            return "mapping.required_missing_first_virtual"
        return "mapping.required_missing_first"

    def _source_columns(self, plan: FieldPlan, with_absent: bool = False) -> list[str]:
        """Return the headers of the file that ``plan`` is built from, through the fields it reads.

        ``with_absent`` adds the columns the file lacks, by the first name the mapping gives
        them, so that a message names the column that would give the value.
        """
        by_name = {field.name: field for field in self.fields}
        headers: list[str] = []
        pending, visited = [plan], set()
        while pending:
            current = pending.pop(0)
            if current.name in visited:
                continue
            visited.add(current.name)
            column = current.column
            if column is None and with_absent:
                groups = column_groups(self.spec.document["fields"].get(current.name, {}))
                column = " + ".join(group[0] for group in groups) or None
            if column and column not in headers:
                headers.append(column)
            spec = self.spec.document["fields"].get(current.name, {})
            # The fields a join or first_of field reads, in the order it lists them.
            listed = spec.get("first_of") or spec.get("join") or sorted(current.reads)
            pending.extend(by_name[name] for name in listed if name in by_name)
        return headers

    def _record(self, out: Mapping[str, Any]) -> dict[str, Any]:
        """Build the record from the stored fields that have a value.

        A dotted field goes into nested objects, which exist only where a value is set, so an
        object whose fields are all empty is left out rather than written as ``{}``.
        """
        if not self._nested:
            return {k: v for k, v in out.items() if v is not None and not k.startswith("_")}
        record: dict[str, Any] = {}
        for name, path in self._paths:
            value = out.get(name)
            if value is None:
                continue
            target = record
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = value
        return record


def _without_repeats(problems: list[MappingError]) -> list[MappingError]:
    """Return ``problems`` without those that repeat an earlier one for another field.

    Two fields may read one cell: a pair of tick columns "Nam" and "Nữ", and the lone "Nữ"
    column read for lists without "Nam". A cell that both reject gives one problem with
    the same reason, column and parameters, which the row lists once, under the first field.
    """
    kept: list[MappingError] = []
    for problem in problems:
        if not any(problem.key == earlier.key and problem.place.column == earlier.place.column
                   and problem.params == earlier.params for earlier in kept):
            kept.append(problem)
    return kept


def _step_message(error: StepError, plan: FieldPlan) -> tuple[str, dict[str, Any]]:
    """Return the message key and parameters of a step's error in field ``plan``.

    A message that names the column (``StepError.column_key``) gets the field's column, or,
    for a field without one, its own key with the field's name.
    """
    if error.column_key is None:
        return error.key, error.params
    if plan.column:
        return error.column_key, {**error.params, "column": plan.column}
    return error.key, {**error.params, "field": plan.name}


def check_mapping(spec: MappingSpec) -> list[ConfigurationError]:
    """Compile ``spec`` without any input and return every configuration problem it has.

    The mapping is bound to every column it names and to no stream properties, so a
    ``date_system`` of ``auto`` reads as 1900. What remains are problems of the mapping itself:
    an invalid regular expression, a field that reads an unknown field, a cycle, or a type that
    the schema does not allow.
    """
    document = spec.document
    headers = [name for field in document["fields"].values()
               for group in column_groups(field) for name in group]
    for key in ("when", "row_status"):
        if document.get(key):
            headers += _names(document[key]["column"])
    problems: list[ConfigurationError] = []
    CompiledMapping(spec, headers, problems=problems)
    return problems


def _depth(name: str, plans: Mapping[str, FieldPlan], depths: dict[str, int],
           path: list[str]) -> list[str] | None:
    """Record in ``depths`` how many fields deep ``name`` reads; return a cycle if there is one."""
    if name in depths or name not in plans:
        return None
    if name in path:
        return [*path[path.index(name):], name]
    path.append(name)
    deepest = -1
    for dependency in sorted(plans[name].reads):
        cycle = _depth(dependency, plans, depths, path)
        if cycle:
            return cycle
        deepest = max(deepest, depths.get(dependency, 0))
    path.pop()
    depths[name] = deepest + 1
    return None


# -- what the entity's schema allows -----------------------------------------------------------------


def _json_type(value: Any) -> str:
    """Return the JSON Schema type of a value read from a mapping file."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    names = {float: "number", str: "string", list: "array", dict: "object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


class _TypeCheck:
    """Check what a field gives against the JSON types that its schema property allows.

    ``allowed`` is ``None`` where nothing is known (a field the schema lacks, a ``_`` field).
    """

    def __init__(self, context: StepContext, allowed: frozenset[str] | None):
        self.context = context
        self.allowed = allowed

    def _expected(self) -> str:
        return " | ".join(sorted(self.allowed or ()))

    def kind(self, kind: str) -> None:
        if self.allowed is None or kind in self.allowed:
            return
        raise ConfigurationError("error.mapping_field_type", mapping=self.context.mapping,
                                 field=self.context.field, given=kind, expected=self._expected())

    def value(self, key: str, value: Any) -> None:
        given = _json_type(value)
        if self.allowed is None or given in self.allowed:
            return
        if given == "integer" and "number" in self.allowed:
            return
        raise ConfigurationError("error.mapping_value_type", mapping=self.context.mapping,
                                 field=self.context.field, option=key, value=value, given=given,
                                 expected=self._expected())


def _target_types(spec: MappingSpec, names: Iterable[str]) -> dict[str, frozenset[str] | None]:
    """Return the JSON types that the entity's schema allows at each field path, where known.

    The result has every dotted path of ``names`` and every path that contains one, so
    ``address.commune_code`` gives entries for ``address`` and ``address.commune_code``. A path
    is followed through ``properties`` and ``$ref``. A path that the schema does not declare
    is absent.
    """
    try:
        registry = get_registry()
        schema = registry.schema(spec.entity, spec.schema_version)
    except ConfigurationError:
        # The import rejects an entity without a schema, and so does validation of its first
        # record. Without a schema there is nothing to compare with here.
        return {}
    reader = _SchemaTypes(registry, schema)
    found: dict[str, frozenset[str] | None] = {}
    for name in names:
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            path = ".".join(parts[:depth])
            if path in found:
                continue
            located = reader.locate(parts[:depth])
            if located is None:
                break
            found[path] = reader.types(*located)
    return found


ONE_LINE_NAME = "/common/v1.json#/$defs/name"


def _one_line_fields(spec: MappingSpec, names: Iterable[str]) -> set[str]:
    """Return the stored fields that the entity's schema declares as one-line names (``$defs/name``)."""
    try:
        registry = get_registry()
        schema = registry.schema(spec.entity, spec.schema_version)
    except ConfigurationError:
        return set()
    reader = _SchemaTypes(registry, schema)
    found = set()
    for name in names:
        located = reader.locate(name.split(".")) if is_stored(name) else None
        if located is not None and reader.refers_to(located[0], located[1], ONE_LINE_NAME):
            found.add(name)
    return found


def _name_sources(fields: Mapping[str, Any], names: set[str]) -> set[str]:
    """Return the name fields and every field that a ``join`` or ``first_of`` name reads.

    Their cells are checked for formula text, so that ``=HYPERLINK(...)`` in "Họ và tên" is
    rejected with that column even where a private field reads it for a join.
    """
    found: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        spec = fields.get(name) or {}
        pending.extend(spec.get("join") or spec.get("first_of") or [])
    return found


def _on_one_line(plan: FieldPlan) -> FieldPlan:
    """Put a name's words on one line with single spaces: a line break typed in the cell, a tab
    or a no-break space becomes one space."""
    compute = plan.compute

    def one_line(cells: Sequence[str], out: dict[str, Any]) -> Any:
        value = compute(cells, out)
        if isinstance(value, str) and not (value.isprintable() and "  " not in value):
            return collapse_spaces(value) or None
        return value

    return replace(plan, compute=one_line)


class _SchemaTypes:
    """Follow ``$ref`` through the schema files to the ``type``, ``enum`` or ``const`` of a property."""

    _MAX_REFERENCES = 8

    def __init__(self, registry: SchemaRegistry, root: dict[str, Any]):
        self.registry = registry
        self.root = root
        self.documents: dict[str, dict[str, Any] | None] = {}

    def types(self, schema: Any, document: dict[str, Any] | None = None,
              depth: int = 0) -> frozenset[str] | None:
        if not isinstance(schema, Mapping):
            return None
        if "type" in schema:
            declared = schema["type"]
            return frozenset(_names(declared))
        if "enum" in schema:
            return frozenset(_json_type(v) for v in schema["enum"])
        if "const" in schema:
            return frozenset({_json_type(schema["const"])})
        reference = schema.get("$ref")
        if not isinstance(reference, str) or depth >= self._MAX_REFERENCES:
            return None
        target = self._resolve(reference, document or self.root)
        return self.types(target[0], target[1], depth + 1) if target else None

    def refers_to(self, schema: Any, document: dict[str, Any], suffix: str, depth: int = 0) -> bool:
        """Tell whether ``schema`` reaches a ``$ref`` ending with ``suffix``, at once or through others."""
        reference = schema.get("$ref") if isinstance(schema, Mapping) else None
        if not isinstance(reference, str) or depth >= self._MAX_REFERENCES:
            return False
        if reference.endswith(suffix):
            return True
        target = self._resolve(reference, document)
        return target is not None and self.refers_to(target[0], target[1], suffix, depth + 1)

    def locate(self, parts: Sequence[str]) -> tuple[Any, dict[str, Any]] | None:
        """Return the schema of the property at ``parts`` and the document it sits in, if declared."""
        node: Any = self.root
        document = self.root
        for part in parts:
            found = self._properties(node, document)
            if found is None or not isinstance(found[0].get(part), Mapping):
                return None
            node, document = found[0][part], found[1]
        return node, document

    def _properties(self, schema: Any, document: dict[str, Any],
                    depth: int = 0) -> tuple[Mapping[str, Any], dict[str, Any]] | None:
        """Return the ``properties`` of an object schema, following ``$ref``, with their document."""
        if not isinstance(schema, Mapping):
            return None
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            return properties, document
        reference = schema.get("$ref")
        if not isinstance(reference, str) or depth >= self._MAX_REFERENCES:
            return None
        target = self._resolve(reference, document)
        return self._properties(target[0], target[1], depth + 1) if target else None

    def _resolve(self, reference: str, document: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
        base, _, pointer = reference.partition("#")
        if base:
            found = self._document(base)
            if found is None:
                return None
            document = found
        node: Any = document
        for part in filter(None, pointer.split("/")):
            node = node.get(part) if isinstance(node, Mapping) else None
            if node is None:
                return None
        return node, document

    def _document(self, uri: str) -> dict[str, Any] | None:
        if uri not in self.documents:
            self.documents[uri] = None
            entity, _, version = uri.removeprefix(SCHEMA_BASE_URI).removesuffix(".json").partition("/v")
            if uri.startswith(SCHEMA_BASE_URI) and version.isdigit():
                with contextlib.suppress(ConfigurationError):
                    self.documents[uri] = self.registry.schema(entity, int(version))
        return self.documents[uri]
