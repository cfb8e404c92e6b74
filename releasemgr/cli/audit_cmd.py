"""`release audit` and `release audit verify`."""

from __future__ import annotations

import click

from releasemgr.cli import complete
from releasemgr.cli.context import CONTEXT_SETTINGS, LIMIT, app_ctx, global_options, subcommand
from releasemgr.release import audit_report
from releasemgr.errors import OperationFailed


@click.group(invoke_without_command=True, context_settings=CONTEXT_SETTINGS)
@global_options(exclude=("actor",))
@click.option("--since", metavar="WHEN",
              help="From this time: 2026-11-01, 2026-11-01T12:00Z, or an age ago: 7d, 12h, 1d12h, 1y.")
@click.option("--until", metavar="WHEN", help="Before this time (a date includes that whole day).")
@click.option("--env", "env", metavar="ENV", shell_complete=complete.environment_names,
              help="Only events of this environment.")
@click.option("--image", metavar="IMAGE", shell_complete=complete.image_names, help="Only events of this image.")
@click.option("--actor", "who", metavar="NAME", help="Only events by this actor.")
@click.option("--action", metavar="ACTION", help="Only this action (promote, rollback, version, version.revoked...).")
@click.option("--ticket", metavar="ID", help="Only events under this ticket.")
@click.option("--limit", type=LIMIT, help="Only the newest N events.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default=None,
              help="Output format (default table; --json means json).")
@click.pass_context
def audit(ctx, since, until, env, image, who, action, ticket, limit, fmt):
    """Who changed what, when, under which ticket: query the audit log.

    Every change (version created, promote, rollback, revoke, policy override, ...) is an
    append-only, hash-chained event; `release audit verify` checks the chain.

    \b
    Example:
      release audit --env prod --since 2026-10-01 --format csv > prod-changes.csv
      release audit verify
    """
    if ctx.invoked_subcommand is not None:
        return
    import json

    app = app_ctx()
    events = audit_report.query(app.ledger, since=since, until=until, env=env, image=image, actor=who,
                                action=action, ticket=ticket, limit=limit)
    fmt = fmt or ("json" if app.settings.json else "table")
    if fmt == "json":  # exact values (JSON escapes control characters itself)
        app.ui.out(json.dumps({"events": events}, indent=2))
    elif fmt == "csv":  # exact values, RFC 4180 quoting
        app.ui.stdout.write(app.ui.mask(audit_report.to_csv(events)))
    else:
        if not events:
            app.ui.out("no audit events match")
            return
        # Ui.table escapes control characters: a crafted reason cannot draw a row of its own
        app.ui.out(app.ui.table(["seq", "at", "actor", "action", "image", "version", "env", "ticket", "reason"],
                                [[e["seq"], e["at"][:19], e["actor"], e["action"], e["image"], e["version"],
                                  e["env"], e["ticket"], e["reason"]] for e in events]))


@subcommand(audit, "verify")
@click.option("--reanchor", is_flag=True,
              help="After a deliberate restore of a SQLite ledger: accept its chain as the new head (audited).")
@click.option("--reason", metavar="TEXT", help="Why (with --reanchor): which backup, which ticket.")
@click.option("--ticket", metavar="ID", help="Change ticket (with --reanchor).")
def verify(reanchor, reason, ticket):
    """Recompute the hash chain and check the rows it covers (channel pointers and their
    history) and, on SQLite, the head file beside the ledger; name the first event or row
    that does not match (exit 1).

    \b
    Example:
      release audit verify --json
      release audit verify --reanchor --reason "restored ledger.db from the 02:00 backup (INC-9)"
    """
    app = app_ctx()
    if reanchor:
        result, event = audit_report.reanchor(app.ledger, actor=app.actor, reason=reason, ticket=ticket)
        if event is not None:
            doc = {**result.to_json(), "reanchored": True, "head": f"{event['seq']}:{event['hash']}",
                   "events": event["seq"]}
            app.ui.emit(doc, lambda d: f"audit chain OK: {d['events']} events; head file re-anchored at {d['head']}")
            return
    else:
        result = audit_report.verify(app.ledger)
        if result.ok:
            app.ui.emit(result.to_json(),
                        lambda d: f"audit chain OK: {d['events']} events, head {d['head'] or '-'}")
            return
    if result.adoptable:
        where = "audit check failed"
        hint = ("the chain's events verify; run `release ledger upgrade`: it records what this ledger had before "
                "the chain covered its rows (one audited `audit.adopted` event), then verify again")
    elif result.table:
        where = "audit check failed"
        hint = "the chain's events verify; this row was changed outside `release`"
    elif result.first_bad_seq is None:
        where, hint = "audit check failed", f"{result.events} events verify"
    else:
        ev = result.event or {}
        what = f" ({ev.get('action')} at {ev.get('at')} by {ev.get('actor')})" if ev else ""
        where, hint = f"audit chain broken at event {result.first_bad_seq}{what}", \
            f"{result.events} events before it verify"
    raise OperationFailed(f"{where}: {result.problem}", hint=hint, **result.to_json())
