"""The build use case: template -> pipeline -> a new immutable version in the ledger.

Every attempt is a `build` row (running | succeeded | failed | cancelled) with who, where
(host, pid, heartbeat) and its log; only a successful build makes a version, in the same
transaction that closes the build row.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releasemgr.common.secrets import MASK, Masker, is_secret_name
from releasemgr.errors import OperationFailed, TemplateError, UsageError
from releasemgr.pipeline import workdir
from releasemgr.pipeline.context import Artifact, BuildContext
from releasemgr.pipeline.runner import Outcome, Runner, StepFailed



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
class SourceResult:
    display: str
    outcome: Outcome
    error: str | None
    artifacts: list[Artifact]
    post_artifacts: list[Artifact]
    parent: str | None
    cleanup_failures: list[str]


class BuildLog:
    """Prefixed, secret-masked lines to the terminal (or JSON lines) and to the build's log file."""

    def __init__(self, ui, path: Path, secrets: list[str]):
        self.ui, self.path = ui, path
        self.masker = Masker(secrets)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def mask(self, text: str) -> str:
        return self.masker.mask(text)

    def line(self, source: str | None, text: str, *, kind: str = "say") -> None:
        text = self.mask(text)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if source is None:
            shown = f"==> {text}" if kind == "say" else text
        elif kind == "say":
            shown = f"==> {source}: {text}"
        else:
            shown = f"    {source}: {text}"
        with self.lock:
            self.fh.write(f"{stamp} {shown}\n")
            self.fh.flush()
            if self.ui.json:
                self.ui.emit_line({"type": "log", "source": source, "kind": kind, "line": text, "at": stamp})
            else:
                self.ui.out(shown)

    def close(self) -> None:
        self.fh.close()


# -- inputs ------------------------------------------------------------------------------------

def load(req: BuildRequest, ui):
    from releasemgr.template.diagnostics import Severity
    from releasemgr.template.load import load_template
    from releasemgr.template.validate import validate_template

    if not Path(req.path).exists():
        raise UsageError(f"template {req.path} not found")
    for name, value in req.vars.items():  # masked in errors too, even if the template does not load
        if is_secret_name(name):
            ui.add_secret(value)
    template, diags = load_template(req.path, vars=req.vars, var_files=req.var_files)
    if template is not None:
        for secret in secrets_of(template):
            ui.add_secret(secret)
    if template is not None and not any(d.severity is Severity.ERROR for d in diags):
        diags = diags + validate_template(template)
    errors = [d for d in diags if d.severity is Severity.ERROR]
    if errors or template is None:
        raise TemplateError(f"{len(errors)} error(s) in {req.path}", diagnostics=diags)
    for d in diags:
        ui.err(d.render())
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


def source_config(template, bs, build_name: str | None = None) -> dict:
    """The source's config evaluated for this build source (its `source.name`, the build's
    name), with the build block's overrides applied."""
    from releasemgr.template.load import evaluate_body

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
    import dataclasses

    from releasemgr.template.load import evaluate_body

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


def secrets_of(template) -> list[str]:
    """Every secret value a build may print: sensitive values, secret variables and source options."""
    vals = list(template.sensitive_values)
    vals += [v.value for name, v in template.variables.items() if is_secret_name(name) and isinstance(v.value, str)]
    for src in template.sources.values():
        vals += [value for key, value in src.config.items() if is_secret_name(key) and isinstance(value, str)]
    return vals


def _hash_path(h, path: Path) -> None:
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and not p.is_symlink():
                h.update(p.relative_to(path).as_posix().encode() + b"\0")
                h.update(hashlib.sha256(p.read_bytes()).digest())
    elif path.is_file():
        h.update(hashlib.sha256(path.read_bytes()).digest())


