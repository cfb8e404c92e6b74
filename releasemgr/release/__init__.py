"""The use cases: register, promote, rollback, revoke, status, audit (and later build,
deploy, retire, prune). Each runs in one ledger transaction and appends its audit event."""
