"""Communicators: run commands and move files on the machine being built.

`LocalCommunicator` works on a folder of this machine; `SSHCommunicator` (paramiko)
talks to a host over SSH. paramiko is imported only when the SSH classes are first used,
so importing this package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Communicator, CommunicatorCancelled, CommunicatorError, ConnectionLost, upload_target
from .local import LocalCommunicator

if TYPE_CHECKING:  # pragma: no cover
    from .ssh import SSHCommunicator, SSHConfig

__all__ = ["Communicator", "CommunicatorCancelled", "CommunicatorError", "ConnectionLost", "LocalCommunicator",
           "SSHCommunicator", "SSHConfig", "upload_target"]


def __getattr__(name: str):
    if name in ("SSHCommunicator", "SSHConfig"):
        from . import ssh

        return getattr(ssh, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
