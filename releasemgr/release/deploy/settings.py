"""How a deployment runs: count, strategy, batches, health check and timeouts. Flags win over
`[deploy.<env>]`, which wins over the image's own `health_check` and the defaults. Where the
servers run (the provider and its options) is `release/servers.py`'s `provider_settings`."""

from __future__ import annotations

from dataclasses import dataclass

from releasemgr.common.durations import seconds as parse_duration
from releasemgr.config import Config
from releasemgr.errors import UsageError
from releasemgr.providers.base import HealthCheck
from releasemgr.release.server_rows import provider_name

STRATEGIES = ("rolling", "blue-green")


@dataclass
class DeploySettings:
    count: int
    strategy: str
    batch_size: int
    max_unavailable: int
    health: HealthCheck
    health_timeout: float
    provider: str = "local"
    retire_old: bool = False

    def to_json(self) -> dict:
        return {"count": self.count, "strategy": self.strategy, "batch_size": self.batch_size,
                "max_unavailable": self.max_unavailable, "health_timeout": self.health_timeout,
                "health_check": self.health.to_json(), "provider": self.provider, "retire_old": self.retire_old}


def _duration(value, default: float, what: str) -> float:
    try:
        out = parse_duration(value, default)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None
    if out is None or out < 0:
        raise UsageError(f"{what} must be a duration >= 0")
    return out


def health_check_from(image_meta: dict | None, override: dict | None, *, has_port: bool) -> HealthCheck:
    """The image's health_check, overlaid by `[deploy.<env>] health_check` keys."""
    raw = dict((image_meta or {}).get("health_check") or {})
    raw.update(override or {})
    kind = raw.get("type") or ("tcp" if has_port else "process")
    if kind not in ("http", "tcp", "command", "process", "ec2"):
        raise UsageError(f"unknown health check type {kind!r}", hint="use http, tcp or command (ec2 on aws)")
    status = raw.get("expected_status", 200)
    if not isinstance(status, int) or isinstance(status, bool):
        raise UsageError("health_check.expected_status must be a whole number")
    command = raw.get("command")
    if isinstance(command, str):
        command = ["/bin/sh", "-c", command]
    if kind == "command" and not command:
        raise UsageError("a command health check needs health_check.command")
    return HealthCheck(type=kind, path=str(raw.get("path") or "/"), expected_status=status,
                       body_contains=raw.get("body_contains") or None, command=command,
                       timeout=_duration(raw.get("timeout"), 30.0, "health_check.timeout"),
                       interval=_duration(raw.get("interval"), 1.0, "health_check.interval"))


def env_health_check(config: Config, env: str, image_meta: dict | None) -> HealthCheck:
    """An image's health check as `env` runs it (`[deploy.<env>] health_check` overlaid)."""
    override = (config.deploy.get(env) or {}).get("health_check")
    if override is not None and not isinstance(override, dict):
        raise UsageError(f"[deploy.{env}] health_check must be a table")
    meta = image_meta or {}
    return health_check_from(meta, override, has_port=bool(meta.get("port_env") or meta.get("port_arg")))


def settings_for(config: Config, env: str, *, image_meta: dict | None = None, count: int | None = None,
                 strategy: str | None = None, batch_size: int | None = None, max_unavailable: int | None = None,
                 health_timeout: float | None = None, retire_old: bool | None = None,
                 default_count: int = 1) -> DeploySettings:
    """Flags win over `[deploy.<env>]`, which wins over the defaults."""
    d = config.deploy.get(env) or {}
    count = count if count is not None else d.get("count", default_count)
    strategy = strategy or d.get("strategy", "rolling")
    batch = batch_size if batch_size is not None else d.get("batch_size", 1)
    max_un = max_unavailable if max_unavailable is not None else d.get("max_unavailable", 0)
    if not isinstance(count, int) or count < 1:
        raise UsageError("count must be 1 or more")
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}", hint="use rolling or blue-green")
    if not isinstance(batch, int) or batch < 1:
        raise UsageError("batch size must be 1 or more")
    if not isinstance(max_un, int) or max_un < 0:
        raise UsageError("max unavailable must be 0 or more")
    check = env_health_check(config, env, image_meta)
    timeout = health_timeout if health_timeout is not None else d.get("health_timeout")
    timeout = _duration(timeout, check.timeout, "health timeout")
    ro = retire_old if retire_old is not None else bool(d.get("retire_old", False))
    return DeploySettings(count=count, strategy=strategy, batch_size=min(batch, count), max_unavailable=max_un,
                          health=check, health_timeout=timeout, provider=provider_name(config, env), retire_old=ro)
