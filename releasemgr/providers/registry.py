"""Every provider, imported lazily: `release status` imports none, a local build only the
local one, and no provider imports its SDK (boto3, paramiko) until it is used.

Adding a provider: its folder `providers/<name>/` exporting `Provider`, and one line in
`PROVIDERS` (docs/providers.md, "Adding a provider").
"""

from __future__ import annotations

import functools
import importlib

from releasemgr.providers.base import Fleet, FleetError, Provider

PROVIDERS = {
    "local": "releasemgr.providers.local",
    "aws": "releasemgr.providers.aws",
    "null": "releasemgr.providers.null",
}

#: Packer builders with no releasemgr provider: the provider name their imported manifest
#: artifacts are recorded under (anything else: the builder type itself).
FOREIGN_PACKER_BUILDERS = {"docker": "docker", "googlecompute": "gcp", "azure": "azure", "qemu": "qemu",
                           "virtualbox": "virtualbox"}


@functools.cache
def provider(name: str) -> Provider | None:
    """The provider called `name` (as release.toml and the ledger write it), or None."""
    module = PROVIDERS.get(name)
    return importlib.import_module(module).Provider() if module else None


def providers() -> list[Provider]:
    return [provider(name) for name in PROVIDERS]


def provider_of_source(source_type: str) -> Provider | None:
    """The provider whose builder builds `source "TYPE"` blocks, or None."""
    return next((p for p in providers() if source_type in p.builder_types), None)


def builder_steps(source_type: str):
    """`steps(ctx)` of the builder of a source type, or None when no provider builds it."""
    p = provider_of_source(source_type)
    return p.steps if p is not None else None


def fleet_for(name: str, state_dir, settings: dict | None = None) -> Fleet:
    """The fleet of the provider `name`; FleetError when it has none."""
    p = provider(name)
    if p is None or type(p).fleet is Provider.fleet:
        known = ", ".join(q.name for q in providers() if type(q).fleet is not Provider.fleet)
        raise FleetError(f"provider {name!r} has no fleet (known: {known})")
    return p.fleet(state_dir, settings)


def provider_of_packer_builder(builder_type: str) -> tuple[str, Provider | None]:
    """(provider name, provider) of a Packer manifest's `builder_type` ("amazon-ebs" -> aws)."""
    family = builder_type.split("-")[0]
    p = next((p for p in providers() if family in p.packer_builders), None)
    if p is not None:
        return p.name, p
    return FOREIGN_PACKER_BUILDERS.get(family, builder_type or "unknown"), None
