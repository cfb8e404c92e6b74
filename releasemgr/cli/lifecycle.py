"""Commands of the release lifecycle: register, images, versions, show, approve, promote,
rollback, revoke, unrevoke, history, status."""

from __future__ import annotations

import click

from releasemgr.cli.context import app_ctx, command


def _artifacts_text(doc: dict) -> str:
    return ", ".join(f"{a['provider']}:{a['region']}:{a['id']}" if a["region"] else f"{a['provider']}:{a['id']}"
                     for a in doc["artifacts"])


def _version_text(doc: dict) -> str:
    label = f"{doc['image']}@{doc['version']}" + (f" ({doc['semver']})" if doc.get("semver") else "")
    lines = [f"{label}  {doc['status']}"]
    for key in ("created_at", "created_by", "origin", "build_id", "template_digest", "git_commit", "parent"):
        if doc.get(key):
            lines.append(f"  {key.replace('_', ' ')}: {doc[key]}")
    if doc.get("environments") is not None:
        lines.append(f"  current in: {', '.join(doc['environments']) or '-'}")
    if doc.get("revoked"):
        r = doc["revoked"]
        lines.append(f"  revoked: {r['at']} by {r['by']}: {r['reason']}")
    lines.append("  artifacts:")
    for a in doc["artifacts"]:
        where = f"{a['provider']}:{a['region']}" if a["region"] else a["provider"]
        deleted = f" (deleted {a['deleted_at']})" if a.get("deleted_at") else ""
        lines.append(f"    {where}  {a['id']}{deleted}")
    if doc.get("approvals"):
        lines.append("  approvals:")
        for env, items in doc["approvals"].items():
            for a in items:
                state = f"used {a['used_at'][:19]} by {a['used_by']}" if a["used"] else a["state"]
                extra = "".join(f"  {k} {a[k]}" for k in ("ticket", "reason") if a.get(k))
                lines.append(f"    {env}  {a['approver']}  {a['at'][:19]}  {state}{extra}")
    return "\n".join(lines)


@command()
@click.argument("image")
@click.option("--artifact", "artifacts", multiple=True, metavar="PROVIDER:REGION:ID",
              help="An artifact of the version (repeat for several regions).")
@click.option("--from-manifest", "manifest", metavar="FILE", help="Read the artifacts from a Packer manifest.json.")
@click.option("--version", "semver", metavar="SEMVER", help="Semantic version to record (unique per image).")
@click.option("--bump", type=click.Choice(["major", "minor", "patch"]), help="Next semantic version from the newest.")
def register(image, artifacts, manifest, semver, bump):
    """Record a new version of IMAGE from artifacts that already exist.

    The version number (v1, v2, ...) is assigned by the ledger and never reused.

    \b
    Example:
      release register web --artifact aws:us-east-1:ami-0abc123 --artifact aws:us-west-2:ami-0def456
      release register web --from-manifest manifest.json --bump minor
    """
    from releasemgr.errors import UsageError
    from releasemgr.release import lifecycle

    app = app_ctx()
    if bool(artifacts) == bool(manifest):
        raise UsageError("give --artifact PROVIDER:REGION:ID (one or more) or --from-manifest FILE")
    details = {}
    if manifest:
        specs, details = lifecycle.artifacts_from_manifest(manifest)
        origin = "manifest"
    else:
        specs, origin = [lifecycle.parse_artifact(a) for a in artifacts], "register"
    doc = lifecycle.register(app.ledger, image, specs, actor=app.actor, semver=semver, bump=bump,
                             origin=origin, details=details)
    app.ui.emit(doc, lambda d: f"registered {d['image']}@{d['version']}"
                + (f" ({d['semver']})" if d["semver"] else "") + f": {_artifacts_text(d)}")


@command()
def images():
    """List images with their number of versions and the newest.

    \b
    Example:
      release images --json
    """
    from releasemgr.release import queries

    app = app_ctx()
    rows = queries.list_images(app.ledger)
    app.ui.emit({"images": rows}, lambda d: app.ui.table(
        ["image", "versions", "latest", "semver", "created"],
        [[r["image"], r["versions"], r["latest"], r["latest_semver"], r["created_at"][:19]] for r in d["images"]])
        if d["images"] else "no images yet: `release register` or `release build` makes the first")


