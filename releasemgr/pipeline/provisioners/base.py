"""Common provisioner handling: only/except, overrides, pause_before, max_retries, timeout."""

from __future__ import annotations

import re
import shlex
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


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_env_name(key: str, where: str) -> str:
    """A variable name the shell takes as a name (never as code); StepFailed otherwise."""
    if not ENV_NAME.match(key):
        raise StepFailed(f"{where}: {key!r} is not an environment variable name "
                         "(letters, digits and underscores, not starting with a digit)")
    return key


def env_pairs(config: dict, ctx) -> dict[str, str]:
    env = packer_env(ctx)
    for item in config.get("environment_vars") or []:
        key, sep, value = str(item).partition("=")
        if not sep:
            raise StepFailed(f"environment_vars entry {item!r} is not KEY=VALUE")
        env[check_env_name(key, "environment_vars")] = value
    for k, v in (config.get("env") or {}).items():
        env[check_env_name(str(k), "env")] = "" if v is None else str(v)
    return env


def shell_quote_env(env: dict[str, str]) -> str:
    """Packer's `{{.Vars}}`: KEY='value' pairs, single quotes escaped; keys must be names."""
    return " ".join(check_env_name(k, "environment_vars") + "='" + v.replace("'", "'\"'\"'") + "'"
                    for k, v in env.items())


_PLACEHOLDER = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")


def render_command(template: str, **shell_text: str) -> str:
    """Packer's go-template placeholders in execute_command ({{.Vars}}, {{.Path}}, ...).

    Each value is *shell text*: already quoted for one shell (`shlex.quote(path)`, or the
    `KEY='value'` pairs of `{{.Vars}}`). The user's own text stays as written; where a
    placeholder sits decides how its value goes in:

    - outside quotes: the shell text as it is;
    - a whole quoted word (`'{{.Path}}'`, `"{{.Path}}"`): the word's quotes are replaced by
      the shell text (the quotes meant "one word");
    - inside a longer quoted string (`sudo sh -c '{{.Vars}} {{.Path}}'`): the string is a
      command for another shell, so the shell text is escaped for those quotes and that shell
      reads it back unchanged.

    A value never becomes code, whatever characters it holds."""
    out: list[str] = []
    state = None  # None, "'" or '"'
    quote_at = -1  # index in `out` of the quote that opened the current string
    i, n = 0, len(template)
    while i < n:
        m = _PLACEHOLDER.match(template, i)
        if m and m.group(1) in shell_text:
            text = shell_text[m.group(1)]
            end = m.end()
            if state and quote_at == len(out) - 1 and template[end:end + 1] == state:
                out.pop()  # the whole word was quoted: our quoting replaces the user's
                out.append(text)
                state, end = None, end + 1
            elif state == "'":
                out.append(text.replace("'", "'\\''"))
            elif state == '"':
                out.append("".join("\\" + c if c in '\\$`"' else c for c in text))
            else:
                out.append(text)
            i = end
            continue
        c = template[i]
        if state is None:
            if c == "\\" and i + 1 < n:
                out.append(template[i:i + 2])
                i += 2
                continue
            if c in "'\"":
                state, quote_at = c, len(out)
        elif state == "'":
            if c == "'":
                state = None
        else:
            if c == "\\" and i + 1 < n:
                out.append(template[i:i + 2])
                i += 2
                continue
            if c == '"':
                state = None
        out.append(c)
        i += 1
    return "".join(out)


def render_argv(argv, **raw: str) -> list[str]:
    """shell-local's `execute_command` (a list): an element that is just a placeholder gets
    the raw value (an argument, no shell involved); in any other element the element is taken
    as shell text (`/bin/sh -c "{{.Vars}} {{.Script}}"`) and values go in quoted."""
    quoted = {k: shlex.quote(v) if v else "" for k, v in raw.items()}
    out = []
    for a in argv:
        a = str(a)
        m = _PLACEHOLDER.fullmatch(a.strip())
        if m and m.group(1) in raw:
            out.append(raw[m.group(1)])
        else:
            out.append(render_command(a, **quoted))
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

