"""Communicators: run commands and move files on the machine being built.

`LocalCommunicator` works on a folder of this machine; `SSHCommunicator` (paramiko)
talks to a host over SSH. paramiko is imported only when an SSH connection is first made,
so importing this package stays light.
"""

from __future__ import annotations

from .base import Communicator, CommunicatorCancelled, CommunicatorError, ConnectionLost, upload_target
from .local import LocalCommunicator
from .ssh import SSHCommunicator, SSHConfig

__all__ = ["Communicator", "CommunicatorCancelled", "CommunicatorError", "ConnectionLost", "LocalCommunicator",
           "SSHCommunicator", "SSHConfig", "upload_target"]
