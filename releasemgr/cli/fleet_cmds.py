"""Commands that change or show servers: deploy, servers, retire, prune."""

from __future__ import annotations

import click

from releasemgr.cli import complete
from releasemgr.cli.context import AT_LEAST_0, Duration, app_ctx, command
from releasemgr.cli.render import deploy_text
from releasemgr.common.durations import DurationError, seconds
from releasemgr.config import MAX_COUNT
from releasemgr.errors import UsageError
from releasemgr.release.deploy import run as deploy_mod
from releasemgr.release.queries import list_servers
from releasemgr.release.retire import retire as retire_fn
from releasemgr.release.retire import prune as prune_fn


def _lock_option(f):
    return click.option("--lock-timeout", type=Duration(), default=0.0, show_default=True,
                        metavar="SECONDS",
                        help="Wait this long for a deploy, rollback, retire or prune that holds the lock "
                             "to finish, then refuse (exit 1).")(f)


def run_deploy(app, image: str, env: str, *, cause: str = "deploy", hold_lock: bool = True, **kw) -> dict:
    """The deploy use case with the command's ledger, actor and progress."""
    return deploy_mod.deploy(app.ledger, app.config, image, env, actor=app.actor, progress=app.ui.progress,
                             cause=cause, hold_lock=hold_lock, **kw)


@command()
@click.argument("image", shell_complete=complete.image_names)
@click.option("--env", "env", required=True, metavar="ENV", shell_complete=complete.environment_names,
              help="The environment.")
@click.option("--version", "version", metavar="REF", shell_complete=complete.image_version_refs,
              help="Only as a check: the version ENV must point at (v3, web@v3, web@1.4.0); another is refused "
                   "(exit 3): move the pointer with `release promote REF --to ENV --deploy`.")
@click.option("--count", type=click.IntRange(min=1, max=MAX_COUNT),
              help="Number of servers. Default: [deploy.ENV] count, else as many as run now, else 1.")
@click.option("--strategy", type=click.Choice(["rolling", "blue-green"]), help="Default: [deploy.ENV] strategy, "
              "else the environment's last deploy's, else rolling.")
@click.option("--batch-size", type=click.IntRange(min=1, max=MAX_COUNT),
              help="Rolling: servers replaced at a time (default 1).")
@click.option("--max-unavailable", type=click.IntRange(min=0, max=MAX_COUNT),
              help="Rolling: old servers that may stop before their replacements are healthy (default 0).")
@click.option("--health-timeout", metavar="DURATION", help="How long new servers may take to become healthy "
              "(30, 30s, 2m, 1m30s). Default: the image's health_check timeout, else 30s.")
@click.option("--retire-old", is_flag=True, default=None,
              help="Blue-green: stop the old set right after the switch instead of keeping it for rollback.")
@click.option("--dry-run", is_flag=True, help="Show what would start and stop; change nothing.")
@_lock_option
def deploy(image, env, version, count, strategy, batch_size, max_unavailable, health_timeout, retire_old,
           dry_run, lock_timeout):
    """Bring IMAGE's servers in ENV to the version ENV points at, replacing servers instead of changing them.

    Servers follow the pointer: to run another version, move the pointer under ENV's
    policy (`release promote IMAGE@vN --to ENV --deploy`, `release rollback --deploy`).
    rolling replaces --batch-size servers at a time and never has fewer than
    count - max_unavailable healthy servers; blue-green starts the whole new set, checks
    it, switches the route, and keeps the old set until `release retire`. When the
    environment still runs a full set of the target version (after a rollback), the route
    switches back to it without starting anything. If new servers do not become healthy in
    time, everything this deployment started is removed, the old servers keep serving, and
    the command exits 1. Also heals drift: dead servers are replaced, unrecorded ones stopped.

    \b
    Example:
      release deploy web --env prod
      release deploy web --env prod --strategy blue-green --count 4
      release promote web@v4 --to prod --deploy    # another version: move the pointer
      release deploy web --env staging --count 6 --batch-size 2 --max-unavailable 1 --dry-run
    """
    app = app_ctx()
    try:
        timeout = seconds(health_timeout)
    except DurationError as exc:
        raise UsageError(f"--health-timeout: {exc}") from None
    doc = run_deploy(app, image, env, version=version, count=count, strategy=strategy, batch_size=batch_size,
                     max_unavailable=max_unavailable, health_timeout=timeout, retire_old=retire_old,
                     dry_run=dry_run, lock_timeout=lock_timeout)
    app.ui.result(doc, deploy_text)


@command()
@click.argument("image", shell_complete=complete.image_names)
@click.option("--env", "env", metavar="ENV", shell_complete=complete.environment_names,
              help="Only this environment.")
