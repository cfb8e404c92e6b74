"""Provisioners act on a running build through its communicator: shell, file, shell-local."""

from __future__ import annotations

from releasemgr.pipeline.provisioners.base import PROVISIONERS, run_provisioner  # noqa: F401

# register the provisioners
from releasemgr.pipeline.provisioners import file as _file  # noqa: E402,F401
from releasemgr.pipeline.provisioners import shell as _shell  # noqa: E402,F401
from releasemgr.pipeline.provisioners import shell_local as _shell_local  # noqa: E402,F401
