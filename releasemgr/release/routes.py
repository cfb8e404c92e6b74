"""Routes: per (image, environment) the list of servers that take traffic.

The route file `<state>/routes/<image>@<env>.json` is replaced atomically (write + rename),
so a reader (a proxy's reload script) never sees half a file. When its server list changes,
the hook command from release.toml runs (`[deploy.<env>] route_hook`, else `[routes] hook`)
with the route in its environment:

    RELEASE_ROUTE_FILE   the route file's path
    RELEASE_IMAGE, RELEASE_ENV, RELEASE_VERSION
    RELEASE_ADDRESSES    the servers' host:port, space separated

and otherwise only PATH, HOME, LANG and what `[deploy.<env>] pass_env` names.

A hook that fails (exits non-zero, times out, cannot start) is a failed route change: the
route file is written, but the proxy did not take it. `RouteChange.hook_error` says why, with
the hook's output. A deployment treats it as an unhealthy batch (release/deploy/strategies.py:
the route goes back to the servers of the previous version, the new ones are removed, exit 1);
elsewhere (retire, a rollback's switch) it is a warning. Every change is in the audit event.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from releasemgr.ledger.clock import now_iso

HOOK_TIMEOUT = 60.0
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class RouteChange:
    changed: bool
    path: Path
    servers: list[dict]
    hook: str | None = None
    hook_ok: bool = True
    hook_output: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def hook_failed(self) -> bool:
        return self.changed and self.hook is not None and not self.hook_ok

    @property
    def hook_error(self) -> str | None:
        """Why the hook failed, with its output (the last lines), else None."""
        return self.warnings[-1] if self.hook_failed and self.warnings else None


def route_path(state_dir, image: str, env: str) -> Path:
    return Path(state_dir) / "routes" / f"{image}@{env}.json"


def read_route(state_dir, image: str, env: str) -> dict | None:
    try:
        return json.loads(route_path(state_dir, image, env).read_text())
    except (OSError, ValueError):
        return None


def hook_command(config, env: str) -> str | None:
    hook = (config.deploy.get(env) or {}).get("route_hook")
    if not hook:
        routes = config.raw.get("routes") or {}
        hook = routes.get("hook") if isinstance(routes, dict) else None
    if isinstance(hook, list):  # ["sh", "route.sh"]: each word quoted, as written
        hook = shlex.join(hook)
    return hook or None


def hook_environment(config, env: str, environ=None) -> dict[str, str]:
    """The hook's environment besides the route variables: the operator's PATH, HOME and LANG
    and the variables `[deploy.<env>] pass_env` names; never the rest of ours (the ledger URL
    with its password, cloud and git credentials)."""
    environ = os.environ if environ is None else environ
    out = {"PATH": environ.get("PATH") or DEFAULT_PATH, "LANG": environ.get("LANG") or "C.UTF-8"}
    if environ.get("HOME"):
        out["HOME"] = environ["HOME"]
    names = (config.deploy.get(env) or {}).get("pass_env") or []
    out.update({name: environ[name] for name in names if name in environ})
    return out


def publish(state_dir, config, image: str, env: str, servers: list[dict], *, version: str | None) -> RouteChange:
    """Write the route of (image, env) if its servers changed, then run the hook.
    `servers`: [{"id", "address", "version"}], in the order a proxy should list them."""
    path = route_path(state_dir, image, env)
    servers = sorted(({"id": s["id"], "address": s["address"], "version": s["version"]} for s in servers),
                     key=lambda s: (s["version"], s["id"]))
    old = read_route(state_dir, image, env)
    if old is not None and old.get("servers") == servers:
        return RouteChange(False, path, servers)
    doc = {"image": image, "env": env, "version": version, "updated_at": now_iso(), "servers": servers}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)
    change = RouteChange(True, path, servers)
    hook = hook_command(config, env)
    if hook:
        change.hook = hook
        env_vars = {**hook_environment(config, env), "RELEASE_ROUTE_FILE": str(path), "RELEASE_IMAGE": image,
                    "RELEASE_ENV": env, "RELEASE_VERSION": version or "",
                    "RELEASE_ADDRESSES": " ".join(s["address"] for s in servers if s["address"])}
        try:
            proc = subprocess.run(hook, shell=True, env=env_vars, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=HOOK_TIMEOUT,
                                  cwd=str(config.path.parent) if config.path else None)
            change.hook_ok = proc.returncode == 0
            change.hook_output = (proc.stdout + proc.stderr).strip()[-2000:]
            if not change.hook_ok:
                change.warnings.append(f"route hook exited {proc.returncode}: "
                                       + (change.hook_output[-500:] or "(no output)"))
        except subprocess.TimeoutExpired:
            change.hook_ok = False
            change.warnings.append(f"route hook did not finish within {HOOK_TIMEOUT:g}s")
        except OSError as exc:
            change.hook_ok = False
            change.warnings.append(f"route hook could not run: {exc}")
    return change