def template_digest(template, build, configs: dict[str, dict]) -> str:
    """sha256 over the template files, the resolved non-sensitive inputs, and the content of
    local files the build reads (a `base`, scripts, file sources)."""
    h = hashlib.sha256()
    base = Path(template.base_dir)
    for f in sorted(set(template.files) | set(template.var_files)):
        p = Path(f)
        h.update(p.name.encode() + b"\0")
        h.update(p.read_bytes() if p.exists() else b"")
    inputs = {n: (MASK if _is_secret_variable(n, v) else v.value) for n, v in template.variables.items()}
    h.update(json.dumps(inputs, sort_keys=True, default=str).encode())
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
    for ref in sorted(set(referenced)):
        for cand in (Path(ref), base / ref):
            if cand.exists():
                h.update(ref.encode() + b"\0")
                _hash_path(h, cand)
                break
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


# -- running -----------------------------------------------------------------------------------

class _Signals:
    """SIGINT/SIGTERM cancel the build: every step's cleanup runs, then we exit 1."""

    def __init__(self, cancel: threading.Event, on_cancel):
        self.cancel, self.on_cancel, self.old = cancel, on_cancel, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if not self.cancel.is_set():
            self.cancel.set()
            self.on_cancel(signal.Signals(signum).name)

    def __exit__(self, *exc):
        for sig, handler in self.old.items():
            signal.signal(sig, handler)


