"""Mappings: declarative, versioned transforms from adapter rows to canonical records.

``spec`` loads and checks mapping files, ``steps`` contains the transforms,
``compiler`` binds a mapping to one stream's headers once per run, and
``registry`` keeps the versions in the store.
"""
