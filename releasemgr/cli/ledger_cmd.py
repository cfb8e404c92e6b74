"""`release ledger init|info|upgrade`."""

from __future__ import annotations

import json

import click

from releasemgr.cli.context import CONTEXT_SETTINGS, app_ctx, global_options, subcommand
from releasemgr.ledger import db as ledger_db, migrate
from releasemgr.ledger.db import check_can_create, safe_url
from releasemgr.release import policy


@click.group(context_settings=CONTEXT_SETTINGS)
@global_options
def ledger():
    """Create, inspect and upgrade the ledger database.

    \b
    Example:
      release ledger init
      release ledger info
      release ledger upgrade --ledger postgresql://ci@db/release
    """


@subcommand(ledger, "init")
def init():
    """Create the ledger (schema and environments) where there is none yet.

    Only `ledger init`, `ledger upgrade`, `build` and `register` create a ledger; every other
    command on a missing one exits 4. On an existing ledger this changes nothing.

    \b
    Example:
      release ledger init --ledger sqlite:///state/ledger.db
    """
    app = app_ctx()
    led = app.ledger
    app.ui.emit({"url": safe_url(led.url), "created": led.created, "schema": migrate.HEAD},
                lambda d: None if d["created"] else f"ledger {d['url']} exists already (schema {d['schema']})")


@subcommand(ledger, "info")
def info():
    """Show where the ledger is, its schema revision and its size.

    \b
    Example:
      release ledger info --json
    """
    app = app_ctx()
    doc = app.ledger.info()
    app.ui.emit(doc, lambda d: "\n".join(f"{k}: {v}" for k, v in d.items()))


@subcommand(ledger, "upgrade")
def upgrade():
    """Apply pending schema migrations (opening a ledger also does this).

    On a ledger written by a release older than the covered rows of the audit chain, it also
    records the rows that have no audit event yet, as found, in one `audit.adopted` event
    (once per ledger), so that `release audit verify` passes and checks them from then on.

    \b
    Example:
      release ledger upgrade
    """
    app = app_ctx()
    check_can_create(app.config.ledger_url)
    done = ledger_db.upgrade(app.config.ledger_url, policy.wanted(app.config), actor=app.actor)
    if done.applied and done.applied[0] == "0001":  # the first revision: the ledger was made now
        app.announce_created(app.config.ledger_url)
    ev = done.adopted
    adopted = None if ev is None else {"seq": ev["seq"], "rows": json.loads(ev["details"])["rows"]}
    app.ui.emit({"applied": done.applied, "schema": migrate.HEAD, "adopted": adopted}, _upgrade_text)


def _upgrade_text(d: dict) -> str:
    lines = [f"ledger upgraded to {d['schema']} ({', '.join(d['applied'])})" if d["applied"]
             else f"ledger already at {d['schema']}"]
    if d["adopted"] is not None:
        rows = ", ".join(f"{n} {table}" for table, n in d["adopted"]["rows"].items())
        lines.append(f"recorded the rows written before the audit chain covered them (audit event "
                     f"{d['adopted']['seq']}, audit.adopted): " + (f"{rows} rows" if rows else "none lacked an event"))
    return "\n".join(lines)
