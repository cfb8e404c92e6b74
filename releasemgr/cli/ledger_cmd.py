"""`release ledger info|upgrade`."""

from __future__ import annotations

import click

from releasemgr.cli.context import CONTEXT_SETTINGS, app_ctx, global_options


@click.group(context_settings=CONTEXT_SETTINGS)
@global_options
def ledger():
    """Inspect and upgrade the ledger database.

    \b
    Example:
      release ledger info
      release ledger upgrade --ledger postgresql://ci@db/release
    """


@ledger.command("info", context_settings=CONTEXT_SETTINGS)
@global_options
def info():
    """Show where the ledger is, its schema revision and its size.

    \b
    Example:
      release ledger info --json
    """
    app = app_ctx()
    doc = app.ledger.info()
    app.ui.emit(doc, lambda d: "\n".join(f"{k}: {v}" for k, v in d.items()))


@ledger.command("upgrade", context_settings=CONTEXT_SETTINGS)
@global_options
def upgrade():
    """Apply pending schema migrations (opening a ledger also does this).

    \b
    Example:
      release ledger upgrade
    """
    from releasemgr.ledger import migrate

    app = app_ctx()
    applied = migrate.upgrade(app.config.ledger_url, app.config.environment_names)
    app.ui.emit({"applied": applied, "schema": migrate.HEAD},
                lambda d: f"ledger upgraded to {d['schema']} ({', '.join(d['applied'])})" if d["applied"]
                else f"ledger already at {d['schema']}")