def run_build(ledger, config, req: BuildRequest, ui) -> dict:
    from releasemgr.ledger import audit
    from releasemgr.ledger.clock import now_iso
    from releasemgr.ledger.repo import builds, images, versions
    from releasemgr.providers.registry import builder_steps
    from releasemgr.release import lifecycle

    if req.on_error not in ("cleanup", "abort", "run-cleanup-provisioner"):
        raise UsageError("--on-error takes cleanup, abort or run-cleanup-provisioner")
    template = load(req, ui)
    build = pick_build(template, req)
    image = image_name(template, build, req)
    from releasemgr.ledger.refs import check_image_name

    check_image_name(image)
    selected = [bs for bs in build.sources if _selected(bs, req)]
    if not selected:
        raise UsageError("no source left to build after --only/--except",
                         hint="sources: " + ", ".join(bs.display_name for bs in build.sources))
    configs = {bs.display_name: source_config(template, bs, build.name) for bs in selected}
    build_id = str(uuid.uuid4())
    provisioners = {bs.display_name: provisioners_for(template, build, bs, build_id) for bs in selected}
    for bs in selected:
        if req.engine == "native" and builder_steps(bs.ref.split(".", 1)[0]) is None:
            raise UsageError(f"builder {bs.ref.split('.', 1)[0]!r} is not built natively",
                             hint="use --engine packer to delegate it to an installed packer")
    digest = template_digest(template, build, configs)
    commit, dirty = git_info(req.path)
    variables = redacted_variables(template)
    secrets = secrets_of(template)
    for s in secrets:
        ui.add_secret(s)

    with ledger.connect() as conn:
        img = images.find(conn, image)
        newest = versions.newest(conn, img.id) if img else None
    if newest is not None and newest.template_digest == digest and not req.force:
        doc = {"image": image, "skipped": True, "identical_to": f"v{newest.number}", "template_digest": digest}
        ui.emit(doc, lambda d: f"{image}: identical to {image}@{d['identical_to']} (template digest "
                               f"{digest[:19]}...); nothing to build. Use --force to build anyway.")
        return doc

    logs = Path(config.state_dir) / "builds"
    log_path = logs / f"{build_id}.log"
    now = now_iso()
    with ledger.transaction() as conn:
        img = images.find(conn, image)
        if img is None:
            img = images.create(conn, image, at=now, by=req.actor)
            audit.append(conn, "image.created", actor=req.actor, image=image, at=now)
        builds.start(conn, build_id, img.id, actor=req.actor, host=socket.gethostname(), pid=os.getpid(), at=now,
                     template_path=str(Path(req.path).resolve()), template_digest=digest, inputs=variables,
                     log_path=str(log_path))
        audit.append(conn, "build.started", actor=req.actor, image=image, at=now,
                     details={"build_id": build_id, "template": str(req.path), "template_digest": digest,
                              "sources": [bs.display_name for bs in selected], "engine": req.engine})

    log = BuildLog(ui, log_path, secrets)
    cancel = threading.Event()
    contexts: list[BuildContext] = []
    stop_heartbeat = threading.Event()

    def heartbeat():
        while not stop_heartbeat.wait(15):
            with contextlib.suppress(Exception):
                with ledger.transaction() as conn:
                    builds.heartbeat(conn, build_id, at=now_iso())

    def on_cancel(signame):
        log.line(None, f"Cancelling the build ({signame})... cleaning up")
        for c in list(contexts):
            if c.communicator is not None:
                with contextlib.suppress(Exception):
                    c.communicator.cancel()

    hb = threading.Thread(target=heartbeat, daemon=True)
    hb.start()
    run_uuid = str(uuid.uuid4())
    results: list[SourceResult] = []
    left_behind: list[str] = []  # what the build could not remove (said in its last line)
    try:
        with _Signals(cancel, on_cancel):
            if req.engine == "packer":
                from releasemgr.release.packer_engine import run_packer

                results = run_packer(template, build, selected, req, log, cancel, config.state_dir)
            else:
                with workdir.run_folder(config.state_dir, build_id, say=lambda t: log.line(None, t)) as run_dir:
                    work_root = run_dir.path

                    def one(bs):
                        return _build_source(template, build, bs, configs[bs.display_name],
                                             provisioners[bs.display_name], req, log, cancel,
                                             config.state_dir, work_root, build_id, image, run_uuid, contexts)

                    workers = req.parallel or len(selected)
                    if workers <= 1 or len(selected) == 1:
                        results = [one(bs) for bs in selected]
                    else:
                        with ThreadPoolExecutor(max_workers=workers) as pool:
                            results = list(pool.map(one, selected))
                    run_dir.keep = req.on_error == "abort" and (
                        cancel.is_set() or any(r.outcome is not Outcome.SUCCEEDED for r in results))
                left_behind += run_dir.leftovers
    finally:
        stop_heartbeat.set()

    outcome = Outcome.SUCCEEDED
    if cancel.is_set() or any(r.outcome is Outcome.CANCELLED for r in results):
        outcome = Outcome.CANCELLED
    elif any(r.outcome is Outcome.FAILED for r in results):
        outcome = Outcome.FAILED
    artifacts = [a for r in results for a in r.artifacts]
    errors = [f"{r.display}: {r.error}" for r in results if r.error and r.outcome is not Outcome.SUCCEEDED]
    finished = now_iso()
    doc: dict[str, Any] = {"build_id": build_id, "image": image, "status": outcome.value, "log": str(log_path),
                           "template_digest": digest, "sources": [r.display for r in results]}
    with ledger.transaction() as conn:
        builds.finish(conn, build_id, status=outcome.value, at=finished, error="; ".join(errors) or None)
        version_doc = None
        if outcome is Outcome.SUCCEEDED and artifacts:
            specs = [lifecycle.ArtifactSpec(a.provider, a.region, a.id, a.builder_type, a.files,
                                            {**a.extra, "source": r.display,
                                             "post_processors": [{"type": p.builder_type, "files": p.files}
                                                                 for p in r.post_artifacts]})
                     for r in results for a in r.artifacts]
            parents = sorted({r.parent for r in results if r.parent})
            version_doc = lifecycle.register_in(
                conn, image, specs, actor=req.actor, semver=req.semver, bump=req.bump, origin="build",
                parent=", ".join(parents) or None, build_id=build_id, template_digest=digest,
                git_commit=commit, git_dirty=dirty, variables=variables)
        audit.append(conn, f"build.{outcome.value}", actor=req.actor, image=image,
                     version=version_doc["version"] if version_doc else None, at=finished,
                     details={"build_id": build_id, "error": "; ".join(errors) or None})
    if version_doc:
        _tag_version(results, version_doc["version"], log)
    left_behind += [item for r in results for item in r.cleanup_failures]
    log.line(None, workdir.final_line(outcome.value, req.on_error, left_behind))
    log.close()
    if outcome is Outcome.CANCELLED:
        raise OperationFailed("build cancelled", hint=f"log: {log_path}", build_id=build_id, status="cancelled")
    if outcome is Outcome.FAILED:
        raise OperationFailed("build failed: " + "; ".join(errors), hint=f"log: {log_path}", build_id=build_id,
                              status="failed")
    doc["version"] = version_doc
    return doc


