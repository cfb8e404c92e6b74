"""The embedded `local` provider: images are reproducible tarballs of a root folder,
servers are processes started from an unpacked, read-only copy of one image."""

from __future__ import annotations

from releasemgr.providers import base
from releasemgr.providers.local import builder
from releasemgr.providers.local.fleet import LocalFleet, delete_image
from releasemgr.providers.local.image import ImageError, image_path, read_metadata


class LocalImageStore(base.ImageStore):
    def __init__(self, state_dir):
        self.state_dir = state_dir

    def delete(self, region: str, artifact_id: str) -> None:
        delete_image(self.state_dir, artifact_id)  # False (already gone) is fine


class Provider(base.Provider):
    name = "local"
    builder_types = ("local",)
    packer_builders = ("local",)
    packer_can_build = False  # releasemgr's own builder: packer has none

    def steps(self, ctx) -> list:
        return builder.steps(ctx)

    def fleet(self, state_dir, settings: dict | None = None) -> base.Fleet:
        return LocalFleet(state_dir, settings)

    def image_store(self, state_dir) -> base.ImageStore:
        return LocalImageStore(state_dir)

    def image_metadata(self, state_dir, artifact_id: str) -> dict:
        """`.release/image.json` of the image's tarball."""
        try:
            path = image_path(state_dir, artifact_id)
        except ImageError as exc:
            raise ValueError(str(exc)) from None
        if not path.is_file():
            raise base.ImageMissing(f"the image {artifact_id} is not in {path.parent}")
        try:
            return read_metadata(path)
        except ImageError as exc:
            raise base.ImageUnreadable(str(exc)) from None
