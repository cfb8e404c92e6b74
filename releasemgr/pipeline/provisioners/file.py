"""The `file` provisioner: upload (or download) files and folders, or write `content`."""

from __future__ import annotations

from releasemgr.pipeline.communicator import CommunicatorError
from releasemgr.pipeline.provisioners.base import local_path
from releasemgr.pipeline.runner import Cancelled, StepFailed


def file(config: dict, ctx, *, timeout: float | None = None) -> None:
    comm = ctx.communicator
    dest = config.get("destination")
    if not dest:
        raise StepFailed("the file provisioner needs a destination")
    direction = config.get("direction") or "upload"
    sources = []
    if config.get("source") is not None:
        sources.append(str(config["source"]))
    sources += [str(s) for s in (config.get("sources") or [])]
    try:
        if config.get("content") is not None:
            ctx.say(f"Uploading content to {dest}")
            comm.upload_bytes(str(config["content"]).encode(), str(dest))
            return
        if not sources:
            raise StepFailed("the file provisioner needs source, sources or content")
        for src in sources:
            if direction == "download":
                ctx.say(f"Downloading {src} => {dest}")
                comm.download(src, str(local_path(ctx, dest)) if not str(dest).startswith("/") else dest)
                continue
            path = local_path(ctx, src)
            if not path.exists():
                if config.get("generated"):
                    raise StepFailed(f"generated file {src} was not produced by an earlier step")
                raise StepFailed(f"file provisioner source {src} does not exist")
            what = f"Uploading {src} => {dest}"
            ctx.say(what)
            # keep Packer's trailing-slash rule: "dir/" uploads the contents, "dir" the folder itself
            local = str(path) + ("/" if src.endswith("/") and not str(path).endswith("/") else "")
            comm.upload(local, str(dest), progress=ctx.upload_progress(what))
    except CommunicatorError as exc:
        if ctx.cancel_event.is_set():
            raise Cancelled() from None
        raise StepFailed(f"file provisioner: {exc}") from None
