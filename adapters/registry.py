"""The one table of adapters, by product key."""

from __future__ import annotations

from importlib import import_module

from adapters.base import Adapter
from gateway.errors import ConfigurationError

# Product key -> "module:Class". Imported lazily so one broken adapter cannot
# stop the others from loading.
ADAPTERS: dict[str, str] = {
    "oneroster": "adapters.oneroster.adapter:OneRosterAdapter",
    # Exports of school-management products (vnEdu, SMAS, MISA EMIS, ...): CSV,
    # XLSX and HTML saved as .xls, with the format found per file.
    "school-export": "adapters.table.adapter:TableAdapter",
}


def adapter_keys() -> list[str]:
    return sorted(ADAPTERS)


def get_adapter(key: str) -> Adapter:
    """Return a new adapter for product ``key``; raise ``ConfigurationError`` if unknown."""
    target = ADAPTERS.get(key)
    if target is None:
        raise ConfigurationError("error.adapter_unknown", adapter=key, known=", ".join(adapter_keys()))
    module_name, class_name = target.split(":")
    adapter_class = getattr(import_module(module_name), class_name)
    adapter = adapter_class()
    # A generic adapter serves several product keys; each instance takes its key
    # from this table, so its mappings live under mappings/<key>/.
    adapter.key = key
    return adapter
