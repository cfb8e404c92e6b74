"""One build source through the native pipeline: the provider's builder steps, then the
build's post-processors, in a work folder of its own."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from releasemgr.pipeline.context import Artifact, BuildContext
from releasemgr.pipeline.postprocessors import run_chain
from releasemgr.pipeline.runner import Outcome, Runner, StepFailed
from releasemgr.providers.local.image import remove_tree
from releasemgr.providers.registry import provider_of_source
from releasemgr.release.build.inputs import BuildInputs, BuildRequest
from releasemgr.release.build.log import BuildLog
from releasemgr.release.build.result import SourceResult


@dataclass
class SourceBuild:
    """Everything the build of one source needs; what the sources of a build share
    (`inputs`, `log`, `cancel`, `contexts`) is the same object for all of them."""

    inputs: BuildInputs
    source: object  # the build block's BuildSource
    req: BuildRequest
    log: BuildLog
    cancel: threading.Event
    state_dir: Path
    work_root: Path  # the work folder is made under it, removed afterwards (kept on --on-error=abort)
    run_uuid: str  # Packer's `packer_run_uuid`, the same for every source of the build
    contexts: list[BuildContext]  # every running source's context, so a cancel reaches its communicator

    @property
    def source_type(self) -> str:
        return self.source.ref.split(".", 1)[0]

    @property
    def source_name(self) -> str:
        return self.source.name or self.source.ref.split(".", 1)[1]

    def _context(self, work: Path) -> BuildContext:
        inputs, display = self.inputs, self.source.display_name
        build = inputs.build
        return BuildContext(
            build_id=inputs.build_id, build_name=str(build.name or inputs.image), source_type=self.source_type,
            source_name=self.source_name, source_config=inputs.configs[display], state_dir=Path(self.state_dir),
            work_dir=work, template_dir=Path(inputs.template.base_dir),
            say_fn=lambda t: self.log.line(f"{self.source_type}.{self.source_name}", t),
            output_fn=lambda kind, line: self.log.line(f"{self.source_type}.{self.source_name}", line, kind=kind),
            progress_fn=lambda **row: self.log.progress(f"{self.source_type}.{self.source_name}", **row),
            cancel_event=self.cancel, on_error=self.req.on_error, provisioners=inputs.provisioners[display],
            error_cleanup_provisioner=build.error_cleanup_provisioner, image=inputs.image)

    def run(self) -> SourceResult:
        prov = provider_of_source(self.source_type)
        display = f"{self.source_type}.{self.source_name}"
        work = Path(tempfile.mkdtemp(prefix=f"build-{self.inputs.build_id[:8]}-{self.source_name}-",
                                     dir=self.work_root))
        ctx = self._context(work)
        self.contexts.append(ctx)
        post: list[Artifact] = []
        try:
            result = Runner(prov.steps(ctx)).run(ctx)
            outcome, error = result.outcome, result.error
            if outcome is Outcome.SUCCEEDED and ctx.artifacts:
                outcome, error, post = self._post_process(ctx, error)
            if outcome is Outcome.SUCCEEDED and prov.makes_artifacts and not ctx.artifacts:
                outcome, error = Outcome.FAILED, "the builder produced no artifact"
            if error and outcome is Outcome.FAILED:
                self.log.line(display, f"Error: {error}")
            return SourceResult(display, outcome, error, ctx.artifacts if outcome is Outcome.SUCCEEDED else [],
                                post, ctx.parent, result.cleanup_failures)
        finally:
            if self.req.on_error != "abort" or not work.exists():
                remove_tree(work)

    def _post_process(self, ctx: BuildContext, error: str | None) -> tuple[Outcome, str | None, list[Artifact]]:
        """The build's post-processor chains on the builder's artifact. When one fails, the
        images this build created are removed again: no half-finished version is left."""
        run_info = {"run_uuid": self.run_uuid, "outputs": [],
                    "artifact_ids": lambda a: ",".join(sorted(x.manifest_id() for x in ctx.artifacts))
                    if a.produced_by == "builder" else a.id,
                    "region_map": lambda a: {x.region: x.id for x in ctx.artifacts if x.region}}
        post: list[Artifact] = []
        try:
            for chain in self.inputs.build.post_processors:
                post += run_chain(chain, ctx.artifacts[0], ctx, run_info)
        except StepFailed as exc:
            _discard_created_files(ctx)
            return Outcome.FAILED, f"post-processor: {exc}", post
        except Exception as exc:  # noqa: BLE001 - a cancel or a bug: do not leave the image behind
            _discard_created_files(ctx)
            return Outcome.CANCELLED if self.cancel.is_set() else Outcome.FAILED, str(exc) or type(exc).__name__, post
        return Outcome.SUCCEEDED, error, post


def _discard_created_files(ctx: BuildContext) -> None:
    for f in ctx.created_files:  # only images this build created
        with contextlib.suppress(OSError):
            os.unlink(f)
