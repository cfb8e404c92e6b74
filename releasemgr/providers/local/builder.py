"""The `local` builder: an image is a reproducible tarball of a root folder.

Steps: create the root (from `base`), connect a local communicator, provision, write the
server metadata into the image, pack. Cleanup removes the temporary root; a half-made
image of a failed or cancelled build is deleted.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from releasemgr.pipeline.context import Artifact
from releasemgr.pipeline.runner import Outcome, Step, StepFailed
from releasemgr.pipeline.steps import ConnectStep, StepProvision
from releasemgr.providers.local import image as images

METADATA_KEYS = ("command", "port_env", "port_arg", "env", "workdir", "stop_signal", "stop_timeout")


class StepCreateRoot(Step):
    name = "create-root"

    def run(self, ctx) -> None:
        root = ctx.work_dir / "root"
        self.root = root
        base = ctx.source_config.get("base")
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
        ctx.generated["image_root"] = str(root)

    def cleanup(self, ctx) -> None:
        root = getattr(self, "root", None)
        if root is not None and root.exists():
            images.remove_tree(root)

    def leftovers(self, ctx):
        root = getattr(self, "root", None)
        return [f"folder {root}"] if root is not None and root.exists() else []


class StepConnectLocal(ConnectStep):

    def run(self, ctx) -> None:
        from releasemgr.pipeline.communicator import LocalCommunicator

        ctx.communicator = LocalCommunicator(ctx.generated["image_root"],
                                             base_env={"IMAGE_ROOT": ctx.generated["image_root"]})


class StepWriteMetadata(Step):
    name = "image-metadata"

    def run(self, ctx) -> None:
        cfg = ctx.source_config
        meta = {k: cfg[k] for k in METADATA_KEYS if cfg.get(k) is not None}
        if not meta.get("command"):
            raise StepFailed("the local source needs `command` (how a server of this image runs)")
        hc = cfg.get("health_check")
        if isinstance(hc, list):
            hc = hc[0] if hc else None
        if hc:
            meta["health_check"] = hc
        images.write_metadata(ctx.generated["image_root"], meta)


class StepPack(Step):
    name = "pack"

    def run(self, ctx) -> None:
        dest = images.images_dir(ctx.state_dir)
        ctx.say("Packing the image (reproducible tarball)...")
        artifact_id, path, created = images.pack_image(ctx.generated["image_root"], dest)
        self.path = path
        # an identical image may exist already (same content, same digest): then it is not ours to delete
        self.created = created
        if created:
            ctx.generated.setdefault("new_images", []).append(str(path))
        ctx.artifacts.append(Artifact(builder_type="local", provider="local", id=artifact_id, files=[str(path)],
                                      extra={"size": path.stat().st_size}))
        ctx.say(f"Image {artifact_id} ({path.stat().st_size:,} bytes)")

    def cleanup(self, ctx) -> None:
        path = getattr(self, "path", None)
        if path is not None and getattr(ctx, "outcome", Outcome.SUCCEEDED) is not Outcome.SUCCEEDED \
                and getattr(self, "created", False):
            path.unlink(missing_ok=True)


def steps(ctx) -> list[Step]:
    return [StepCreateRoot(), StepConnectLocal(), StepProvision(), StepWriteMetadata(), StepPack()]
