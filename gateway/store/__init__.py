"""The store: records, identity crosswalk, change log, runs, staging, quarantine.

``gateway.store.database`` opens SQLite or PostgreSQL from one URL;
``gateway.store.models`` declares the tables; ``gateway.store.migrations``
creates and upgrades them; ``gateway.store.changelog`` assigns sequence numbers
and reads the change feed below the horizon.
"""
