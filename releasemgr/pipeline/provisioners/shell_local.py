"""`shell-local`: commands on the machine running `release` (provisioner and post-processor)."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import tempfile
import threading

from releasemgr.pipeline.provisioners.base import env_pairs, local_path, render_argv
from releasemgr.pipeline.runner import Cancelled, StepFailed


def run_local(config: dict, ctx, *, extra_env: dict | None = None, timeout: float | None = None) -> None:
    scripts: list[tuple[str, str]] = []
    shebang = config.get("inline_shebang") or "/bin/sh -e"
    if config.get("command") is not None:
        scripts.append(("command", "#!" + shebang + "\n" + str(config["command"]) + "\n"))
    if config.get("inline") is not None:
        scripts.append(("inline", "#!" + shebang + "\n" + "\n".join(map(str, config["inline"])) + "\n"))
    for key in ("script", "scripts"):
        items = config.get(key)
        if items is None:
            continue
        for s in ([items] if isinstance(items, str) else items):
            try:
                scripts.append((str(s), local_path(ctx, str(s)).read_text()))
            except OSError as exc:
                raise StepFailed(f"cannot read script {s}: {exc.strerror}") from None
    if not scripts:
        raise StepFailed("shell-local needs one of command, inline, script or scripts")
    env = {**os.environ, **env_pairs(config, ctx), **(extra_env or {})}
    if ctx.communicator is not None and getattr(ctx.communicator, "root", None) is not None:
        env["IMAGE_ROOT"] = str(ctx.communicator.root)
    valid = [int(c) for c in (config.get("valid_exit_codes") or [0])]
    execute = config.get("execute_command")
    for label, body in scripts:
        # 0600 from the start (mkstemp), 0700 before it runs; in the run's private folder
        fd, path = tempfile.mkstemp(prefix="shell-local-", suffix=".sh", dir=ctx.work_dir)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(body)
            os.chmod(path, 0o700)
            if execute:
                argv = render_argv(execute, Script=path, Path=path, Vars="")
            else:
                argv = ["/bin/sh", "-c", shlex.quote(path)]
            ctx.say(f"Running local shell script: {label}")
            code = _run(argv, env, ctx, timeout)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        if code not in valid:
            raise StepFailed(f"local script {label} exited with status {code}")


def _run(argv, env, ctx, timeout) -> int:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=os.getcwd(), errors="replace")

    def pump(stream, kind):
        for line in stream:
            ctx.output_fn(kind, line.rstrip("\n"))

    threads = [threading.Thread(target=pump, args=(proc.stdout, "out"), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, "err"), daemon=True)]
    for t in threads:
        t.start()
    waited = 0.0
    while True:
        try:
            code = proc.wait(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            waited += 0.1
            if ctx.cancel_event.is_set() or (timeout and waited > timeout):
                _kill(proc)
                for t in threads:
                    t.join(2)
                if ctx.cancel_event.is_set():
                    raise Cancelled() from None
                raise StepFailed(f"local script timed out after {timeout:g}s") from None
    for t in threads:
        t.join(5)
    return code


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(3)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def shell_local(config: dict, ctx, *, timeout: float | None = None) -> None:
    run_local(config, ctx, timeout=timeout)


def breakpoint_(config: dict, ctx, *, timeout: float | None = None) -> None:
    # CI never prompts: a breakpoint is reported and skipped
    if not config.get("disable"):
        ctx.say(f"Breakpoint skipped (non-interactive): {config.get('note') or ''}".rstrip())
