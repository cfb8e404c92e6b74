"""``source "null"`` (provisioners against an existing host) and ``source "local"`` (our own)."""

from __future__ import annotations

import signal
from typing import Mapping

from . import communicator
from ._model import (
    BOOL,
    DURATION,
    LIST_STRING,
    MAP_STRING,
    NUMBER,
    STRING,
    BlockSpec,
    Body,
    Option,
    Schema,
    at_most_one,
    error,
    warning,
)
from ._types import is_set, is_true

# --- null ------------------------------------------------------------------------------------


def check_null(body: Body, environ: Mapping[str, str]):
    """Packer's null builder: a host, a user and exactly one way to authenticate."""
    where = "source null"
    a = body.attrs
    kind = communicator.communicator_type(body)
    yield from communicator.check_communicator(body, environ, where=where)
    if kind == "ssh":
        if not is_set(a.get("ssh_host")):
            yield error(
                f'Missing required argument "ssh_host" in {where}',
                "The null builder connects to an existing machine: set ssh_host.",
            )
        ways = [n for n in ("ssh_password", "ssh_private_key_file") if is_set(a.get(n))]
        if is_true(a.get("ssh_agent_auth")):
            ways.append("ssh_agent_auth")
        if not ways:
            yield error(
                f"No SSH authentication method in {where}",
                "Set one of ssh_private_key_file, ssh_password or ssh_agent_auth = true.",
            )
        elif len(ways) > 1:
            yield error(
                f"Conflicting SSH authentication methods in {where}",
                "Only one of ssh_agent_auth, ssh_password and ssh_private_key_file can be specified; got "
                + ", ".join(ways)
                + ".",
                (ways[1],),
            )
    elif kind == "winrm":
        if not is_set(a.get("winrm_host")):
            yield error(f'Missing required argument "winrm_host" in {where}', "The null builder connects to an "
                                                                              "existing machine: set winrm_host.")
        if not is_set(a.get("winrm_password")):
            yield error('Missing required argument "winrm_password" in '
                        f'{where}', "Set winrm_password to authenticate with WinRM.")


NULL = Schema(
    communicator.OPTIONS,
    groups=communicator.GROUPS,
    checks=(check_null,),
    notes=(
        "With `communicator = \"ssh\"` (the default): `ssh_host`, `ssh_username` and exactly one of "
        "`ssh_private_key_file`, `ssh_password`, `ssh_agent_auth = true`.",
        "With `communicator = \"winrm\"`: `winrm_host`, `winrm_username`, `winrm_password`.",
    ),
    doc="Runs the provisioners against an existing machine over SSH or WinRM (or with `communicator = \"none\"`, only "
        "local steps). Produces no image.",
)

# --- local -----------------------------------------------------------------------------------

HEALTH_TYPES = ("http", "tcp", "command", "process")


def _check_health(body: Body, environ):
    a = body.attrs
    kind = a.get("type") if is_set(a.get("type")) else "tcp"  # providers.base.HealthCheck's default
    if kind == "command" and not is_set(a.get("command")):
        yield error(
            'Missing required argument "command" in health_check block',
            'A health check of type "command" needs command = ["prog", "arg", ...].',
        )
    if kind in ("tcp", "command", "process"):
        for name in ("path", "expected_status", "body_contains"):
            if is_set(a.get(name)):
                yield warning(
                    f'Argument "{name}" does not apply to a {kind} health check',
                    f'"{name}" is only used by health checks of type "http".',
                    (name,),
                )
    if kind in ("http", "tcp", "process") and is_set(a.get("command")):
        yield warning(
            f'Argument "command" does not apply to a {kind} health check',
            '"command" is only used by health checks of type "command".',
            ("command",),
        )
    status = a.get("expected_status")
    if isinstance(status, (int, float)) and not isinstance(status, bool) and not 100 <= status <= 599:
        yield error(
            'Invalid value for "expected_status" in health_check block',
            f"An HTTP status is between 100 and 599; got {status}.",
            ("expected_status",),
        )
    path = a.get("path")
    if isinstance(path, str) and path and not path.startswith("/"):
        yield error('Invalid value for "path" in health_check '
                    'block', f'The path must start with "/"; got "{path}".', ("path",))


