"""Text renderings shared by several command modules (a command module imports no other)."""

from __future__ import annotations

from releasemgr.ui import escape_controls


def artifacts_text(doc: dict) -> str:
    return ", ".join(f"{a['provider']}:{a['region']}:{a['id']}" if a["region"] else f"{a['provider']}:{a['id']}"
                     for a in doc["artifacts"])


def version_text(doc: dict) -> str:
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
    # each line is one line: a reason, actor or artifact id with a newline cannot add one
    return "\n".join(escape_controls(line) for line in lines)


def deploy_text(d: dict) -> str:
    if d.get("strategy") == "auto-scaling-group":
        if d.get("dry_run"):
            return (f"dry run: {d['image']}@{d['version']} to {d['env']}: Auto Scaling group "
                    f"{d['auto_scaling_group']} would get a launch template version with {d['ami']}")
        return (f"deployed {d['image']}@{d['version']} to {d['env']}: Auto Scaling group {d['auto_scaling_group']} "
                f"now uses launch template version {d['launch_template_version']} ({d['ami']}); "
                f"replaced {len(d['replaced'])} instance(s), {len(d['instances'])} in service")
    if d.get("dry_run"):
        lines = [f"dry run: {d['image']}@{d['version']} to {d['env']} ({d['strategy']}, count {d['count']}, "
                 f"batch {d['batch_size']}, max unavailable {d['max_unavailable']})"]
        if d["instant"]:
            lines.append(f"  would switch the route to the running servers {', '.join(d['would_reuse'])}")
        else:
            lines.append(f"  would start {d['would_launch']} server(s)"
                         + (f", reuse {len(d['would_reuse'])}" if d["would_reuse"] else ""))
        if d["would_retire"]:
            lines.append(f"  would stop {', '.join(d['would_retire'])}")
        if d["would_standby"]:
            lines.append(f"  would keep standing by: {', '.join(d['would_standby'])}")
        return "\n".join(lines)
    how = "switched the route back to running servers" if d["instant"] else d["strategy"]
    lines = [f"deployed {d['image']}@{d['version']} to {d['env']}: {d['count']} server(s) ({how}, {d['seconds']}s)"]
    if d["launched"]:
        lines.append(f"  started: {len(d['launched'])}")
    if d["retired"]:
        lines.append(f"  stopped: {len(d['retired'])}")
    if d["standby"]:
        lines.append(f"  standing by for rollback: {len(d['standby'])} (`release retire {d['image']} --env "
                     f"{d['env']}` removes them)")
    if d["healed"]:
        lines.append(f"  healed drift: {', '.join(d['healed'])}")
    lines.append(f"  route: {' '.join(a for a in d['route'] if a) or '-'}")
    lines += [f"warning: {w}" for w in d["warnings"]]
    return "\n".join(lines)
