"""The `release` command line: parse, call one use case, render text or --json.

Sub-commands are loaded lazily (`LAZY_COMMANDS`), so `release --help`, `fmt` and
`validate` never import boto3, paramiko or the ORM.
"""

from __future__ import annotations

import importlib
import io
import json
import sys

import click

from releasemgr import __version__
from releasemgr.cli.context import AppContext, global_options
from releasemgr.common.secrets import begin_run
from releasemgr.common.suggest import closest
from releasemgr.errors import ExitStatus, OperationFailed, ReleaseError, UsageError
from releasemgr.ui import result_line

# name -> "module:attribute"; the order is the order of `release --help`.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    # images
    "build": ("releasemgr.cli.build_cmd:build", "Build an image from a Packer HCL2 template into a new version."),
    # versions and the release lifecycle
    "register": ("releasemgr.cli.lifecycle:register", "Record a version from existing artifacts or a Packer manifest."),
    "images": ("releasemgr.cli.query_cmds:images", "List images with their newest version."),
    "versions": ("releasemgr.cli.query_cmds:versions", "List the versions of an image."),
    "show": ("releasemgr.cli.query_cmds:show", "Show one version (web@v3, web@1.4.0, web@prod, web@latest)."),
    "approve": ("releasemgr.cli.lifecycle:approve", "Record your approval of a version for an environment."),
    "promote": ("releasemgr.cli.lifecycle:promote", "Make a version current in an environment."),
    "rollback": ("releasemgr.cli.lifecycle:rollback", "Move an environment back to its previous good version."),
    "revoke": ("releasemgr.cli.lifecycle:revoke", "Mark a version as not to be promoted or deployed."),
    "unrevoke": ("releasemgr.cli.lifecycle:unrevoke", "Lift a revocation."),
    "history": ("releasemgr.cli.query_cmds:history", "Show how channel pointers moved."),
    "status": ("releasemgr.cli.query_cmds:status", "Show which version each environment runs."),
    "deploy": ("releasemgr.cli.fleet_cmds:deploy", "Bring an environment's servers to a version."),
    "servers": ("releasemgr.cli.fleet_cmds:servers", "List the servers of an image in an environment."),
    "retire": ("releasemgr.cli.fleet_cmds:retire", "Stop the servers built from older versions."),
    "prune": ("releasemgr.cli.fleet_cmds:prune", "Delete artifacts of old versions nothing uses."),
    "gc": ("releasemgr.cli.aws_cmds:gc", "Remove what dead builds left behind in AWS."),
    "policy": ("releasemgr.cli.policy_cmd:policy", "Show the policy in force; apply release.toml's."),
    "audit": ("releasemgr.cli.audit_cmd:audit", "Query and verify the tamper-evident audit log."),
    "ledger": ("releasemgr.cli.ledger_cmd:ledger", "Inspect and upgrade the ledger database."),
    # templates
    "validate": ("releasemgr.cli.template_cmds:validate", "Check a Packer HCL2 template."),
    "fmt": ("releasemgr.cli.fmt_cmd:fmt", "Format templates exactly as `packer fmt` does."),
    "init": ("releasemgr.cli.init_cmd:init", "Check the plugins and components a template needs."),
    "inspect": ("releasemgr.cli.template_cmds:inspect", "Show a template's variables, sources and builds."),
}


# The commands that can start a build or a deploy (`promote`/`rollback` with --deploy or the
# environment's auto_deploy, `revoke --rollback`): with --json they always stream JSON Lines
# ending with one `result` line, whatever release.toml says (docs/json.md). Every other
# command prints one JSON document.
STREAMING_COMMANDS = frozenset({"build", "deploy", "promote", "rollback", "revoke"})


class _Interrupted(Exception):
    """Ctrl-C or SIGTERM inside a command, carried past click (which would print a blank
    line on stderr for a KeyboardInterrupt: not JSON) to main()."""


class LazyGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Interrupted(*exc.args) from exc

    def resolve_command(self, ctx, args):
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in LAZY_COMMANDS:
            close = closest(name, LAZY_COMMANDS)
            if close:
                ctx.fail(f"No such command {name!r}. Did you mean {close!r}?")
        name, cmd, rest = super().resolve_command(ctx, args)
        if name in STREAMING_COMMANDS and isinstance(ctx.obj, AppContext):
            ctx.obj.settings.streaming = True
            if ctx.obj._ui is not None:
                ctx.obj._ui.stream()
        return name, cmd, rest

    def list_commands(self, ctx):
        return list(LAZY_COMMANDS)

    def get_command(self, ctx, name):
        entry = LAZY_COMMANDS.get(name)
        if entry is None:
            return None
        # No fallback: an entry whose module or attribute is missing (a typo, a file not
        # added) must fail loudly, not show as "No such command".
        module, _, attr = entry[0].partition(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        # Short help comes from LAZY_COMMANDS so `release --help` imports no command module.
        rows = [(name, help_) for name, (_, help_) in LAZY_COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@global_options
@click.version_option(__version__, "--version", prog_name="release")
@click.pass_context
def cli(ctx):
    """Build machine images, record them as immutable versions, promote, deploy,
    roll back, retire, and audit who changed what.

    Global options may also be given after the sub-command (`release status --json`).
    Exit codes: 0 success, 1 the operation failed, 2 bad usage/template/config,
    3 refused by policy, 4 not found, 130/143 interrupted by SIGINT/SIGTERM.

    \b
    Example:
      release register web --artifact aws:us-east-1:ami-0abc123 --bump minor
      release promote web@v1 --to dev
      release status --json
    """


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit status; the one place errors become output.

    Every message goes through the app's Ui, so secrets a command registered
    (`ui.add_secret`) are masked in errors as in any other output, --json included."""
    begin_run()  # this run's secrets only (in-process callers run main() many times)
    app = AppContext()
    args = sys.argv[1:] if argv is None else argv
    try:
        _refuse_nul_bytes(app, args)
        # Without standalone mode click *returns* the code of a `ctx.exit(n)` (and a
        # command's return value) instead of raising Exit: that is the status.
        status = cli.main(args=args, prog_name="release", standalone_mode=False, obj=app)
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    except ReleaseError as exc:
        _report(app, exc)
        return int(exc.status)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # Ctrl-C, or SIGTERM where a command maps it
            return _interrupted(app, exc.__cause__)
        return _fail(app, "failed", "Aborted.", int(ExitStatus.FAILED))
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        # the parser fails before --json's callback runs: the argument list says it
        app.settings.json = app.settings.json or "--json" in args
        app.settings.streaming = app.settings.streaming or _command_of(args) in STREAMING_COMMANDS
        app._ui = None
        if app.settings.json:
            return _fail(app, "usage", exc.format_message(), int(ExitStatus.USAGE))
        shown = io.StringIO()
        exc.show(file=shown)
        app.ui.err(shown.getvalue().rstrip("\n"))
        return int(ExitStatus.USAGE)
    except (KeyboardInterrupt, _Interrupted) as exc:
        return _interrupted(app, exc)
    except BrokenPipeError:
        return int(ExitStatus.OK)
    except Exception as exc:  # a bug: one line unless -v
        if app.settings.verbose:
            raise
        damage = app.ledger_damage()  # or rows deleted behind the tool's back: say that instead
        if damage:
            more = f" (and {len(damage) - 1} more)" if len(damage) > 1 else ""
            _report(app, OperationFailed(f"the ledger is damaged: {damage[0]}{more}", damage=damage,
                                         hint="rows were deleted outside `release`: `release audit verify` names "
                                              "what changed; restore the ledger from a backup"))
            return int(ExitStatus.FAILED)
        return _fail(app, "internal", f"internal error: {type(exc).__name__}: {exc}", int(ExitStatus.FAILED),
                     hint="run again with -v for the traceback and report it")
    finally:
        app.close()
    return int(ExitStatus.OK)


def _command_of(args) -> str | None:
    """The sub-command's name in an argument list (the first word that is not an option or
    a global option's value)."""
    takes_value = {"--state", "--ledger", "--config", "--actor"}
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in takes_value:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _interrupted(app: AppContext, exc: BaseException) -> int:
    by_term = exc.args == ("SIGTERM",)
    code = 143 if by_term else 130
    return _fail(app, "interrupted", f"Interrupted{' (SIGTERM)' if by_term else ''}.", code,
                 signal="SIGTERM" if by_term else "SIGINT")


def _fail(app: AppContext, kind: str, message: str, code: int, hint: str | None = None, **details) -> int:
    """An error the CLI itself reports: the error document (or a stream's result line) under
    --json, else `message` on stderr."""
    if app.settings.json:
        doc = {"error": kind, "message": message, "exit_code": code, **({"hint": hint} if hint else {}), **details}
        _emit_error(app.ui, doc, code)
    else:
        app.ui.err(message if kind in ("interrupted", "failed") else f"error: {message}")
        if hint:
            app.ui.err(f"  {hint}")
    return code


def _emit_error(ui, doc: dict, code: int) -> None:
    """The one place an error reaches stdout under --json: a stream ends with a `result` line
    carrying it; any other command prints it as its one document. Nothing on stderr."""
    if ui.streaming:
        ui.emit_line(result_line(doc, exit_code=code))
    else:
        ui.out(json.dumps(doc, indent=2, default=str))


def _refuse_nul_bytes(app: AppContext, args) -> None:
    """No argument may hold a NUL byte: no file name, ledger or template can, PostgreSQL
    refuses it in text, and a name or reason with one would read differently in each
    place it is shown. Refused before anything runs, the same way on every ledger."""
    for arg in args:
        if isinstance(arg, str) and "\0" in arg:
            app.settings.json = "--json" in args  # the error as a document, as any other
            app.settings.streaming = _command_of(args) in STREAMING_COMMANDS
            shown = arg.replace("\0", "\\0")
            raise UsageError(f"an argument contains a NUL byte: {shown}", hint="remove the NUL (\\0) character")


def run() -> None:
    """The `release` console script: `main()`, then a fast exit.

    A command that imported SQLAlchemy (and more) spends 0.1-0.2 s at interpreter shutdown
    tearing down modules and collecting objects nobody will use again. When the command
    is done -- output flushed, the ledger closed, exit handlers run (they join executor
    threads and run finalizers) and no other thread alive -- the process ends with
    `os._exit` instead. With another thread still running, the normal exit joins it."""
    import atexit
    import os
    import threading

    status = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    except OSError:
        raise SystemExit(status)
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        raise SystemExit(status)  # the normal exit waits for it
    atexit._run_exitfuncs()
    os._exit(status)


def _report(app: AppContext, exc: ReleaseError) -> None:
    ui = app.ui
    if app.settings.json:
        _emit_error(ui, exc.to_json(), int(exc.status))
        return
    diags = getattr(exc, "diagnostics", None)
    if diags:
        for d in diags:
            ui.err(d.render())
            ui.err("")
    ui.err(f"error: {exc.message}")
    if exc.hint:
        ui.err(f"  {exc.hint}")
