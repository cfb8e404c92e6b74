"""The CLI's shared context: global options, the Ui, and lazily opened config and ledger."""

from __future__ import annotations

import os
from dataclasses import dataclass

import click
from releasemgr.config import default_actor
from releasemgr.ledger.db import safe_url
from releasemgr.ui import Ui
from releasemgr.config import load_config
from releasemgr.ledger.db import Ledger
from releasemgr.release import policy


@dataclass
class Settings:
    state: str | None = None
    ledger: str | None = None
    config: str | None = None
    actor: str | None = None
    json: bool = False
    verbose: int = 0
    no_color: bool = False


class AppContext:
    def __init__(self):
        self.settings = Settings()
        self._ui = None
        self._config = None
        self._ledger = None

    @property
    def ui(self):
        if self._ui is None:
            s = self.settings
            self._ui = Ui.from_env(json_output=s.json, verbose=s.verbose, no_color=s.no_color)
        return self._ui

    @property
    def config(self):
        if self._config is None:
            self._config = load_config(
                self.settings.config or os.environ.get("RELEASE_CONFIG"),
                state_dir=self.settings.state or os.environ.get("RELEASE_STATE"),
                ledger_url=self.settings.ledger or os.environ.get("RELEASE_LEDGER"),
            )
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
                              create=_creates_ledger(), actor=self.actor)
            self._ledger = led
            if led.created:
                self.announce_created(led.url)
            if policy.adopt(led, self.config):
                self.ui.err(policy.DIFFERS_WARNING)
        return self._ledger

    def announce_created(self, url: str) -> None:
        import json

        if self.settings.json:
            self.ui.err(json.dumps({"type": "created_ledger", "url": safe_url(url)}))
        else:
            self.ui.err(f"created ledger {safe_url(url)}")

    def close(self):
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


# The commands that may create a ledger where there is none ("sub command" as typed).
CREATES_LEDGER = frozenset({"build", "register", "ledger init", "ledger upgrade"})


def _creates_ledger() -> bool:
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return False
    names = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    return " ".join(reversed(names)) in CREATES_LEDGER


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


HELP_OPTIONS = ["-h", "--help"]
CONTEXT_SETTINGS = {"help_option_names": HELP_OPTIONS}

pass_app = click.make_pass_decorator(AppContext)


def app_ctx() -> AppContext:
    return click.get_current_context().find_object(AppContext)
