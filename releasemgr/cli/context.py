"""The CLI's shared context: global options, the Ui, and lazily opened config and ledger."""

from __future__ import annotations

import os
from dataclasses import dataclass

import click
from releasemgr.common.identity import default_actor
from releasemgr.ledger.db import safe_url
from releasemgr.ui import Ui
from releasemgr.common.durations import DurationError, seconds
from releasemgr.config import MAX_INT, load_config, make_state_dir
from releasemgr.ledger.db import Ledger, check_url
from releasemgr.release import liveness, policy


@dataclass
class Settings:
    state: str | None = None
    ledger: str | None = None
    config: str | None = None
    actor: str | None = None
    json: bool = False
    verbose: int = 0
    no_color: bool = False
    streaming: bool = False  # the command streams JSON Lines under --json (cli.STREAMING_COMMANDS)


class AppContext:
    def __init__(self):
        self.settings = Settings()
        self._ui = None
        self._config = None
        self._ledger = None
        self._heartbeat = None

    @property
    def ui(self):
        if self._ui is None:
            s = self.settings
            self._ui = Ui.from_env(json_output=s.json, verbose=s.verbose, no_color=s.no_color)
            if s.streaming:
                self._ui.stream()
        return self._ui

    @property
    def config(self):
        if self._config is None:
            cfg = load_config(
                self.settings.config or os.environ.get("RELEASE_CONFIG"),
                state_dir=self.settings.state or os.environ.get("RELEASE_STATE"),
                ledger_url=self.settings.ledger or os.environ.get("RELEASE_LEDGER"),
                ledger_source="--ledger" if self.settings.ledger else "RELEASE_LEDGER",
            )
            check_url(cfg.ledger_url, source=cfg.ledger_source)  # before anything uses it
            self._config = cfg
        return self._config

    @property
    def actor(self) -> str:
        return self.settings.actor or os.environ.get("RELEASE_ACTOR") or default_actor()

    @property
    def ledger(self):
        """The ledger, opened on first use. Only the commands in CREATES_LEDGER make a missing
        one (and say `created ledger <URL>` on stderr); every other command gets exit 4."""
        if self._ledger is None:
            # a new ledger records release.toml's policy; afterwards the ledger's is in force
            led = Ledger.open(self.config.ledger_url, environments=policy.wanted(self.config),
                              create=_creates_ledger(), actor=self.actor,
                              warn=self.ui.warning)  # under --json, a JSON line like every other warning
            self._ledger = led
            make_state_dir(self.config.state_dir)  # private (0700) when this is its first use
            if led.created:
                self.announce_created(led.url)
            warning = policy.adopt(led, self.config)
            if warning:
                self.ui.err(warning)
            self._heartbeat = check_liveness(self, led, write=_writes())
        return self._ledger

    def announce_created(self, url: str) -> None:
        import json

        if self.settings.json:
            self.ui.err(json.dumps({"type": "created_ledger", "url": safe_url(url)}))
        else:
            self.ui.err(f"created ledger {safe_url(url)}")

    def ledger_damage(self) -> list[str]:
        """What is broken in the opened ledger's references (rows deleted behind its back);
        asked when a command failed in a way it does not expect. Nothing when no ledger is open."""
        if self._ledger is None:
            return []
        try:
            return self._ledger.broken_references()
        except Exception:  # noqa: BLE001 - a second failure must not hide the first
            return []

    def close(self):
        if self._ui is not None:
            self._ui.close()  # the live progress display leaves the screen
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


# The commands that may create a ledger where there is none ("sub command" as typed).
CREATES_LEDGER = frozenset({"build", "register", "ledger init", "ledger upgrade"})
# The commands that never write to the ledger: they (and every `--dry-run`) report stale runs;
# every other command marks them abandoned (`releasemgr.release.liveness`).
READ_ONLY = frozenset({"images", "versions", "show", "history", "status", "servers", "audit", "audit verify",
                       "policy", "policy show", "ledger info"})


def _command_name() -> str | None:
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return None
    names = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    return " ".join(reversed(names))


def _writes() -> bool:
    """The command may write to the ledger: not a read-only one, not a `--dry-run`."""
    ctx = click.get_current_context(silent=True)
    return _command_name() not in READ_ONLY and not (ctx is not None and ctx.params.get("dry_run"))


def _creates_ledger() -> bool:
    return _command_name() in CREATES_LEDGER


