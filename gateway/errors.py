"""The gateway's error tree, grouped by what the caller does next.

    GatewayError
    ├── ConfigurationError   refuse to start; a person fixes the settings
    ├── TransientError       retry later (a lock, a busy store, a network blip)
    ├── PermanentError       stop the job and alert
    │   ├── InputError       a whole file or package cannot be read
    │   └── RunStateError    a run is not in the state the request needs
    ├── RowError             reject one row into quarantine, go on with the rest
    │   ├── MappingError     a value could not be transformed
    │   └── RecordInvalid    the mapped record breaks its JSON Schema
    └── DeliveryError        an outbound batch was not accepted

Every error carries a message key from the translation catalogue and the
parameters it needs, so the text a person reads is Vietnamese or English
without the code knowing which. Foreign errors are translated where they
enter and chained as ``__cause__``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Place:
    """The origin of a value: file, sheet, row (1-based line), column and field."""

    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def with_(self, **changes: Any) -> Place:
        values = dict(self.__dict__)
        values.update(changes)
        return Place(**values)


def table_label(file: str, sheet: str | None) -> str:
    """Return how messages name a table: the file, and the sheet or table number in brackets."""
    return f"{file} [{sheet}]" if sheet else file


def row_label(file: str | None, sheet: str | None, row: int | None) -> str:
    """Return a row's place with no word of any language, for lists in messages: ``a.xlsx [6A]: 7``."""
    label = table_label(file or "", sheet)
    return f"{label}: {row}" if row else label


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose.

    ``key`` names a message in the translation catalogue and ``params`` fills it.
    """

    key = "error.internal"

    def __init__(self, key: str | None = None, /, place: Place | None = None, **params: Any):
        self.key = key or self.key
        self.params = params
        self.place = place or Place()
        super().__init__(self.key)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with its attributes, so that an error crosses a process boundary
        # whole (the read-ahead process sends row errors and notices).
        return (_restore, (type(self), self.key), dict(self.__dict__))

    def message(self, lang: str | None = None) -> str:
        from gateway.i18n import translate

        return translate(self.key, lang=lang, **self.params)

    def __str__(self) -> str:
        return self.message()

    def as_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "error": self.key,
            "message": self.message(lang),
            "place": self.place.as_dict(),
            "params": {k: _jsonable(v) for k, v in self.params.items()},
        }


def _restore(cls: type[GatewayError], key: str) -> GatewayError:
    error = cls.__new__(cls)
    Exception.__init__(error, key)
    return error


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


class ConfigurationError(GatewayError):
    """Settings, mapping files or schemas are wrong: refuse to start."""

    key = "error.configuration"

    def __init__(self, key: str | None = None, /, problems: list[str] | None = None, **params: Any):
        self.problems = problems or []
        if problems is not None:
            params.setdefault("problems", "\n".join(f"  - {p}" for p in problems))
        super().__init__(key, **params)


class TransientError(GatewayError):
    """A retry later may succeed."""

    key = "error.transient"


class PermanentError(GatewayError):
    """Retrying the same request cannot succeed: stop and alert."""

    key = "error.permanent"


class InputError(PermanentError):
    """A whole input file or package is unusable."""

    key = "error.input"


class RunStateError(PermanentError):
    """A run is not in a state that allows the request."""

    key = "error.run_state"


class RowError(GatewayError):
    """One row is rejected into quarantine; the rest of the input goes on.

    The error is the row's first problem. ``others`` holds the row's further problems in
    field order, so that the school can fix every cell before it sends the file again.
    """

    key = "error.row"
    others: tuple[RowError, ...] = ()


class MappingError(RowError):
    """A source value could not be transformed by its mapping."""

    key = "error.mapping"


class RecordInvalid(RowError):
    """A mapped record does not satisfy its canonical JSON Schema."""

    key = "error.record_invalid"


class DeliveryError(GatewayError):
    """An outbound batch was not accepted by its destination."""

    key = "error.delivery"


@dataclass
class Problems:
    """Collects configuration problems so that every one is reported at once."""

    items: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.items.append(text)

    def raise_if_any(self, key: str = "error.configuration", **params: Any) -> None:
        if self.items:
            raise ConfigurationError(key, problems=self.items, **params)
