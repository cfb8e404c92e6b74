"""The ledger: SQL tables (sqlmodel), sessions with the right locking, migrations (Alembic)
and the hash-chained audit log. It knows nothing about clouds or templates."""
