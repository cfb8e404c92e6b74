"""What a build starts from: the request, the template and build block it picks, each source's
evaluated config and provisioners, the inputs the providers resolve now (the AMI a
`source_ami_filter` finds), the template digest, the git commit, and the variables as the
ledger records them (secrets redacted). Nothing here writes to the ledger or runs a step.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import semver as semver_lib

from releasemgr.common.secrets import MASK, is_secret_name, register
from releasemgr.errors import NotFound, OperationFailed, TemplateError, UsageError
from releasemgr.ledger.refs import check_image_name
from releasemgr.providers.base import InputsUnresolved
from releasemgr.providers.registry import builder_steps, provider_of_source
from releasemgr.template.diagnostics import Severity
from releasemgr.template.load import evaluate_body, load_template
from releasemgr.template.validate import validate_template

ON_ERROR = ("cleanup", "abort", "run-cleanup-provisioner")
BUMPS = ("major", "minor", "patch")


@dataclass
class BuildRequest:
    path: str
    actor: str
    image: str | None = None
    vars: dict[str, str] = field(default_factory=dict)
    var_files: list[str] = field(default_factory=list)
    only: list[str] = field(default_factory=list)
    except_: list[str] = field(default_factory=list)
    force: bool = False
    on_error: str = "cleanup"
    parallel: int = 0
    engine: str = "native"
    semver: str | None = None
    bump: str | None = None
    build_name: str | None = None


@dataclass
class BuildInputs:
    """The resolved inputs of one build, read by the engines and recorded in the ledger."""

    template: Any  # releasemgr.template.model.Template
    build: Any  # the build block
    image: str  # the ledger's image name
    selected: list  # the build sources left after --only/--except
    configs: dict[str, dict]  # display name -> the source's evaluated config
    provisioners: dict[str, list]  # display name -> its evaluated provisioners
    build_id: str
    digest: str  # template_digest()
    commit: str | None
    dirty: bool | None
    variables: dict  # redacted_variables()
    secrets: list[str]  # secrets_of()
    resolved: dict = field(default_factory=dict)  # resolve_inputs(): {display name: {option: value}}


def resolve(req: BuildRequest, ui) -> BuildInputs:
    """Load and check everything the build needs, before the ledger hears of it. Every secret
    is registered with the process's masker. Raises UsageError / TemplateError on bad input."""
    if req.on_error not in ON_ERROR:
        raise UsageError("--on-error takes cleanup, abort or run-cleanup-provisioner")
    check_version_args(req)
    template = load(req, ui)
    build = pick_build(template, req)
    image = image_name(template, build, req)
    check_image_name(image)
    selected = selected_sources(build, req)
    configs = {bs.display_name: source_config(template, bs, build.name) for bs in selected}
    build_id = str(uuid.uuid4())
    provisioners = {bs.display_name: provisioners_for(template, build, bs, build_id) for bs in selected}
    if req.engine == "native":
        check_native(selected)
    check_credentials(selected, configs)
    resolved = resolve_inputs(selected, configs)
    if req.engine == "native":  # the build uses what the digest covers (packer resolves again itself)
        for display, values in resolved.items():
            configs[display] = {**configs[display], **values}
    digest = template_digest(template, build, configs, resolved)
    commit, dirty = git_info(req.path)
    secrets = secrets_of(template, configs, provisioners)
    register(secrets)  # the process's masker: the Ui, the build log, the build row, the audit log
    return BuildInputs(template, build, image, selected, configs, provisioners, build_id, digest, commit, dirty,
                       redacted_variables(template), secrets, resolved)


def resolve_inputs(selected, configs: dict[str, dict]) -> dict[str, dict]:
    """What each selected source names only indirectly, resolved by its provider now
    (`Provider.resolve_inputs`: one DescribeImages call for an amazon-ebs `source_ami_filter`):
    {display name: {option: value}}. OperationFailed when a provider cannot resolve one."""
    by_provider: dict = {}
    for bs in selected:
        p = provider_of_source(bs.ref.split(".", 1)[0])
        if p is not None:
            by_provider.setdefault(p.name, (p, {}))[1][bs.display_name] = configs[bs.display_name]
    out: dict[str, dict] = {}
    for p, source_configs in by_provider.values():
        try:
            out.update(p.resolve_inputs(source_configs))
        except InputsUnresolved as exc:
            raise OperationFailed(f"cannot resolve the build's inputs: {exc}",
                                  hint="the build did not start; fix the source block or the provider's access"
                                  ) from None
    return out


