"""`release gc`."""

from __future__ import annotations

import click

from releasemgr.cli.context import app_ctx, command
from releasemgr.errors import OperationFailed
from releasemgr.release.gc import gc as run_gc


@command("gc")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@click.option("--region", "regions", multiple=True, metavar="REGION",
              help="Where to look (repeatable). Default: [aws] regions, the regions of recorded AMIs, AWS_REGION.")
@click.option("--include-unknown", is_flag=True,
              help="Also remove resources tagged by builds this ledger does not know.")
def gc(dry_run, regions, include_unknown):
    """Remove what dead builds left behind in AWS (instances, key pairs, security groups,
    AMIs and snapshots), found by the tags every build puts on what it creates.

    A build is dead when it failed or was cancelled, or its process is gone (killed). Running
    builds and the AMIs of versions are never touched. A ledger without AWS builds or AMIs (and
    no [aws] settings or --region) has nothing there: gc says so without asking AWS.

    \b
    Example:
      release gc --dry-run
      release gc --region us-east-1 --region us-west-2 --json
    """
    app = app_ctx()
    doc = run_gc(app.ledger, app.config, actor=app.actor, dry_run=dry_run, region=list(regions),
                 include_unknown=include_unknown, say=app.ui.info)

    def text(d):
        rows = [[x["region"], x["kind"], x["id"], x["build_id"][:8], x["reason"]] for x in d["leftovers"]]
        if not d["aws"]:
            out = "nothing to collect: no AWS builds in this ledger"
        elif not rows:
            out = "nothing left behind"
        else:
            out = app.ui.table(["region", "kind", "id", "build", "reason"], rows,
                               title="would remove:" if d["dry_run"] else "removed:")
        if d["skipped"]:
            out += f"\n{len(d['skipped'])} resource(s) skipped (running builds or unknown builds; see --json)"
        return out

    app.ui.emit(doc, text)
    if doc["failed"]:
        raise OperationFailed(f"{len(doc['failed'])} resource(s) could not be removed: "
                              + "; ".join(f"{k}: {v}" for k, v in doc["failed"].items()))