def check_liveness(app: AppContext, led: Ledger, *, write: bool):
    """The one liveness hook, when a command opens the ledger: a read-only command reports
    the runs whose process is gone (stale); a command that writes marks them abandoned,
    cleans up after them and keeps a heartbeat for its own runs (returned, stopped by close)."""
    ui = app.ui
    found = liveness.check(led, app.config, write=write, actor=app.actor)
    if found and app.settings.json:
        import json

        kind = "abandoned" if write else "stale"
        ui.err(json.dumps({"type": kind, kind: [s.to_json() for s in found]}))
    for s in [] if app.settings.json else found:
        if write:
            ui.err(f"warning: marked {s.name} abandoned: {s.why}"
                   + "".join(f"\n  {line}" for line in s.leftovers))
        else:
            ui.err(f"warning: {s.name} is stale: {s.why}; the next command that writes to the ledger marks it "
                   "abandoned")
    return liveness.ProcessHeartbeat(led).start() if write else None


def _setter(attr):
    def callback(ctx: click.Context, param, value):
        if value is None or value is False or value == 0 and attr == "verbose":
            return
        app = ctx.find_object(AppContext)
        if app is None:
            return
        if attr == "verbose":
            app.settings.verbose = max(app.settings.verbose, value)
        else:
            setattr(app.settings, attr, value)
        if attr in ("json", "verbose", "no_color"):
            app._ui = None  # re-create with the new settings

    return callback


_GLOBAL = [
    click.option("--state", metavar="DIR", callback=_setter("state"), expose_value=False, is_eager=True,
                 help="State folder (ledger, artifacts, logs). Env: RELEASE_STATE. Default: ./state."),
    click.option("--ledger", metavar="URL", callback=_setter("ledger"), expose_value=False, is_eager=True,
                 help="Ledger URL, sqlite:///path or postgresql://user@host/db. Env: RELEASE_LEDGER."),
    click.option("--config", metavar="FILE", callback=_setter("config"), expose_value=False, is_eager=True,
                 help="release.toml to use. Default: ./release.toml when present."),
    click.option("--actor", metavar="NAME", callback=_setter("actor"), expose_value=False, is_eager=True,
                 help="Who is acting, for the audit log. Env: RELEASE_ACTOR. Default: user@host."),
    click.option("--json", "json_", is_flag=True, default=False, callback=_setter("json"), expose_value=False,
                 is_eager=True, help="Print one JSON document (JSON lines for streams)."),
    click.option("-v", "--verbose", count=True, callback=_setter("verbose"), expose_value=False, is_eager=True,
                 help="More detail; tracebacks on internal errors."),
    click.option("--no-color", is_flag=True, default=False, callback=_setter("no_color"), expose_value=False,
                 is_eager=True, help="No colour (also NO_COLOR)."),
]


_GLOBAL_NAMES = ["state", "ledger", "config", "actor", "json", "verbose", "no_color"]


def global_options(f=None, *, exclude: tuple[str, ...] = ()):
    """Add the global options; they may be given before or after the sub-command.
    `exclude` leaves some out where the command uses the name itself (`audit --actor`)."""

    def deco(f):
        for name, opt in reversed(list(zip(_GLOBAL_NAMES, _GLOBAL))):
            if name not in exclude:
                f = opt(f)
        return f

    return deco(f) if f is not None else deco


def command(name: str | None = None, **kw):
    """A sub-command with the global options and the shared help settings."""

    # every command says -h/--help itself, whatever context it is created in (click caches
    # each command's help option on first use, so inheriting it from the group is fragile)
    kw.setdefault("context_settings", {}).setdefault("help_option_names", HELP_OPTIONS)

    def deco(f):
        f = global_options(f)
        return click.command(name, **kw)(f)

    return deco


def subcommand(group: click.Group, name: str):
    """A command of a group (`release ledger info`): the global options and the shared help
    settings, as `command` gives a top-level one."""

    def deco(f):
        return group.command(name, context_settings=CONTEXT_SETTINGS)(global_options(f))

    return deco


class Duration(click.ParamType):
    """A duration option (`--lock-timeout 30`, `30s`, `2m`), read as `common.durations.seconds`
    reads every duration a person types: nan, inf, negative or absurdly long values are a
    usage error (exit 2)."""

    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            text = value
        else:
            text = str(value).strip()
        try:
            return seconds(text, 0.0)
        except DurationError as exc:
            self.fail(str(exc), param, ctx)


# --limit, --keep and other counts of rows: what the ledger can store (a 64-bit integer)
LIMIT = click.IntRange(min=1, max=MAX_INT)
AT_LEAST_0 = click.IntRange(min=0, max=MAX_INT)

HELP_OPTIONS = ["-h", "--help"]
CONTEXT_SETTINGS = {"help_option_names": HELP_OPTIONS}


def app_ctx() -> AppContext:
    return click.get_current_context().find_object(AppContext)
