"""The embedded `local` provider: images are reproducible tarballs of a root folder,
servers are processes started from an unpacked, read-only copy of one image."""

from __future__ import annotations

from releasemgr.providers import base
from releasemgr.providers.local import builder
from releasemgr.providers.local.fleet import LocalFleet, delete_image


class LocalImageStore(base.ImageStore):
    def __init__(self, state_dir):
        self.state_dir = state_dir

    def delete(self, region: str, artifact_id: str) -> None:
        delete_image(self.state_dir, artifact_id)  # False (already gone) is fine


class Provider(base.Provider):
    name = "local"
    builder_types = ("local",)
    packer_builders = ("local",)

    def steps(self, ctx) -> list:
        return builder.steps(ctx)

    def fleet(self, state_dir, settings: dict | None = None) -> base.Fleet:
        return LocalFleet(state_dir, settings)

    def image_store(self, state_dir) -> base.ImageStore:
        return LocalImageStore(state_dir)