@command()
@click.argument("image")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N versions.")
def versions(image, limit):
    """List the versions of IMAGE, newest first, with where each is current.

    \b
    Example:
      release versions web --limit 10
    """
    from releasemgr.release import queries

    app = app_ctx()
    doc = queries.list_versions(app.ledger, image, limit=limit)
    app.ui.emit(doc, lambda d: app.ui.table(
        ["version", "semver", "status", "current in", "created", "by", "artifacts"],
        [[v["version"], v["semver"], v["status"], ",".join(v["environments"]), v["created_at"][:19],
          v["created_by"], _artifacts_text(v)] for v in d["versions"]]))


@command()
@click.argument("ref")
def show(ref):
    """Show one version: REF is web@v3, web@3, web@1.4.0, web@prod or web@latest.

    \b
    Example:
      release show web@prod --json
    """
    from releasemgr.release import queries

    app = app_ctx()
    app.ui.emit(queries.show(app.ledger, ref), _version_text)


def _no_approved_by(ctx, param, value):
    if value:
        from releasemgr.errors import UsageError

        raise UsageError("--approved-by is gone: approvals are recorded acts",
                         hint="each approver runs `release approve REF --env ENV` under their own identity")


def _policy_options(f):
    f = click.option("--approved-by", multiple=True, hidden=True, expose_value=False, callback=_no_approved_by)(f)
    f = click.option("--override", is_flag=True,
                     help="Pass an order or freeze rule anyway (needs --reason; audited). Never approvals.")(f)
    f = click.option("--reason", metavar="TEXT", help="Why (recorded in history and audit).")(f)
    f = click.option("--ticket", metavar="ID", help="Change ticket, e.g. CHG-1234.")(f)
    return f


@command()
@click.argument("ref")
@click.option("--env", "env", required=True, metavar="ENV", help="The environment the approval is for.")
@click.option("--ticket", metavar="ID", help="Change ticket, e.g. CHG-1234.")
@click.option("--reason", metavar="TEXT", help="Why (recorded with the approval and in the audit log).")
def approve(ref, env, ticket, reason):
    """Record your approval of the version REF for ENV (an environment with `approvals = N`).

    The approval is yours: it is recorded under your identity (--actor / RELEASE_ACTOR, else
    the OS account), counts once however it is spelled, never for your own promotion, is
    used up by the promotion it allowed, and lapses after the environment's approval_ttl
    (default 7 days). Audited as `approval.recorded`.

    \b
    Example:
      release approve web@v3 --env prod --ticket CHG-42
      RELEASE_ACTOR=bob release approve web@v3 --env prod --reason "reviewed the diff"
    """
    from releasemgr.release import approvals

    app = app_ctx()
    doc = approvals.record(app.ledger, app.config, ref, env, actor=app.actor, ticket=ticket, reason=reason)
    app.ui.emit(doc, lambda d: f"approved {d['image']}@{d['version']} for {d['env']} as {d['approver']}, valid until "
                f"{d['expires_at']}\n  valid approvals now: {', '.join(d['valid_approvers'])} ({d['env']} needs "
                f"{d['required']}, never the promoter's own)")


def _move_text(d: dict) -> str:
    if not d["changed"]:
        return f"{d['image']}@{d['version']} is already current in {d['env']}; nothing changed"
    verb = "promoted" if d["action"] == "promote" else "rolled back"
    frm = f" (was {d['from']})" if d["from"] else ""
    over = f" [policy overridden: {', '.join(d['override'])}]" if d["override"] else ""
    if d["action"] == "promote":
        return f"{verb} {d['image']}@{d['version']} to {d['env']}{frm}{over}"
    return f"{verb} {d['image']} in {d['env']} to {d['version']}{frm}{over}"


def _deploy_options(f):
    f = click.option("--lock-timeout", type=click.FloatRange(min=0), default=0.0, metavar="SECONDS",
                     help="With --deploy: wait this long for the environment's lock, then refuse.")(f)
    f = click.option("--deploy", "do_deploy", is_flag=True,
                     help="Also move the servers (as `release deploy`); default: auto_deploy of the environment.")(f)
    return f


def _move_deploy_text(d: dict) -> str:
    text = _move_text(d)
    if d.get("deployment"):
        from releasemgr.cli.fleet_cmds import deploy_text

        text += "\n" + deploy_text(d["deployment"])
    return text


