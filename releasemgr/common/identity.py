"""Who acts when nobody says: the OS account as `user@host` (docs/policies.md: on a SQLite
ledger this is the identity approvals and the audit log record, unless `--actor` /
`RELEASE_ACTOR` name another)."""

from __future__ import annotations

import getpass
import os
import socket


def default_actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"
