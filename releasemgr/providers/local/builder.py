"""The `local` builder: an image is a reproducible tarball of a root folder.

Steps: create the root (from `base`), connect a local communicator, provision, write the
server metadata into the image, pack. Cleanup removes the temporary root; a half-made
image of a failed or cancelled build is deleted.
"""

from __future__ import annotations

import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from releasemgr.pipeline.communicator import LocalCommunicator
from releasemgr.pipeline.context import Artifact
from releasemgr.pipeline.runner import Outcome, Step, StepFailed
from releasemgr.pipeline.steps import ConnectStep, StepProvision
from releasemgr.providers.local import image as images

METADATA_KEYS = ("command", "port_env", "port_arg", "env", "workdir", "stop_signal", "stop_timeout")


@dataclass(frozen=True)
class LocalConfig:
    """The `local` source's options, decoded once (Packer's Prepare)."""

    base: str | None = None  # a folder or a tarball the root starts from
    metadata: dict[str, Any] = field(default_factory=dict)  # how a server of the image runs
    health_check: dict | None = None

    @classmethod
    def prepare(cls, cfg: Mapping[str, Any]) -> LocalConfig:
        hc = cfg.get("health_check")
        if isinstance(hc, list):
            hc = hc[0] if hc else None
        return cls(str(cfg["base"]) if cfg.get("base") else None,
                   {k: cfg[k] for k in METADATA_KEYS if cfg.get(k) is not None}, hc or None)


@dataclass
class LocalState:
    config: LocalConfig
    root: Path | None = None  # the image's root folder, once created


class StepCreateRoot(Step):
    name = "create-root"

    def __init__(self):
        self.root: Path | None = None

    def run(self, ctx) -> None:
        st: LocalState = ctx.state
        root = ctx.work_dir / "root"
        self.root = root
        base = st.config.base
        if base:
            path = Path(str(base))
            if not path.is_absolute():
                path = (ctx.template_dir / path) if (ctx.template_dir / path).exists() else path.resolve()
            if path.is_dir():
                ctx.say(f"Creating the image root from {path}")
                shutil.copytree(path, root, symlinks=True)
                ctx.parent = f"dir:{path}"
            elif path.is_file():
                ctx.say(f"Creating the image root from {path}")
                root.mkdir(parents=True)
                try:
                    with tarfile.open(path, "r:*") as tar:
                        tar.extractall(root, filter="data")
                except (OSError, tarfile.TarError) as exc:
                    raise StepFailed(f"base {path} is not a readable tar archive: {exc}") from None
                ctx.parent = images.digest_file(path)
            else:
                raise StepFailed(f"base {base} does not exist (a folder or a .tar/.tar.gz)")
        else:
            ctx.say("Creating an empty image root")
            root.mkdir(parents=True)
        st.root = root

    def cleanup(self, ctx) -> list[str]:
        if self.root is not None and self.root.exists():
            images.remove_tree(self.root)  # best effort (ignores errors); a leftover is in the work dir
        return []

    def leftovers(self, ctx) -> list[str]:
        return [f"folder {self.root}"] if self.root is not None and self.root.exists() else []


class StepConnectLocal(ConnectStep):

    def run(self, ctx) -> None:
        root = str(ctx.state.root)
        ctx.communicator = LocalCommunicator(root, base_env={"IMAGE_ROOT": root})


class StepWriteMetadata(Step):
    name = "image-metadata"

    def run(self, ctx) -> None:
        st: LocalState = ctx.state
        meta = dict(st.config.metadata)
        if not meta.get("command"):
            raise StepFailed("the local source needs `command` (how a server of this image runs)")
        if st.config.health_check:
            meta["health_check"] = st.config.health_check
        images.write_metadata(str(st.root), meta)


class StepPack(Step):
    name = "pack"

    def __init__(self):
        self.path: Path | None = None
        self.created = False

    def run(self, ctx) -> None:
        dest = images.images_dir(ctx.state_dir)
        ctx.say("Packing the image (reproducible tarball)...")
        artifact_id, path, created = images.pack_image(str(ctx.state.root), dest)
        self.path = path
        # an identical image may exist already (same content, same digest): then it is not ours to delete
        self.created = created
        if created:
            ctx.created_files.append(str(path))
        ctx.artifacts.append(Artifact(builder_type="local", provider="local", id=artifact_id, files=[str(path)],
                                      extra={"size": path.stat().st_size}))
        ctx.say(f"Image {artifact_id} ({path.stat().st_size:,} bytes)")

    def cleanup(self, ctx) -> list[str]:
        if self.path is None or ctx.outcome is Outcome.SUCCEEDED or not self.created:
            return []
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            return [f"half-made image {self.path} ({exc.strerror})"]
        return []


def steps(ctx) -> list[Step]:
    ctx.state = LocalState(LocalConfig.prepare(ctx.source_config))
    return [StepCreateRoot(), StepConnectLocal(), StepProvision(), StepWriteMetadata(), StepPack()]