@command()
@click.argument("ref")
@click.option("--to", "to", required=True, metavar="ENV", help="The environment.")
@_policy_options
@_deploy_options
def promote(ref, to, ticket, reason, override, do_deploy, lock_timeout):
    """Make the version REF current in an environment, if its policy allows.

    Rules per environment (the policy in force in the ledger: release policy show):
    requires (been in an earlier environment), require_ticket, approvals (recorded with
    `release approve` by others than the promoter; used up by this promotion), freeze
    windows; revoked versions are refused. --override lifts order, ticket and freeze rules,
    never approvals.

    \b
    Example:
      release promote web@v3 --to staging
      release approve web@v3 --env prod --actor bob    # bob, beforehand
      release promote web@v3 --to prod --ticket CHG-42
      release promote web@v3 --to staging --deploy
    """
    from releasemgr.release import lifecycle

    app = app_ctx()
    doc = lifecycle.promote_and_deploy(app.ledger, app.config, ref, to, actor=app.actor, deploy=do_deploy,
                                       lock_timeout=lock_timeout, progress=app.ui.info, override=override,
                                       ticket=ticket, reason=reason)
    app.ui.emit(doc, _move_deploy_text)


@command()
@click.argument("image")
@click.option("--env", "env", required=True, metavar="ENV", help="The environment.")
@click.option("--to", "to", metavar="REF", help="Version to go back to (default: the previous good one).")
@_policy_options
@_deploy_options
def rollback(image, env, to, ticket, reason, override, do_deploy, lock_timeout):
    """Move IMAGE in ENV back to the version that was current before (skipping revoked ones).

    Repeated rollbacks keep walking back. The environment's ticket and freeze rules apply
    (--override --reason lifts freeze in an emergency). A rollback to a version that was
    healthy in ENV before needs no approvals; to any other, approvals apply as to a promotion.

    \b
    Example:
      release rollback web --env prod --ticket CHG-43 --reason "5xx after v4"
      release rollback web --env prod --to web@v2
      release rollback web --env prod --deploy   # servers too; instant if the old set still runs
    """
    from releasemgr.release import lifecycle

    app = app_ctx()
    doc = lifecycle.rollback_and_deploy(app.ledger, app.config, image, env, actor=app.actor, deploy=do_deploy,
                                        lock_timeout=lock_timeout, progress=app.ui.info, override=override, to=to,
                                        ticket=ticket, reason=reason)
    app.ui.emit(doc, _move_deploy_text)


@command()
@click.argument("ref")
@click.option("--reason", required=True, metavar="TEXT", help="Why it must not be used.")
@click.option("--ticket", metavar="ID", help="Change ticket.")
@click.option("--rollback", "do_rollback", is_flag=True,
              help="Also roll back every environment where it is current.")
def revoke(ref, reason, ticket, do_rollback):
    """Mark a version as revoked: it can no longer be promoted or deployed.

    Revoking never moves a pointer by itself: `status` warns where a revoked version is
    still current; --rollback moves each such environment back, as audited rollbacks.

    \b
    Example:
      release revoke web@v4 --reason "CVE-2026-1234 in openssl" --rollback
    """
    from releasemgr.release import lifecycle

    app = app_ctx()
    doc = lifecycle.revoke(app.ledger, app.config, ref, reason=reason, actor=app.actor, do_rollback=do_rollback,
                           ticket=ticket)

    def text(d):
        lines = [f"revoked {d['image']}@{d['version']}: {reason}"]
        lines += [f"  rolled back {r['env']} to {r['version']}" for r in d["rolled_back"]]
        if d["still_current_in"]:
            lines.append(f"  warning: still current in {', '.join(d['still_current_in'])}"
                         + ("" if do_rollback else " (use --rollback or `release rollback`)")
                         + (" (no previous good version)" if do_rollback else ""))
        return "\n".join(lines)

    app.ui.emit(doc, text)


@command()
@click.argument("ref")
@click.option("--reason", required=True, metavar="TEXT", help="Why the revocation is lifted.")
def unrevoke(ref, reason):
    """Lift the revocation of a version.

    \b
    Example:
      release unrevoke web@v4 --reason "false positive, see SEC-12"
    """
    from releasemgr.release import lifecycle

    app = app_ctx()
    doc = lifecycle.unrevoke(app.ledger, ref, reason=reason, actor=app.actor)
    app.ui.emit(doc, lambda d: f"unrevoked {d['image']}@{d['version']}")


@command()
@click.argument("image")
@click.option("--env", "env", metavar="ENV", help="Only this environment.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N moves.")
def history(image, env, limit):
    """Show how IMAGE's channel pointers moved (promotions and rollbacks), newest first.

    \b
    Example:
      release history web --env prod
    """
    from releasemgr.release import queries

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
@click.argument("image", required=False)
@click.option("--env", "env", metavar="ENV", help="Only this environment.")
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
    from releasemgr.release import queries

    app = app_ctx()
    doc = queries.status(app.ledger, app.config, image, env)
    if check:
        from releasemgr.release import drift

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
            from releasemgr.release import drift

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