def _build_source(template, build, bs, cfg, provisioners, req, log, cancel, state_dir, work_root, build_id, image,
                  run_uuid, contexts) -> SourceResult:
    from releasemgr.pipeline.postprocessors import run_chain
    from releasemgr.providers.registry import builder_steps

    stype = bs.ref.split(".", 1)[0]
    sname = bs.name or bs.ref.split(".", 1)[1]
    display = f"{stype}.{sname}"
    work = Path(tempfile.mkdtemp(prefix=f"build-{build_id[:8]}-{sname}-", dir=work_root))
    ctx = BuildContext(build_id=build_id, build_name=str(build.name or image), source_type=stype, source_name=sname,
                       source_config=cfg, state_dir=Path(state_dir), work_dir=work,
                       template_dir=Path(template.base_dir), say_fn=lambda t: log.line(display, t),
                       output_fn=lambda kind, line: log.line(display, line, kind=kind), cancel_event=cancel,
                       on_error=req.on_error, provisioners=provisioners,
                       error_cleanup_provisioner=build.error_cleanup_provisioner, image=image)
    contexts.append(ctx)
    post: list[Artifact] = []
    try:
        result = Runner(builder_steps(stype)(ctx)).run(ctx)
        outcome, error = result.outcome, result.error
        if outcome is Outcome.SUCCEEDED and ctx.artifacts:
            run_info = {"run_uuid": run_uuid, "outputs": [],
                        "artifact_ids": lambda a: ",".join(sorted(x.manifest_id() for x in ctx.artifacts))
                        if a.produced_by == "builder" else a.id,
                        "region_map": lambda a: {x.region: x.id for x in ctx.artifacts if x.region}}
            try:
                for chain in build.post_processors:
                    post += run_chain(chain, ctx.artifacts[0], ctx, run_info)
            except StepFailed as exc:
                outcome, error = Outcome.FAILED, f"post-processor: {exc}"
                _discard_new_local_images(ctx)
            except Exception as exc:  # noqa: BLE001 - a cancel or a bug: do not leave the image behind
                outcome = Outcome.CANCELLED if cancel.is_set() else Outcome.FAILED
                error = str(exc) or type(exc).__name__
                _discard_new_local_images(ctx)
        if outcome is Outcome.SUCCEEDED and ctx.source_type != "null" and not ctx.artifacts:
            outcome, error = Outcome.FAILED, "the builder produced no artifact"
        if error and outcome is Outcome.FAILED:
            log.line(display, f"Error: {error}")
        return SourceResult(display, outcome, error, ctx.artifacts if outcome is Outcome.SUCCEEDED else [],
                            post, ctx.parent, result.cleanup_failures)
    finally:
        from releasemgr.providers.local.image import remove_tree

        if req.on_error != "abort" or not work.exists():
            remove_tree(work)


def _tag_version(results, version: str, log) -> None:
    """AMIs get `release:version` once the ledger has numbered the version."""
    aws_arts = [a for r in results for a in r.artifacts if a.provider == "aws"]
    if not aws_arts:
        return
    from releasemgr.providers.aws.images import tag_version

    try:
        tag_version(aws_arts, version)
    except Exception as exc:  # noqa: BLE001 - the version exists; a missing tag is reported, not fatal
        log.line(None, f"Could not tag the AMIs with release:version={version}: {exc}")


def _discard_new_local_images(ctx) -> None:
    for f in ctx.created_files:  # only images this build created
        with contextlib.suppress(OSError):
            os.unlink(f)
