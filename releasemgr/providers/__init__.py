"""One sub-package per platform (`local`, `aws`): builders, fleets and image stores.
Providers never touch the ledger."""
