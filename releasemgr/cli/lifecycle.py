"""Commands that change the release lifecycle: register, approve, promote, rollback, revoke,
unrevoke (the read commands are in `query_cmds`)."""

from __future__ import annotations

import click

from releasemgr.cli import complete
from releasemgr.cli.context import Duration, app_ctx, command
from releasemgr.cli.render import artifacts_text, deploy_text
from releasemgr.errors import UsageError
from releasemgr.release import approvals, lifecycle


@command()
@click.argument("image", shell_complete=complete.image_names)
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
                + (f" ({d['semver']})" if d["semver"] else "") + f": {artifacts_text(d)}")


def _no_approved_by(ctx, param, value):
    if value:
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
@click.argument("ref", shell_complete=complete.version_refs)
@click.option("--env", "env", required=True, metavar="ENV", shell_complete=complete.environment_names,
              help="The environment the approval is for.")
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
    skipped = "".join(f"\n  skipped {d['image']}@{s['version']}: {s['why']}" for s in d.get("skipped") or [])
    return f"{verb} {d['image']} in {d['env']} to {d['version']}{frm}{over}{skipped}"


def _deploy_options(f):
    f = click.option("--lock-timeout", type=Duration(), default=0.0, metavar="SECONDS",
                     help="With --deploy: wait this long for the environment's lock, then refuse.")(f)
    f = click.option("--deploy", "do_deploy", is_flag=True,
                     help="Also move the servers (as `release deploy`); default: auto_deploy of the environment.")(f)
    return f


def _move_deploy_text(d: dict) -> str:
    text = _move_text(d)
    if d.get("deployment"):
        text += "\n" + deploy_text(d["deployment"])
    return text


@command()
@click.argument("ref", shell_complete=complete.version_refs)
@click.option("--to", "to", required=True, metavar="ENV", shell_complete=complete.environment_names,
              help="The environment.")
@_policy_options
@_deploy_options
def promote(ref, to, ticket, reason, override, do_deploy, lock_timeout):
    """Make the version REF current in an environment, if its policy allows.

    Rules per environment (the policy in force in the ledger: release policy show):
    requires (been in an earlier environment), require_ticket, approvals (recorded with
    `release approve` by others than the promoter; used up by this promotion), freeze
    windows; revoked and pruned versions are refused. --override lifts order, ticket and
    freeze rules, never approvals. With --deploy (or the environment's auto_deploy) the
    servers follow: if they do not become healthy, the pointer goes back where it was (an
    audited rollback, reason "deploy failed: ...") and the command exits 1.

    \b
    Example:
      release promote web@v3 --to staging
      release approve web@v3 --env prod --actor bob    # bob, beforehand
      release promote web@v3 --to prod --ticket CHG-42
      release promote web@v3 --to staging --deploy
    """
    app = app_ctx()
    doc = lifecycle.promote_and_deploy(app.ledger, app.config, ref, to, actor=app.actor, deploy=do_deploy,
                                       lock_timeout=lock_timeout, progress=app.ui.progress, override=override,
                                       ticket=ticket, reason=reason)
    app.ui.result(doc, _move_deploy_text)


@command()
@click.argument("image", shell_complete=complete.image_names)
@click.option("--env", "env", required=True, metavar="ENV", shell_complete=complete.environment_names,
              help="The environment.")
@click.option("--to", "to", metavar="REF", shell_complete=complete.image_version_refs,
              help="Version to go back to (default: the previous good one).")
@_policy_options
@_deploy_options
def rollback(image, env, to, ticket, reason, override, do_deploy, lock_timeout):
    """Move IMAGE in ENV back to the newest earlier version that was good there.

    Good there: it reached healthy in ENV (a succeeded deployment there); where the image has
    no servers in ENV, it was current there without being rolled back from. Revoked versions
    and versions rolled back from are skipped, so repeated rollbacks keep walking back; the
    output says what was skipped and why. --to may name another version that was in ENV.
    The environment's ticket and freeze rules apply (--override --reason lifts freeze in an
    emergency). A rollback to a version that was good in ENV needs no approvals; to any
    other, approvals apply as to a promotion. With --deploy (or auto_deploy) a failed deploy
    puts the pointer back where it was (an audited rollback) and exits 1.

    \b
    Example:
      release rollback web --env prod --ticket CHG-43 --reason "5xx after v4"
      release rollback web --env prod --to web@v2
      release rollback web --env prod --deploy   # servers too; instant if the old set still runs
    """
    app = app_ctx()
    doc = lifecycle.rollback_and_deploy(app.ledger, app.config, image, env, actor=app.actor, deploy=do_deploy,
                                        lock_timeout=lock_timeout, progress=app.ui.progress, override=override, to=to,
                                        ticket=ticket, reason=reason)
    app.ui.result(doc, _move_deploy_text)


@command()
@click.argument("ref", shell_complete=complete.version_refs)
@click.option("--reason", required=True, metavar="TEXT", help="Why it must not be used.")
@click.option("--ticket", metavar="ID", help="Change ticket.")
@click.option("--rollback", "do_rollback", is_flag=True,
              help="Also roll back every environment where it is current.")
def revoke(ref, reason, ticket, do_rollback):
    """Mark a version as revoked: it can no longer be promoted or deployed.

    Revoking never moves a pointer by itself: `status` warns where a revoked version is
    still current; --rollback moves each such environment back, as audited rollbacks, and
    brings the servers back too where the environment runs servers or deploys
    automatically (exit 1 if they do not follow).

    \b
    Example:
      release revoke web@v4 --reason "CVE-2026-1234 in openssl" --rollback
    """
    app = app_ctx()
    doc = lifecycle.revoke(app.ledger, app.config, ref, reason=reason, actor=app.actor, do_rollback=do_rollback,
                           ticket=ticket)

    def text(d):
        lines = [f"revoked {d['image']}@{d['version']}: {reason}"]
        lines += [f"  rolled back {r['env']} to {r['version']}" for r in d["rolled_back"]]
        lines += [f"  deployed {x['version']} in {x['env']}: {x['status']}" for x in d.get("deployments", [])]
        if d["still_current_in"]:
            lines.append(f"  warning: still current in {', '.join(d['still_current_in'])}"
                         + ("" if do_rollback else " (use --rollback or `release rollback`)")
                         + (" (no previous good version)" if do_rollback else ""))
        return "\n".join(lines)

    app.ui.result(doc, text)


@command()
@click.argument("ref", shell_complete=complete.version_refs)
@click.option("--reason", required=True, metavar="TEXT", help="Why the revocation is lifted.")
def unrevoke(ref, reason):
    """Lift the revocation of a version.

    \b
    Example:
      release unrevoke web@v4 --reason "false positive, see SEC-12"
    """
    app = app_ctx()
    doc = lifecycle.unrevoke(app.ledger, ref, reason=reason, actor=app.actor)
    app.ui.emit(doc, lambda d: f"unrevoked {d['image']}@{d['version']}")


