"""`release policy show|apply`: the environments and rules in force are ledger state."""

from __future__ import annotations

import click

from releasemgr.cli.context import CONTEXT_SETTINGS, app_ctx, global_options, subcommand
from releasemgr.release import policy as policy_mod


@click.group(context_settings=CONTEXT_SETTINGS)
@global_options
def policy():
    """Show the environments and rules in force; make release.toml's the ones in force.

    The policy lives in the ledger: a new ledger records release.toml's; afterwards a changed
    release.toml takes effect only through `release policy apply` (audited as
    `policy.applied`). Until then every command enforces the ledger's policy and warns that
    release.toml differs.

    \b
    Example:
      release policy show
      release policy apply --dry-run
      release policy apply
    """


def _show_text(d: dict) -> str:
    import json

    lines = []
    for e in d["environments"]:
        lines.append(e["name"])
        for key, value in e.items():
            if key != "name" and value not in (None, "", [], False):
                lines.append(f"  {key} = {json.dumps(value)}")
    return "\n".join(lines) or "no policy recorded yet"


@subcommand(policy, "show")
def show():
    """Print the environments and their rules as the ledger has them in force.

    \b
    Example:
      release policy show --json
    """
    app = app_ctx()
    app.ui.emit(policy_mod.show(app.ledger), _show_text)


@subcommand(policy, "apply")
@click.option("--dry-run", is_flag=True, help="Show the difference and change nothing.")
def apply(dry_run):
    """Make release.toml's environments and rules the policy in force (audited).

    Shows the difference (+ added environment, - removed, ~ changed rule); an environment
    removed from release.toml is retired (its history stays). The change is one audit
    event, `policy.applied`, with the difference in its details. On a ledger whose policy
    rows were removed, this records release.toml's again (`policy_was_missing` in the event).

    \b
    Example:
      release policy apply --dry-run
      release policy apply --json
    """
    app = app_ctx()
    doc = policy_mod.apply(app.ledger, app.config, actor=app.actor, dry_run=dry_run)

    def text(d):
        if not d["diff"]:
            return "release.toml and the policy in force are the same; nothing to apply"
        head = "would apply (dry run):" if d["dry_run"] else "applied:"
        if d["policy_was_missing"]:
            head = head[:-1] + " (the ledger's policy was missing: recorded again from release.toml):"
        return head + "\n" + policy_mod.diff_text(d["diff"])

    app.ui.emit(doc, text)
