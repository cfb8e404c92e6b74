"""Common provisioner handling: only/except, overrides, pause_before, max_retries, timeout."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from releasemgr.common.durations import seconds as parse_duration
from releasemgr.pipeline.runner import Cancelled, StepFailed

# What a provisioner is: fn(config, ctx, *, timeout) -> None, raising StepFailed on failure.
Provisioner = Callable[..., None]


def applies(p, ctx) -> bool:
    """`only`/`except` of a provisioner or post-processor, by "type.name" or plain name."""
    names = {ctx.display, ctx.source_name}
    if p.only and not names & set(p.only):
        return False
    if p.except_ and names & set(p.except_):
        return False
    return True


def effective_config(p, ctx) -> dict:
    config = dict(p.config or {})
    for key in (ctx.display, ctx.source_name):
        over = (p.override or {}).get(key)
        if isinstance(over, dict):
            config.update(over)
    for k in ("only", "except", "pause_before", "max_retries", "timeout", "override", "name"):
        config.pop(k, None)
    return config


def run_wrapped(impl: Provisioner, p, ctx) -> None:
    """Run the provisioner block `p` with `impl` and Packer's wrappers (overrides,
    pause_before, timeout, max_retries); raise StepFailed when it fails for good."""
    config = effective_config(p, ctx)
    try:
        pause = parse_duration(p.pause_before, 0.0)
        timeout = parse_duration(p.timeout, None)
    except ValueError as exc:
        raise StepFailed(f"provisioner {p.type}: {exc}") from None
    if pause:
        ctx.say(f"Pausing {pause:g}s before the next provisioner...")
        if ctx.cancel_event.wait(pause):
            raise Cancelled()
    retries = int(p.max_retries or 0)
    attempt = 0
    while True:
        ctx.check_cancel()
        try:
            impl(config, ctx, timeout=timeout)
            return
        except StepFailed as exc:
            if attempt >= retries or ctx.cancel_event.is_set():
                raise
            attempt += 1
            ctx.say(f"Provisioner {p.type} failed ({exc}); retrying ({attempt}/{retries})...")
            if ctx.cancel_event.wait(min(2 ** attempt, 10)):
                raise Cancelled() from None


def packer_env(ctx) -> dict[str, str]:
    return {"PACKER_BUILD_NAME": ctx.source_name, "PACKER_BUILDER_TYPE": ctx.source_type,
            "PACKER_HTTP_ADDR": "", "RELEASE_BUILD_ID": ctx.build_id}


def env_pairs(config: dict, ctx) -> dict[str, str]:
    env = packer_env(ctx)
    for item in config.get("environment_vars") or []:
        key, sep, value = str(item).partition("=")
        if not sep:
            raise StepFailed(f"environment_vars entry {item!r} is not KEY=VALUE")
        env[key] = value
    for k, v in (config.get("env") or {}).items():
        env[str(k)] = "" if v is None else str(v)
    return env


def shell_quote_env(env: dict[str, str]) -> str:
    """Packer's `{{.Vars}}`: KEY='value' pairs, single quotes escaped."""
    return " ".join(f"{k}='" + v.replace("'", "'\"'\"'") + "'" for k, v in env.items())


def render_command(template: str, **values) -> str:
    """Packer's go-template placeholders in execute_command: {{.Vars}}, {{.Path}}, {{.EnvVarFile}}, {{.Command}}."""
    out = template
    for k, v in values.items():
        out = out.replace("{{." + k + "}}", v).replace("{{ ." + k + " }}", v)
    return out


def stream(ctx):
    def on_out(line):
        ctx.output_fn("out", line)

    def on_err(line):
        ctx.output_fn("err", line)

    return on_out, on_err


def local_path(ctx, path: str):
    """Files named by a provisioner: relative to the working directory like Packer, else to the template."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    alt = ctx.template_dir / path
    return alt if alt.exists() else p

