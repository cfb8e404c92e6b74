"""The `shell` provisioner: inline commands or scripts, run through the communicator.

Scripts go into a private folder of the run on the machine being built: `mktemp -d` (mode
0700) under `remote_folder`, or, for the local communicator without a `remote_folder`, a
folder inside the build's run folder on this host. Scripts are written 0700 before any byte
of them is; the folder is removed when the provisioner ends (success, failure or cancel) —
or, when that was not possible, by the provisioning step's cleanup, which says what is left.

Environment variables (`environment_vars`, `env`, Packer's own) never go on a command line:
- on this host (the local communicator) they are in the script's process environment, and
  `{{.Vars}}` in an `execute_command` is empty;
- on a remote host they are written (0600) to an env file beside the script, which the
  default `execute_command` sources (`{{.EnvVarFile}}`). An `execute_command` of the
  template's own that uses `{{.Vars}}` puts them on the remote command line, as Packer
  does; `release validate` warns when a secret would go there.
"""

from __future__ import annotations

import posixpath
import shlex
import uuid

from releasemgr.pipeline.communicator import CommunicatorError
from releasemgr.pipeline.communicator.local import LocalCommunicator
from releasemgr.pipeline.provisioners.base import env_pairs, local_path, render_command, shell_quote_env, stream
from releasemgr.pipeline.runner import Cancelled, StepFailed

DEFAULT_EXECUTE = "chmod u+x {{.Path}}; . {{.EnvVarFile}}; {{.Path}}"  # u+x: never x (or r) for others
SCRIPT_MODE = 0o700
ENV_FILE_MODE = 0o600


def _cancelled(exc: Exception, ctx) -> bool:
    return type(exc).__name__ == "CommunicatorCancelled" or ctx.cancel_event.is_set()


def temp_folder(config: dict, ctx, comm) -> str:
    """The private folder this provisioner's scripts go into (registered for cleanup first)."""
    parent = config.get("remote_folder")
    if parent is None:
        parent = str(ctx.work_dir) if isinstance(comm, LocalCommunicator) else "/tmp"
    folder = comm.make_temp_dir(str(parent), f"release-{ctx.build_id[:8]}-")
    ctx.temp_folders.append((comm, folder))
    return folder


def remove_temp_folder(ctx, comm, folder: str) -> None:
    """Remove it (a folder, or a script at `remote_path`) now, unless the build is being
    cancelled: the step's cleanup does it then, after the cancelled command is gone."""
    if ctx.cancel_event.is_set():
        return
    try:
        comm.remove_tree(folder)
    except Exception:  # noqa: BLE001 - the provisioning step's cleanup tries again and reports it
        return
    if (comm, folder) in ctx.temp_folders:
        ctx.temp_folders.remove((comm, folder))


def _scripts(config: dict, ctx) -> list[tuple[str, bytes]]:
    """(label, content) of each script to run: `inline` first, then `script`/`scripts`."""
    scripts: list[tuple[str, bytes]] = []
    shebang = config.get("inline_shebang") or "/bin/sh -e"
    if config.get("inline") is not None:
        lines = [str(x) for x in config["inline"]]
        scripts.append(("inline", ("#!" + shebang + "\n" + "\n".join(lines) + "\n").encode()))
    for key in ("script", "scripts"):
        items = config.get(key)
        if items is None:
            continue
        for s in ([items] if isinstance(items, str) else items):
            path = local_path(ctx, str(s))
            try:
                scripts.append((str(s), path.read_bytes()))
            except OSError as exc:
                raise StepFailed(f"cannot read script {s}: {exc.strerror}") from None
    if not scripts:
        raise StepFailed("the shell provisioner needs one of inline, script or scripts")
    return scripts


def _upload_env_file(text: bytes, folder: str | None, remote: str, comm, ctx) -> str:
    """The variables as `K='v'; export K` lines (0600), in the private folder (else beside
    the script at `remote_path`, registered for cleanup); returns its path."""
    env_file = posixpath.join(folder, f"env_{uuid.uuid4().hex[:8]}.sh") if folder else f"{remote}.env"
    if not folder:
        ctx.temp_folders.append((comm, env_file))
    comm.upload_bytes(text, env_file, mode=ENV_FILE_MODE)
    return env_file


def shell(config: dict, ctx, *, timeout: float | None = None) -> None:
    comm = ctx.communicator
    if comm is None:
        raise StepFailed("the shell provisioner needs a communicator (communicator = \"none\" was set)")
    scripts = _scripts(config, ctx)
    env = env_pairs(config, ctx)
    local = isinstance(comm, LocalCommunicator)
    variables = "" if local else shell_quote_env(env)  # on this host: the environment, never argv
    env_file_text = "".join(f"{k}={shlex.quote(v)}\nexport {k}\n" for k, v in env.items()).encode()
    valid = [int(c) for c in (config.get("valid_exit_codes") or [0])]
    execute = str(config.get("execute_command") or DEFAULT_EXECUTE)
    on_out, on_err = stream(ctx)
    remote_path = config.get("remote_path")
    try:
        folder = None if remote_path else temp_folder(config, ctx, comm)
    except CommunicatorError as exc:
        if _cancelled(exc, ctx):
            raise Cancelled() from None
        raise StepFailed(f"shell provisioner: {exc}") from None
    try:
        for label, body in scripts:
            remote = str(remote_path) if remote_path else posixpath.join(folder, f"script_{uuid.uuid4().hex[:8]}.sh")
            ctx.say(f"Provisioning with shell script: {label}")
            env_file = ""
            if remote_path and not config.get("skip_clean"):
                ctx.temp_folders.append((comm, remote))  # removed below, or by the step's cleanup
            try:
                comm.upload_bytes(body, remote, mode=SCRIPT_MODE)
                if "EnvVarFile" in execute:
                    env_file = _upload_env_file(env_file_text, folder, remote, comm, ctx)
                cmd = render_command(execute, Vars=variables, Path=shlex.quote(remote),
                                     EnvVarFile=shlex.quote(env_file) if env_file else "/dev/null")
                code = comm.run(cmd, env=env if local else None, on_stdout=on_out, on_stderr=on_err,
                                timeout=timeout)
            except Cancelled:
                raise
            except CommunicatorError as exc:
                if _cancelled(exc, ctx):
                    raise Cancelled() from None
                if config.get("expect_disconnect"):
                    ctx.say(f"Disconnected as expected ({exc})")
                    continue
                raise StepFailed(f"shell provisioner: {exc}") from None
            finally:
                if remote_path and not config.get("skip_clean"):
                    remove_temp_folder(ctx, comm, remote)
                if env_file and not folder:
                    remove_temp_folder(ctx, comm, env_file)
            if ctx.cancel_event.is_set():
                raise Cancelled()
            if code not in valid:
                raise StepFailed(f"script {label} exited with status {code} (valid: {', '.join(map(str, valid))})")
    finally:
        if folder is not None:
            remove_temp_folder(ctx, comm, folder)
