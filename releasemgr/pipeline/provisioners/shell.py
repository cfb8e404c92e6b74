"""The `shell` provisioner: inline commands or scripts, run through the communicator."""

from __future__ import annotations

import uuid

from releasemgr.pipeline.communicator import CommunicatorError
from releasemgr.pipeline.provisioners.base import env_pairs, local_path, render_command, shell_quote_env, stream
from releasemgr.pipeline.runner import Cancelled, StepFailed

DEFAULT_EXECUTE = "chmod +x {{.Path}}; {{.Vars}} {{.Path}}"


def shell(config: dict, ctx, *, timeout: float | None = None) -> None:
    comm = ctx.communicator
    if comm is None:
        raise StepFailed("the shell provisioner needs a communicator (communicator = \"none\" was set)")
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
    env = env_pairs(config, ctx)
    valid = [int(c) for c in (config.get("valid_exit_codes") or [0])]
    folder = str(config.get("remote_folder") or "/tmp")
    execute = str(config.get("execute_command") or DEFAULT_EXECUTE)
    on_out, on_err = stream(ctx)
    for label, body in scripts:
        remote = config.get("remote_path") or f"{folder.rstrip('/')}/script_{uuid.uuid4().hex[:8]}.sh"
        ctx.say(f"Provisioning with shell script: {label}")
        try:
            comm.upload_bytes(body, remote, mode=0o755)
            cmd = render_command(execute, Vars=shell_quote_env(env), Path=remote, EnvVarFile="")
            code = comm.run(cmd, on_stdout=on_out, on_stderr=on_err, timeout=timeout)
        except Cancelled:
            raise
        except CommunicatorError as exc:
            if type(exc).__name__ == "CommunicatorCancelled" or ctx.cancel_event.is_set():
                raise Cancelled() from None
            if config.get("expect_disconnect"):
                ctx.say(f"Disconnected as expected ({exc})")
                continue
            raise StepFailed(f"shell provisioner: {exc}") from None
        finally:
            if not config.get("skip_clean"):
                try:
                    if not ctx.cancel_event.is_set():
                        comm.run(f"rm -f {remote}", timeout=30)
                except Exception:
                    pass
        if ctx.cancel_event.is_set():
            raise Cancelled()
        if code not in valid:
            raise StepFailed(f"script {label} exited with status {code} (valid: {', '.join(map(str, valid))})")
