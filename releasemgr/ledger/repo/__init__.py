"""Every SQL statement of the project, one module per table, each function returning typed
rows (`releasemgr.ledger.rows`). Statements are module-level `Q` objects (the schema test
collects the INSERTs and checks them against the schema); callers pass the connection of
`Ledger.connect()` (reads) or `Ledger.transaction()` (changes)."""
