"""Steps every builder shares: provisioning (with the error-cleanup provisioner)."""

from __future__ import annotations

from releasemgr.pipeline.provisioners import run_provisioner
from releasemgr.pipeline.provisioners.base import applies
from releasemgr.pipeline.runner import Cancelled, Step, StepFailed


class ConnectStep(Step):
    """Base of the steps that open `ctx.communicator`: the cleanup closes it."""

    name = "connect"

    def cleanup(self, ctx) -> list[str]:
        comm, ctx.communicator = ctx.communicator, None
        if comm is not None:
            try:
                comm.close()
            except Exception as exc:  # noqa: BLE001 - a connection leaves nothing to delete by hand
                ctx.say(f"Closing the connection failed: {exc}")
        return []


class StepProvision(Step):
    name = "provision"

    def run(self, ctx) -> None:
        for p in ctx.provisioners:
            if not applies(p, ctx):
                continue
            try:
                run_provisioner(p, ctx)
            except StepFailed as exc:
                self._error_cleanup(ctx)
                raise StepFailed(f"provisioner {p.type} failed: {exc}") from None
            except Cancelled:
                raise

    def cleanup(self, ctx) -> list[str]:
        """Remove the provisioners' temporary folders still there (a cancel interrupted them)."""
        left = []
        for comm, path in list(ctx.temp_folders):
            try:
                comm.reset_cancel()  # the cancelled command is gone; the machine is still needed
                comm.remove_tree(path)
            except Exception as exc:  # noqa: BLE001 - reported for removal by hand
                where = getattr(comm, "where", None) or "this host"
                left.append(f"temporary folder {path} on {where} ({exc})")
            ctx.temp_folders.remove((comm, path))
        return left

    def leftovers(self, ctx) -> list[str]:
        return [f"temporary folder {path} on {getattr(comm, 'where', None) or 'this host'}"
                for comm, path in ctx.temp_folders]

    def _error_cleanup(self, ctx) -> None:
        p = ctx.error_cleanup_provisioner
        if p is None or ctx.on_error == "abort":
            return
        ctx.say(f"Provisioning step had errors: running the error-cleanup-provisioner ({p.type})")
        try:
            run_provisioner(p, ctx)
        except Exception as exc:  # best effort
            ctx.say(f"error-cleanup-provisioner failed: {exc}")