HEALTH_CHECK = Schema(
    (
        Option(
            "type",
            STRING,
            default="tcp",
            choices=HEALTH_TYPES,
            doc="http: GET path on the server's port; tcp: connect to the port; command: run a command; process: the "
                "process is alive.",
        ),
        Option("path", STRING, default="/", doc="URL path of an http check."),
        Option("port", NUMBER, doc="Port to check (default: the server's port)."),
        Option("expected_status", NUMBER, default=200, doc="HTTP status an http check expects."),
        Option("body_contains", STRING, doc="Text the response body of an http check must contain."),
        Option("command", LIST_STRING, doc="Command of a command check (exit status 0 = healthy); cwd is the server's "
                                           "root."),
        Option("timeout", DURATION, default="30s", doc="How long a server may take to become healthy."),
        Option("interval", DURATION, default="1s", doc="Time between two checks."),
    ),
    checks=(_check_health,),
    notes=(
        "`type = \"command\"` needs `command`; `path`, `expected_status` and `body_contains` only apply to http "
        "checks (a warning otherwise).",
        "`expected_status` is between 100 and 599; `path` starts with `/`.",
    ),
    doc="How to tell that a server of this image is healthy.",
)

_SIGNALS = {s.name for s in signal.Signals if not s.name.startswith("CTRL_")}


def check_local(body: Body, environ: Mapping[str, str]):
    where = "source local"
    a = body.attrs
    base = a.get("base")
    if isinstance(base, str) and base and base.lower().endswith((".zip", ".tar.bz2", ".tar.xz", ".tbz2", ".txz")):
        yield error(
            f'Invalid value for "base" in {where}',
            f'base is a folder or a .tar/.tar.gz/.tgz file; "{base}" is neither.',
            ("base",),
        )
    port_env = a.get("port_env")
    if isinstance(port_env, str) and port_env and not port_env.replace("_", "a").isalnum():
        yield error(
            f'Invalid value for "port_env" in {where}',
            f'"{port_env}" is not an environment variable name (letters, digits and _).',
            ("port_env",),
        )
    sig = a.get("stop_signal")
    if isinstance(sig, str) and sig:
        name = sig.upper() if sig.upper().startswith("SIG") else "SIG" + sig.upper()
        if name not in _SIGNALS:
            yield error(
                f'Invalid value for "stop_signal" in {where}',
                f'"{sig}" is not a signal name; use e.g. "SIGTERM", "SIGINT" or "SIGQUIT".',
                ("stop_signal",),
            )


LOCAL = Schema(
    (
        Option("base", STRING, doc="Folder or .tar/.tar.gz file the image root starts from (default: "
                                   "empty).", local_path=True),
        Option("command", LIST_STRING, required=True, doc="How a server of this image runs, as a list of arguments; "
                                                          "cwd is the image root."),
        Option("port_env", STRING, doc="Environment variable that passes the server's port."),
        Option("port_arg", BOOL, default=False, doc="Append the server's port as the last argument of command."),
        Option("env", MAP_STRING, doc="Extra environment for servers."),
        Option("workdir", STRING, doc="Working directory of servers, relative to the image root (default: the root)."),
        Option("stop_signal", STRING, default="SIGTERM", doc="Signal that asks a server to stop."),
        Option("stop_timeout", DURATION, default="10s", doc="Grace period after stop_signal before SIGKILL."),
    ),
    blocks=(BlockSpec("health_check", HEALTH_CHECK, doc=HEALTH_CHECK.doc),),
    groups=(at_most_one("port_env", "port_arg"),),
    checks=(check_local,),
    notes=(
        "`command` has at least one element (an empty list counts as missing); `base` is a folder or a .tar, .tar.gz "
        "or .tgz file.",
        "`port_env` is an environment variable name; `stop_signal` a signal name (`SIGTERM` or `TERM`).",
    ),
    doc="releasemgr's own builder: an image is a reproducible tarball of a root folder; a server is a local process "
        "started from it.",
)
