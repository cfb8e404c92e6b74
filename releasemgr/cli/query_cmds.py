"""Commands that read the ledger: images, versions, show, history, status (with --check, the
providers too). They import no use case that changes anything, so they start fast."""

from __future__ import annotations

import click

from releasemgr.cli import complete
from releasemgr.cli.context import LIMIT, app_ctx, command
from releasemgr.cli.render import artifacts_text, version_text
from releasemgr.release import drift, queries


@command()
def images():
    """List images with their number of versions and the newest.

    \b
    Example:
      release images --json
    """
    app = app_ctx()
    rows = queries.list_images(app.ledger)
    app.ui.emit({"images": rows}, lambda d: app.ui.table(
        ["image", "versions", "latest", "semver", "created"],
        [[r["image"], r["versions"], r["latest"], r["latest_semver"], r["created_at"][:19]] for r in d["images"]])
        if d["images"] else "no images yet: `release register` or `release build` makes the first")


@command()
@click.argument("image", shell_complete=complete.image_names)
@click.option("--limit", type=LIMIT, help="Only the newest N versions.")
def versions(image, limit):
    """List the versions of IMAGE, newest first, with where each is current.

    \b
    Example:
      release versions web --limit 10
    """
    app = app_ctx()
    doc = queries.list_versions(app.ledger, image, limit=limit)
    app.ui.emit(doc, lambda d: app.ui.table(
        ["version", "semver", "status", "current in", "created", "by", "artifacts"],
        [[v["version"], v["semver"], v["status"], ",".join(v["environments"]), v["created_at"][:19],
          v["created_by"], artifacts_text(v)] for v in d["versions"]]))


@command()
@click.argument("ref", shell_complete=complete.version_refs)
def show(ref):
    """Show one version: REF is web@v3, web@3, web@1.4.0, web@prod or web@latest.

    \b
    Example:
      release show web@prod --json
    """
    app = app_ctx()
    app.ui.emit(queries.show(app.ledger, ref), version_text)


@command()
@click.argument("image", shell_complete=complete.image_names)
@click.option("--env", "env", metavar="ENV", shell_complete=complete.environment_names,
              help="Only this environment.")
@click.option("--limit", type=LIMIT, help="Only the newest N moves.")
def history(image, env, limit):
    """Show how IMAGE's channel pointers moved (promotions and rollbacks), newest first.

    \b
    Example:
      release history web --env prod
    """
    app = app_ctx()
    doc = queries.history(app.ledger, image, env, limit)

    def text(d):
        if not d["history"]:
            return f"{d['image']} has not been promoted yet"
        approved = any(h["approved_by"] for h in d["history"])  # the column only where there are approvals
        return app.ui.table(
            ["at", "env", "action", "from", "to", "actor", "ticket", "reason"] + (["approved by"] if approved else []),
            [[h["at"][:19], h["env"], h["action"] + (" (override)" if h["override"] else ""), h["from"] or "-",
              h["to"], h["actor"], h["ticket"], h["reason"]] + ([", ".join(h["approved_by"])] if approved else [])
             for h in d["history"]])

    app.ui.emit(doc, text)


@command()
@click.argument("image", required=False, shell_complete=complete.image_names)
@click.option("--env", "env", metavar="ENV", shell_complete=complete.environment_names,
              help="Only this environment.")
@click.option("--check", "check", is_flag=True,
              help="Ask the providers: list servers with health and age, report drift (dead servers, servers "
                   "nobody recorded, servers of a version the environment no longer points at); exit 1 on drift.")
def status(image, env, check):
    """Show which version of each image is current in each environment.

    A revoked version that is still current is flagged. With --check, also every server
    with its version, health and age, and any drift (`release deploy` heals it).

    \b
    Example:
      release status
      release status web --env prod --json
      release status --check
    """
    app = app_ctx()
    doc = queries.status(app.ledger, app.config, image, env)
    if check:
        found = drift.check(app.ledger, app.config, image, env)
        doc.update(servers=found["servers"], drift=found["drift"])

    def text(d):
        cur = {(c["image"], c["env"]): c for c in d["channels"]}
        rows = []
        for img in d["images"]:
            row = [img]
            for e in d["environments"]:
                c = cur.get((img, e))
                row.append("-" if c is None else c["version"] + (" REVOKED" if c["revoked"] else ""))
            rows.append(row)
        if not rows:
            return "no images yet"
        out = app.ui.table(["image", *d["environments"]], rows)
        if d["warnings"]:
            out += "\n" + "\n".join(f"warning: {w}" for w in d["warnings"])
        if check:
            srv = d["servers"]
            out += "\n\n" + (app.ui.table(["env", "image", "version", "server", "address", "state", "health", "age"],
                                           [[x["env"], x["image"], x["version"], x["id"], x["address"] or "-",
                                             x["state"], x["health"], _age(x["age_seconds"])] for x in srv])
                              if srv else "no servers")
            out += "\n" + (drift.drift_text(d) if d["drift"] else "no drift")
        return out

    app.ui.emit(doc, text)
    if check and doc["drift"]:
        click.get_current_context().exit(1)


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
