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
    from sqlalchemy import text

    from releasemgr.ledger import migrate
    from releasemgr.ledger.db import _safe

    app = app_ctx()
    led = app.ledger
    with led.engine.connect() as conn:  # plain counts: no ORM needed
        count = lambda table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: E731
        doc = {"url": _safe(led.url), "backend": led.engine.dialect.name,
               "schema": migrate.current_revision(conn), "schema_head": migrate.HEAD,
               "images": count("image"), "versions": count("version"), "audit_events": count("audit_event")}
    app.ui.emit(doc, lambda d: "\n".join(f"{k}: {v}" for k, v in d.items()))


@ledger.command("upgrade", context_settings=CONTEXT_SETTINGS)
@global_options
def upgrade():
    """Apply pending schema migrations (opening a ledger also does this).

    \b
    Example:
      release ledger upgrade
    """
    from releasemgr.config import load_config  # noqa: F401
    from releasemgr.ledger import migrate
    from releasemgr.ledger.db import Ledger

    app = app_ctx()
    from releasemgr.ledger.db import _make_engine, normalise_url

    url = normalise_url(app.config.ledger_url)
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    led = Ledger(_make_engine(url), url)
    try:
        applied = migrate.upgrade_to_head(led)
        led.sync_environments(app.config.environment_names)
    finally:
        led.close()
    app.ui.emit({"applied": applied, "schema": migrate.HEAD},
                lambda d: f"ledger upgraded to {d['schema']} ({', '.join(d['applied'])})" if d["applied"]
                else f"ledger already at {d['schema']}")