def load(req: BuildRequest, ui):
    if not Path(req.path).exists():
        raise NotFound(f"template {req.path} not found", hint="give a .pkr.hcl file or a folder of them")
    for name, value in req.vars.items():  # masked in errors too, even if the template does not load
        if is_secret_name(name):
            register(value)
    # the loader registers every value given to a sensitive variable, from any route
    template, diags = load_template(req.path, vars=req.vars, var_files=req.var_files)
    if template is not None:
        register(secrets_of(template))
    if template is not None and not any(d.severity is Severity.ERROR for d in diags):
        diags = diags + validate_template(template)
    errors = [d for d in diags if d.severity is Severity.ERROR]
    if errors or template is None:
        raise TemplateError(f"{len(errors)} error(s) in {req.path}", diagnostics=diags)
    for d in diags:  # warnings: a `warning` event under --json
        ui.warning(d.render()) if ui.json else ui.err(d.render())
    return template


def pick_build(template, req: BuildRequest):
    builds = template.builds
    if not builds:
        raise UsageError(f"{req.path} has no build block")
    if req.build_name:
        chosen = [b for b in builds if b.name == req.build_name]
        if not chosen:
            raise UsageError(f"no build named {req.build_name!r} in {req.path}",
                             hint="builds: " + ", ".join(str(b.name) for b in builds))
        return chosen[0]
    if len(builds) > 1:
        raise UsageError(f"{req.path} has {len(builds)} build blocks; choose one with --build NAME",
                         hint="builds: " + ", ".join(str(b.name) for b in builds))
    return builds[0]


