"""Provisioners act on a running build through its communicator: shell, file, shell-local.

`PROVISIONERS` is the list of the types that run natively; any other type needs
`--engine packer`.
"""

from __future__ import annotations

from releasemgr.pipeline.provisioners import file, shell, shell_local
from releasemgr.pipeline.provisioners.base import Provisioner, run_wrapped
from releasemgr.pipeline.runner import StepFailed

PROVISIONERS: dict[str, Provisioner] = {
    "shell": shell.shell,
    "file": file.file,
    "shell-local": shell_local.shell_local,
    "breakpoint": shell_local.breakpoint_,
}


def run_provisioner(p, ctx) -> None:
    """Run one provisioner block with Packer's wrappers; raise StepFailed when it fails for good."""
    impl = PROVISIONERS.get(p.type)
    if impl is None:
        raise StepFailed(f"provisioner {p.type!r} is not supported natively "
                         f"(supported: {', '.join(sorted(PROVISIONERS))}); try --engine packer")
    run_wrapped(impl, p, ctx)
