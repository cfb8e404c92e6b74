"""What a deployment brings an environment to: the version (the environment's current one
unless given), its artifact on the environment's provider, and what its image says about
serving (the provider's `image_metadata`)."""

from __future__ import annotations

from dataclasses import dataclass

from releasemgr.config import Config
from releasemgr.errors import NotFound, OperationFailed, PolicyRefused, UsageError
from releasemgr.ledger.refs import parse_ref
from releasemgr.ledger.repo import artifacts, channels, environments, images, versions
from releasemgr.ledger.rows import Environment, Image, Version
from releasemgr.providers.base import ImageMissing, ImageUnreadable
from releasemgr.providers.registry import provider as provider_named


@dataclass
class Target:
    img: Image
    version: Version
    env_row: Environment
    artifact: dict  # {"provider", "region", "id"}
    current_id: int | None

    @property
    def label(self) -> str:
        return f"v{self.version.number}"


def _version(conn, image: str, env: str, ref: str | None, current_id: int | None) -> Version:
    if ref:
        parsed = parse_ref(ref if "@" in ref else f"{image}@{ref}")
        if parsed.image != image:
            raise UsageError(f"--version {ref} names another image than {image}")
        return versions.resolve(conn, parsed)[1]
    if current_id is None:
        raise NotFound(f"{image} has no current version in {env}",
                       hint=f"promote one first (`release promote {image}@v1 --to {env}`) or give --version")
    return versions.get(conn, current_id)


def resolve_target(conn, config: Config, image: str, env: str, ref: str | None, provider: str) -> Target:
    img = images.get(conn, image)
    env_row = environments.get(conn, env)
    ch = channels.get(conn, img.id, env_row.id)
    v = _version(conn, image, env, ref, ch.version_id if ch else None)
    if v.revoked:
        raise PolicyRefused(f"{image}@v{v.number} is revoked ({v.revoked_reason}); it cannot be deployed",
                            rule="revoked")
    live, had_any = artifacts.live_of(conn, v.id, provider)
    if not live:
        why = "was pruned" if had_any else f"has no {provider} artifact"
        raise NotFound(f"{image}@v{v.number} {why}: nothing to start servers from")
    region = ((config.raw.get(provider) or {}) if isinstance(config.raw.get(provider), dict) else {}).get("region")
    region = (config.deploy.get(env) or {}).get("region", region)
    a = next((x for x in live if region and x.region == region), live[0])  # the fleet's region first
    return Target(img, v, env_row, {"provider": a.provider, "region": a.region, "id": a.external_id},
                  ch.version_id if ch else None)


def image_metadata(config: Config, artifact: dict) -> dict:
    """What the artifact's image says about serving (port, command, health check); {} when
    its provider's images say nothing."""
    p = provider_named(artifact["provider"])
    if p is None:
        return {}
    try:
        return p.image_metadata(config.state_dir, artifact["id"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except ImageMissing as exc:
        raise NotFound(str(exc), hint="it was pruned or built on another machine; build or copy it here") from None
    except ImageUnreadable as exc:
        raise OperationFailed(str(exc)) from None