def image_name(template, build, req: BuildRequest) -> str:
    if req.image:
        return req.image
    if build.name:
        return str(build.name)
    stem = Path(template.path).name
    for suffix in (".pkr.hcl", ".hcl"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return stem or "image"


def _selected(bs, req) -> bool:
    names = {bs.display_name, bs.ref, bs.name or bs.ref.split(".", 1)[1]}
    if req.only and not names & set(req.only):
        return False
    if req.except_ and names & set(req.except_):
        return False
    return True


def selected_sources(build, req: BuildRequest) -> list:
    """The build's sources that --only/--except leave; UsageError when none is left."""
    selected = [bs for bs in build.sources if _selected(bs, req)]
    if not selected:
        raise UsageError("no source left to build after --only/--except",
                         hint="sources: " + ", ".join(bs.display_name for bs in build.sources))
    return selected


def check_native(selected) -> None:
    """Every selected source has a native builder (else it needs --engine packer)."""
    for bs in selected:
        if builder_steps(bs.ref.split(".", 1)[0]) is None:
            raise UsageError(f"builder {bs.ref.split('.', 1)[0]!r} is not built natively",
                             hint="use --engine packer to delegate it to an installed packer")


def check_version_args(req: BuildRequest) -> None:
    """--version and --bump, checked before anything runs (whether the version is already
    used is checked against the ledger: record.check_version)."""
    if req.semver and req.bump:
        raise UsageError("give either --version or --bump, not both")
    if req.bump and req.bump not in BUMPS:
        raise UsageError(f"--bump takes major, minor or patch, not {req.bump!r}")
    if req.semver:
        try:
            semver_lib.Version.parse(req.semver.lstrip("v"))
        except ValueError:
            raise UsageError(f"--version {req.semver!r} is not a semantic version",
                             hint="e.g. 1.4.0 or 2.0.0-rc.1") from None


def check_credentials(selected, configs: dict[str, dict]) -> None:
    """Every builder the selected sources use can reach its platform (`Provider.credentials_problem`:
    AWS credentials for an amazon-ebs source), before the ledger hears of the build."""
    for bs in selected:
        p = provider_of_source(bs.ref.split(".", 1)[0])
        problem = p.credentials_problem(configs.get(bs.display_name) or {}) if p is not None else None
        if problem:
            why, hint = problem
            raise UsageError(f"{bs.display_name}: {why}", hint=hint)


def source_config(template, bs, build_name: str | None = None) -> dict:
    """The source's config evaluated for this build source (its `source.name`, the build's
    name), with the build block's overrides applied."""
    src = template.sources.get(bs.ref)
    if src is None:
        raise UsageError(f"build refers to {bs.ref}, which is not defined")
    ctx_source = {"name": bs.name or src.name, "type": src.type}
    ctx_build = {"name": build_name}
    config, diags = evaluate_body(template, src.body, source=ctx_source, build=ctx_build)
    if bs.overrides is not None and (bs.overrides.attributes or bs.overrides.blocks):
        over, more = evaluate_body(template, bs.overrides, source=ctx_source, build=ctx_build)
        over.pop("name", None)
        config.update(over)
        diags += more
    errors = [d for d in diags if d.is_error]
    if errors:
        raise TemplateError(f"cannot evaluate {bs.display_name}", diagnostics=errors)
    return config


def provisioners_for(template, build, bs, build_id: str) -> list:
    """The build's provisioners evaluated for one build source (source.name, build.ID...)."""
    src = template.sources[bs.ref]
    ctx_source = {"name": bs.name or src.name, "type": src.type}
    out = []
    for p in build.provisioners:
        config, diags = evaluate_body(template, p.body, source=ctx_source,
                                      build={"name": build.name, "ID": build_id, "PackerRunUUID": build_id})
        errors = [d for d in diags if d.is_error]
        if errors:
            raise TemplateError(f"cannot evaluate provisioner {p.type}", diagnostics=errors)
        out.append(dataclasses.replace(p, config=config))
    return out


def _is_secret_variable(name: str, v) -> bool:
    return bool(v.sensitive) or is_secret_name(name)


def redacted_variables(template) -> dict:
    """The variables as the ledger records them: secret ones as MASK."""
    return {name: MASK if _is_secret_variable(name, v) else v.value for name, v in sorted(template.variables.items())}


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [str(value)]
    return []


def _secret_options(config, out: list[str]) -> None:
    """Values of secret-named options (`secret_key`, `ssh_password`), in nested blocks too."""
    if isinstance(config, dict):
        for key, value in config.items():
            if isinstance(key, str) and is_secret_name(key):
                out += _strings(value)
            else:
                _secret_options(value, out)
    elif isinstance(config, list):
        for item in config:
            _secret_options(item, out)


def secrets_of(template, configs: dict[str, dict] | None = None, provisioners: dict[str, list] | None = None
               ) -> list[str]:
    """Every secret value a build may print: sensitive variables and locals (defaults
    included), variables with a secret name, and secret-named options of the sources (as
    written and as evaluated for this build) and of the provisioners."""
    vals = list(template.sensitive_values)
    for name, v in template.variables.items():
        if _is_secret_variable(name, v):
            vals += _strings(v.value)
    for src in template.sources.values():
        _secret_options(src.config, vals)
    for config in (configs or {}).values():
        _secret_options(config, vals)
    for provs in (provisioners or {}).values():
        for p in provs:
            _secret_options(p.config, vals)
    return vals


def _hash_path(h, path: Path) -> None:
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and not p.is_symlink():
                h.update(p.relative_to(path).as_posix().encode() + b"\0")
                h.update(hashlib.sha256(p.read_bytes()).digest())
    elif path.is_file():
        h.update(hashlib.sha256(path.read_bytes()).digest())


def _referenced_files(build, configs: dict[str, dict]) -> list[str]:
    """Local paths the build reads: a source's `base`, provisioners' scripts and file sources."""
    referenced: list[str] = []
    for cfg in configs.values():
        if isinstance(cfg.get("base"), str):
            referenced.append(cfg["base"])
    for p in build.provisioners:
        c = p.config or {}
        for key in ("script", "source"):
            if isinstance(c.get(key), str):
                referenced.append(c[key])
        for key in ("scripts", "sources"):
            if isinstance(c.get(key), list):
                referenced += [s for s in c[key] if isinstance(s, str)]
    return referenced


def template_digest(template, build, configs: dict[str, dict], resolved: dict[str, dict] | None = None) -> str:
    """sha256 over the template files, the resolved non-sensitive inputs, the content of local
    files the build reads (a `base`, scripts, file sources), and what the providers resolved
    (`resolved`: the source AMI a filter found), so a build on a newer base is not identical."""
    h = hashlib.sha256()
    base = Path(template.base_dir)
    for f in sorted(set(template.files) | set(template.var_files)):
        p = Path(f)
        h.update(p.name.encode() + b"\0")
        h.update(p.read_bytes() if p.exists() else b"")
    inputs = {n: (MASK if _is_secret_variable(n, v) else v.value) for n, v in template.variables.items()}
    h.update(json.dumps(inputs, sort_keys=True, default=str).encode())
    for ref in sorted(set(_referenced_files(build, configs))):
        for cand in (Path(ref), base / ref):
            if cand.exists():
                h.update(ref.encode() + b"\0")
                _hash_path(h, cand)
                break
    if resolved:  # only then: digests of builds with nothing to resolve stay what they were
        h.update(b"resolved\0" + json.dumps(resolved, sort_keys=True, default=str).encode())
    return "sha256:" + h.hexdigest()


def git_info(path: str) -> tuple[str | None, bool | None]:
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode != 0:
            return None, None
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=10)
        return commit.stdout.strip(), bool(dirty.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        return None, None
