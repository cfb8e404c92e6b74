"""What the ledger hears of a build: the `build` row when it starts, its end, and -- only for
a successful build with artifacts -- the new version, registered in the same transaction that
closes the build row. After that, each provider may label its artifacts with the version.

Identical builds: a build whose template digest equals that of a version of the image that
is neither revoked nor pruned makes no new version (unless `--force`). It is checked before
building (`identical_version`) and again in the transaction that would register the version
(`finish`, under the ledger's write lock), so identical builds started at once give one
version; the later ones are told which one, and what they built that no version references
is deleted (`discard_unreferenced`).
"""

from __future__ import annotations

import os
import socket
from collections import defaultdict
from pathlib import Path

import semver as semver_lib

from releasemgr.common.secrets import mask
from releasemgr.errors import Conflict
from releasemgr.ledger import audit
from releasemgr.ledger.clock import now_iso
from releasemgr.ledger.repo import artifacts as artifact_repo, builds, images, versions
from releasemgr.ledger.rows import Version
from releasemgr.pipeline.runner import Outcome
from releasemgr.providers.registry import provider
from releasemgr.release import lifecycle
from releasemgr.release.build.inputs import BuildInputs, BuildRequest
from releasemgr.release.build.log import BuildLog
from releasemgr.release.build.result import SourceResult


def identical_version(ledger, inputs: BuildInputs) -> Version | None:
    """The newest version of the image built from the same template digest that is neither
    revoked nor pruned (not only the image's newest version), else None."""
    with ledger.connect() as conn:
        return _identical_in(conn, inputs)


def _identical_in(conn, inputs: BuildInputs) -> Version | None:
    img = images.find(conn, inputs.image)
    return versions.identical(conn, img.id, inputs.digest) if img else None


def check_version(ledger, inputs: BuildInputs, req: BuildRequest) -> None:
    """A `--version` another version of the image already has is refused before the build
    runs (and checked again when the version is registered, under the write lock)."""
    if not req.semver:
        return
    with ledger.connect() as conn:
        img = images.find(conn, inputs.image)
        sv = str(semver_lib.Version.parse(req.semver.lstrip("v")))
        if img is not None and versions.by_semver(conn, img.id, sv) is not None:
            raise Conflict(f"{inputs.image} already has a version {sv}",
                           hint="semantic versions are unique per image: give another --version, or --bump")


def start(ledger, inputs: BuildInputs, req: BuildRequest, log_path: Path) -> None:
    """The `running` build row (and the image, the first time), with who, where and which inputs."""
    now = now_iso()
    with ledger.transaction() as conn:
        img = images.find(conn, inputs.image)
        if img is None:
            img = images.create(conn, inputs.image, at=now, by=req.actor)
            audit.append(conn, "image.created", actor=req.actor, image=inputs.image, at=now)
        builds.start(conn, inputs.build_id, img.id, actor=req.actor, host=socket.gethostname(), pid=os.getpid(),
                     at=now, template_path=str(Path(req.path).resolve()), template_digest=inputs.digest,
                     inputs=inputs.variables, log_path=str(log_path))
        audit.append(conn, "build.started", actor=req.actor, image=inputs.image, at=now,
                     details={"build_id": inputs.build_id, "template": str(req.path),
                              "template_digest": inputs.digest,
                              "sources": [bs.display_name for bs in inputs.selected], "engine": req.engine,
                              **({"resolved_inputs": inputs.resolved} if inputs.resolved else {})})


def _artifact_specs(results: list[SourceResult]) -> list[lifecycle.ArtifactSpec]:
    return [lifecycle.ArtifactSpec(a.provider, a.region, a.id, a.builder_type, a.files,
                                   {**a.extra, "source": r.display,
                                    "post_processors": [{"type": p.builder_type, "files": p.files}
                                                        for p in r.post_artifacts]})
            for r in results for a in r.artifacts]


def finish(ledger, inputs: BuildInputs, req: BuildRequest, results: list[SourceResult], outcome: Outcome,
           errors: list[str]) -> tuple[dict | None, Version | None]:
    """Close the build row; a successful build with artifacts registers its version in the same
    transaction -- unless (without `--force`) a version with the same template digest appeared
    meanwhile (an identical build that finished first: checked again here, under the write
    lock). Returns (the new version's JSON or None, the identical version or None)."""
    finished = now_iso()
    error = mask("; ".join(errors)) or None  # the run's secrets never reach the build row
    with ledger.transaction() as conn:
        builds.finish(conn, inputs.build_id, status=outcome.value, at=finished, error=error)
        version_doc = None
        same = None
        if outcome is Outcome.SUCCEEDED and not req.force:
            same = _identical_in(conn, inputs)
        if same is not None:
            audit.append(conn, f"build.{outcome.value}", actor=req.actor, image=inputs.image, version=None,
                         at=finished, details={"build_id": inputs.build_id, "error": None,
                                               "identical_to": f"v{same.number}"})
            return None, same
        if outcome is Outcome.SUCCEEDED and any(r.artifacts for r in results):
            parents = sorted({r.parent for r in results if r.parent})
            version_doc = lifecycle.register_in(
                conn, inputs.image, _artifact_specs(results), actor=req.actor, semver=req.semver, bump=req.bump,
                origin="build", parent=", ".join(parents) or None, build_id=inputs.build_id,
                template_digest=inputs.digest, git_commit=inputs.commit, git_dirty=inputs.dirty,
                variables=inputs.variables,
                details={"resolved_inputs": inputs.resolved} if inputs.resolved else None)
        audit.append(conn, f"build.{outcome.value}", actor=req.actor, image=inputs.image,
                     version=version_doc["version"] if version_doc else None, at=finished,
                     details={"build_id": inputs.build_id, "error": error})
    return version_doc, None


def discard_unreferenced(ledger, state_dir, results: list[SourceResult], log: BuildLog) -> None:
    """Delete what an identical build made that no version references (an AMI of its own; a
    local tarball with another digest). Images stored by content that a version references
    (the same tarball) stay. Each is checked and deleted under the ledger's write lock, so a
    version registering it meanwhile cannot lose it."""
    for a in (a for r in results for a in r.artifacts):
        p = provider(a.provider)
        store = p.image_store(state_dir) if p is not None else None
        if store is None:
            continue
        try:
            with ledger.transaction() as conn:
                if artifact_repo.references(conn, a.provider, a.region or "", a.id):
                    continue
                store.delete(a.region or "", a.id)
            log.line(None, f"Deleted {a.provider}:{a.region or ''}:{a.id}: no version references it")
        except Exception as exc:  # noqa: BLE001 - report what to remove by hand
            log.line(None, f"Could not delete {a.provider}:{a.region or ''}:{a.id} ({exc}); delete it by hand")


def tag_version(results: list[SourceResult], version: str, log: BuildLog) -> None:
    """Each provider labels its artifacts with the version the ledger numbered (AMIs get a
    `release:version` tag). The version exists already: a failure is reported, not fatal."""
    by_provider: dict[str, list] = defaultdict(list)
    for a in (a for r in results for a in r.artifacts):
        by_provider[a.provider].append(a)
    for name, artifacts in by_provider.items():
        p = provider(name)
        if p is None:
            continue  # imported from a Packer manifest of a platform releasemgr does not manage
        try:
            p.tag_version(artifacts, version)
        except Exception as exc:  # noqa: BLE001 - the version exists; a missing tag is reported, not fatal
            log.line(None, f"Could not tag the {name} artifacts with release:version={version}: {exc}")
