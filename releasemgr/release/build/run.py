"""The build use case, start to end: resolve the inputs, skip an identical build, record the
build row, run every selected source (natively or through `packer`) under a heartbeat and
with SIGINT/SIGTERM turned into a cancel, then record the outcome and the new version."""

from __future__ import annotations

import contextlib
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from releasemgr.errors import OperationFailed
from releasemgr.pipeline import workdir
from releasemgr.pipeline.context import BuildContext
from releasemgr.pipeline.runner import Outcome
from releasemgr.release.build import record
from releasemgr.release.build.inputs import BuildInputs, BuildRequest, resolve
from releasemgr.release.build.liveness import Heartbeat, Signals
from releasemgr.release.build.log import BuildLog
from releasemgr.release.build.packer import check_packer, run_packer
from releasemgr.release.build.result import SourceResult, errors_of, overall_outcome
from releasemgr.release.build.source import SourceBuild

def run_build(ledger, config, req: BuildRequest, ui) -> dict:
    """Build `req.path` into a new version of its image. Returns the build's JSON document
    (`skipped` when a version that is neither revoked nor pruned has the same template digest
    and `--force` is not set -- checked before building and again when registering);
    raises OperationFailed when the build failed or was cancelled (the build row says so)."""
    inputs = resolve(req, ui)  # arguments, template, variables, credentials: before anything runs
    if req.engine == "packer":
        check_packer(inputs)  # a build packer cannot run is refused before it is recorded
    record.check_version(ledger, inputs, req)
    if not req.force and (same := record.identical_version(ledger, inputs)) is not None:
        return _skipped(inputs, same.number)

    log_path = Path(config.state_dir) / "builds" / f"{inputs.build_id}.log"
    record.start(ledger, inputs, req, log_path)
    log = BuildLog(ui, log_path, inputs.secrets)
    cancel = threading.Event()
    with Heartbeat(ledger, inputs.build_id):
        results, left_behind = _run_sources(inputs, req, log, cancel=cancel, state_dir=config.state_dir)
    outcome = overall_outcome(results, cancel.is_set())
    errors = errors_of(results)
    version_doc, same = record.finish(ledger, inputs, req, results, outcome, errors)
    if version_doc:
        record.tag_version(results, version_doc["version"], log)
    if same is not None:  # an identical build finished first: its version stands, ours is not made
        record.discard_unreferenced(ledger, config.state_dir, results, log)
        log.line(None, f"Identical to {inputs.image}@v{same.number}, which an identical build registered "
                       "meanwhile; no new version.")
        log.close()
        return _skipped(inputs, same.number, build_id=inputs.build_id)
    left_behind += [item for r in results for item in r.cleanup_failures]
    log.line(None, workdir.final_line(outcome.value, req.on_error, left_behind))
    log.close()
    if outcome is Outcome.CANCELLED:
        raise OperationFailed("build cancelled", hint=f"log: {log_path}", build_id=inputs.build_id,
                              status="cancelled")
    if outcome is Outcome.FAILED:
        raise OperationFailed("build failed: " + "; ".join(errors), hint=f"log: {log_path}",
                              build_id=inputs.build_id, status="failed")
    doc: dict[str, Any] = {"build_id": inputs.build_id, "image": inputs.image, "status": outcome.value,
                           "log": str(log_path), "template_digest": inputs.digest,
                           "sources": [r.display for r in results], "version": version_doc}
    return doc


def _skipped(inputs: BuildInputs, number: int, *, build_id: str | None = None) -> dict:
    """The document of a build that made no version because an identical one exists:
    `status` is `skipped` when nothing was built, `succeeded` when it built and then found the
    version an identical build registered meanwhile (`build_id` is then its build)."""
    return {"image": inputs.image, "skipped": True, "status": "succeeded" if build_id else "skipped",
            "identical_to": f"v{number}", "template_digest": inputs.digest, "build_id": build_id}


def _run_sources(inputs: BuildInputs, req: BuildRequest, log: BuildLog, *, cancel: threading.Event,
                 state_dir) -> tuple[list[SourceResult], list[str]]:
    """Every selected source, by the chosen engine, in the run's private folder (removed at the
    end); a signal cancels them all. Returns the results and what could not be removed."""
    contexts: list[BuildContext] = []

    def on_cancel(signame: str) -> None:
        log.line(None, f"Cancelling the build ({signame})... cleaning up")
        for c in list(contexts):
            if c.communicator is not None:
                with contextlib.suppress(Exception):
                    c.communicator.cancel()

    with Signals(cancel, on_cancel):
        if req.engine == "packer":
            return run_packer(inputs, req, log, cancel=cancel, state_dir=state_dir), []
        with workdir.run_folder(state_dir, inputs.build_id, say=lambda t: log.line(None, t)) as run_dir:
            run_uuid = str(uuid.uuid4())
            sources = [SourceBuild(inputs, bs, req, log, cancel, Path(state_dir), run_dir.path, run_uuid, contexts)
                       for bs in inputs.selected]
            workers = req.parallel or len(sources)
            if workers <= 1 or len(sources) == 1:
                results = [s.run() for s in sources]
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    results = list(pool.map(SourceBuild.run, sources))
            run_dir.keep = req.on_error == "abort" and (
                cancel.is_set() or any(r.outcome is not Outcome.SUCCEEDED for r in results))
        return results, run_dir.leftovers
