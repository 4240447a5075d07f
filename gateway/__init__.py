"""Education data-exchange gateway."""

from pathlib import Path

__version__ = "0.1.0"

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout or install prefix that holds `mappings/`, `config/` and `certs/`."""
