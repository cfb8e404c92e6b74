"""The `null` provider: Packer's null builder (provisioners over SSH against an existing
host). It makes no artifact, runs no servers and stores no images."""

from __future__ import annotations

from releasemgr.providers import base
from releasemgr.providers.null import builder as null_builder


class Provider(base.Provider):
    name = "null"
    builder_types = ("null",)
    packer_builders = ("null",)
    makes_artifacts = False

    def steps(self, ctx) -> list:
        return null_builder.steps(ctx)

    def manifest_artifacts(self, artifact_id: str) -> list[tuple[str, str]]:
        return []  # a null build has no artifact
