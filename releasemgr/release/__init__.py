"""The use cases: build, register, approve, promote, rollback, revoke, deploy, retire, prune,
gc, status and drift, audit reports. Each takes the ledger and the configuration, changes state
through `Ledger.transaction()` (one transaction per state change, its audit event inside it)
and returns a document the CLI renders; none prints."""
