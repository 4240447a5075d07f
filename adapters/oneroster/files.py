"""The files of a OneRoster CSV package, by version, and what this adapter does with each.

File names are the stems the specification uses in ``manifest.csv``
(``file.academicSessions``) and on disk (``academicSessions.csv``).
"""

from __future__ import annotations

SUPPORTED_VERSIONS = ("1.1", "1.2")
MANIFEST_VERSION = "1.0"
# OneRoster 1.0 packages are read with the 1.1 rules, with a warning. That is
# safe because the adapter reads columns by header name and passes them on as
# written. NOTE: where a 1.0 file names a column that a virtual column derives
# from differently, the virtual column stays empty.
READ_AS = {"1.0": "1.1", "1.1": "1.1", "1.2": "1.2"}

# Files read as streams, in dependency order: an org before the classes it
# runs, a class before its enrollments.
STREAM_FILES = ("orgs", "academicSessions", "classes", "users", "enrollments")

# Files whose columns are joined into the users stream.
JOIN_FILES = {"1.1": ("demographics",), "1.2": ("roles", "demographics")}

# Files of the specification whose data this gateway version does not keep.
NOT_MAPPED_FILES = {
    "1.1": (
        "categories", "classResources", "courses", "courseResources", "lineItems",
        "resources", "results",
    ),
    "1.2": (
        "categories", "classResources", "courses", "courseResources",
        "lineItemLearningObjectiveIds", "lineItems", "lineItemScoreScales", "resources",
        "resultLearningObjectiveIds", "results", "resultScoreScales", "scoreScales",
        "userProfiles", "userResources",
    ),
}

# Files whose absence, when the manifest declares them, loses data this gateway keeps.
READ_FILES = frozenset(STREAM_FILES) | {"roles", "demographics"}

KNOWN_FILES = {
    version: frozenset(STREAM_FILES) | set(JOIN_FILES[version]) | set(NOT_MAPPED_FILES[version])
    for version in SUPPORTED_VERSIONS
}

_SPELLING = {
    name.casefold(): name for names in KNOWN_FILES.values() for name in names
}


def canonical_name(stem: str) -> str:
    """Return the specification spelling of a file stem (``userprofiles`` -> ``userProfiles``).

    A stem the specification does not know is returned as written.
    """
    return _SPELLING.get(stem.casefold(), stem)


def is_known_stem(stem: str) -> bool:
    """Tell whether ``stem`` names a file of any supported version, in any case."""
    return stem.casefold() in _SPELLING


def file_name(name: str) -> str:
    """Return the CSV file name of a package file (``users`` -> ``users.csv``)."""
    return f"{name}.csv"
