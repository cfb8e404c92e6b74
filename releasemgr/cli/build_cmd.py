"""`release build`: a template -> a new immutable version."""

from __future__ import annotations

import click

from releasemgr.cli.context import app_ctx, command
from releasemgr.release.build import BuildRequest, run_build
from releasemgr.template.load import load_var_assignments
from releasemgr.errors import TemplateError


@command("build")
@click.argument("path", type=click.Path())
@click.option("--image", metavar="NAME", help="Image name (default: the build block's name, else the file's stem).")
@click.option("--build", "build_name", metavar="NAME", help="Which build block, when the template has several.")
@click.option("--var", "-var", "var_pairs", multiple=True, metavar="NAME=VALUE", help="Set a variable (repeatable).")
@click.option("--var-file", "-var-file", "var_files", multiple=True, metavar="FILE",
              help="A .pkrvars.hcl file of variable values (repeatable).")
@click.option("--only", "-only", "only", multiple=True, metavar="SOURCE",
              help="Build only these sources (e.g. local.web); repeatable or comma-separated.")
@click.option("--except", "-except", "except_", multiple=True, metavar="SOURCE", help="Skip these sources.")
@click.option("--force", "-force", is_flag=True, help="Build even if the newest version has the same template digest.")
@click.option("--on-error", "-on-error", "on_error", default="cleanup", show_default=True,
              type=click.Choice(["cleanup", "abort", "run-cleanup-provisioner"]),
              help="On failure: clean up everything (default), keep what exists (abort), or run the "
                   "error-cleanup-provisioner first.")
@click.option("--parallel-builds", "-parallel-builds", "parallel", type=click.IntRange(min=0), default=0,
              help="How many sources build at once (0 = all).")
@click.option("--engine", type=click.Choice(["native", "packer"]), default="native", show_default=True,
              help="`packer` delegates the build to an installed packer binary and records its manifest.")
@click.option("--version", "semver", metavar="SEMVER", help="Semantic version for the new version.")
@click.option("--bump", type=click.Choice(["major", "minor", "patch"]), help="Next semantic version from the newest.")
def build(path, image, build_name, var_pairs, var_files, only, except_, force, on_error, parallel, engine, semver,
          bump):
    """Build PATH (a .pkr.hcl file or a folder of them) into a new version of the image.

    Each source runs its builder's steps, the provisioners and the post-processors; a
    failure or Ctrl-C runs the cleanup of every step that ran, in reverse order. The same
    template and inputs give the same template digest: then nothing is built unless
    --force. The build's log is kept under the state folder and linked from the version.

    \b
    Example:
      release build templates/local.pkr.hcl
      release build templates/local.pkr.hcl --var greeting=hi --bump minor --json
      release build templates/amazon-ebs.pkr.hcl --only amazon-ebs.ubuntu --engine packer
    """
    app = app_ctx()
    vars_, diags = load_var_assignments(var_pairs)
    if diags:
        raise TemplateError("bad --var", diags)
    split = lambda items: [x.strip() for item in items for x in item.split(",") if x.strip()]  # noqa: E731
    req = BuildRequest(path=path, actor=app.actor, image=image, vars=vars_, var_files=list(var_files),
                       only=split(only), except_=split(except_), force=force, on_error=on_error, parallel=parallel,
                       engine=engine, semver=semver, bump=bump, build_name=build_name)
    app.ui.result(run_build(app.ledger, app.config, req, app.ui), _build_text)


def _build_text(doc: dict) -> str:
    if doc.get("skipped"):
        image, digest = doc["image"], doc["template_digest"]
        tail = ("an identical build registered it first; no new version" if doc.get("build_id")
                else "nothing to build. Use --force to build anyway")
        return f"{image}: identical to {image}@{doc['identical_to']} (template digest {digest[:19]}...); {tail}."
    v = doc.get("version")
    if v:
        arts = ", ".join(a["id"] for a in v["artifacts"])
        return (f"Build finished: {v['image']}@{v['version']}" + (f" ({v['semver']})" if v["semver"] else "")
                + f" -> {arts}")
    return f"Build finished: {doc['image']} (no artifact, no version: {', '.join(doc['sources'])})"