@click.option("--all", "all_states", is_flag=True, help="Also retired and failed servers.")
def servers(image, env, all_states):
    """List the servers of IMAGE (in ENV): id, version, address, state, pid, launch time.

    States: pending, healthy (in the route), standby (a blue-green set kept for rollback),
    draining, unhealthy, and with --all retired and failed.

    \b
    Example:
      release servers web --env prod
      release servers web --env prod --json | jq -r '.servers[].address'
    """
    app = app_ctx()
    doc = list_servers(app.ledger, app.config, image, env, all_states=all_states)
    app.ui.emit(doc, lambda d: app.ui.table(
        ["id", "env", "version", "address", "state", "pid", "launched"],
        [[x["id"], x["env"], x["version"], x["address"] or "-", x["state"], x["pid"], x["launched_at"][:19]]
         for x in d["servers"]]) if d["servers"] else f"no servers of {image}" + (f" in {env}" if env else ""))


@command()
@click.argument("image", shell_complete=complete.image_names)
@click.option("--env", "env", required=True, metavar="ENV", shell_complete=complete.environment_names,
              help="The environment.")
@click.option("--older-than", metavar="REF", help="Only servers of versions older than this one (v3, web@v3). "
              "Default: every version but the current one.")
@click.option("--keep-previous", type=AT_LEAST_0, default=0, show_default=True,
              help="Keep the servers of the N newest other versions (for an instant rollback).")
@click.option("--dry-run", is_flag=True, help="Show what would stop; change nothing.")
@_lock_option
def retire(image, env, older_than, keep_previous, dry_run, lock_timeout):
    """Stop the servers of IMAGE in ENV that were built from other versions than the current one.

    That is older versions' servers, and a blue-green set a rollback left standing by;
    --older-than limits it to versions older than REF. Never stops the current version's
    servers and refuses (exit 3) to leave the environment without healthy servers.

    \b
    Example:
      release retire web --env prod --dry-run
      release retire web --env prod --keep-previous 1
    """
    app = app_ctx()
    doc = retire_fn(app.ledger, app.config, image, env, actor=app.actor, older_than=older_than,
                    keep_previous=keep_previous, dry_run=dry_run, lock_timeout=lock_timeout, progress=app.ui.progress)

    def text(d):
        kept = d.get("kept", [])
        if not d["retire"]:
            if not kept:
                return f"nothing to retire: {image} in {env} runs no servers of other versions than {d['current']}"
            lines = [f"nothing to retire: {image} in {env} keeps the {len(kept)} server(s) it runs of other "
                     f"versions than {d['current']}:"]
        else:
            verb = "would stop" if d["dry_run"] else "stopped"
            lines = [f"{verb} {len(d['retire'])} server(s) of {image} in {env} (current {d['current']}):"]
            lines += [f"  {x['id']}  {x['version']}  {x['address'] or '-'}" for x in d["retire"]]
            if kept:
                lines.append(f"{'would keep' if d['dry_run'] else 'kept'} {len(kept)} server(s) of other versions:")
        lines += [f"  {x['id']}  {x['version']}  {x['address'] or '-'}  {x['state']}: {x['why']}" for x in kept]
        lines += [f"warning: {w}" for w in d.get("warnings", [])]
        return "\n".join(lines)

    app.ui.emit(doc, text)


@command()
@click.argument("image", shell_complete=complete.image_names)
@click.option("--keep", type=AT_LEAST_0, help="Keep the N newest versions' artifacts.")
@click.option("--older-than", metavar="AGE", help="Only versions older than this (14d, 2w, 1y, 36h, 1d12h).")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@_lock_option
def prune(image, keep, older_than, dry_run, lock_timeout):
    """Delete the artifacts of IMAGE's old versions that nothing uses.

    Never deleted: versions current in an environment, rollback targets, versions that
    run servers. Version rows stay for the audit (their artifacts are marked deleted). An
    image another remaining version references (images are stored by content) stays in its
    store; it is listed as kept, with why.
    Without --keep/--older-than the [retention] rules of release.toml apply. It holds the
    lock of every environment of IMAGE while it decides and deletes, so no deploy starts
    servers from an image being deleted.

    \b
    Example:
      release prune web --keep 5 --dry-run
      release prune web            # apply [retention] from release.toml
    """
    app = app_ctx()
    doc = prune_fn(app.ledger, app.config, image, actor=app.actor, keep=keep, older_than=older_than,
                   dry_run=dry_run, lock_timeout=lock_timeout, progress=app.ui.progress)

    def text(d):
        verb = "would delete" if d["dry_run"] else "deleted"
        lines = [f"{verb} the artifacts of {v['version']}: {', '.join(v['artifacts'])}" for v in d["pruned"]]
        if not lines:
            lines = [f"nothing to prune for {image}"]
        lines += [f"  kept {k['version']}: {k['why']}" for k in d["kept"]]
        lines += [f"  kept {k['artifact']} (pruned from {k['version']} only): {k['why']}" for k in d["shared"]]
        lines += [f"warning: {s['version']}: {s['why']}: {', '.join(s['artifacts'])}" for s in d["skipped"]]
        return "\n".join(lines)

    app.ui.emit(doc, text)
