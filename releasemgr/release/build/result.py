"""What one build source came to, whichever engine built it (native pipeline or `packer`).

A neutral module: the engines produce `SourceResult`s and the use case records them, so
neither engine imports the other nor the use case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from releasemgr.pipeline.context import Artifact
from releasemgr.pipeline.runner import Outcome


@dataclass
class SourceResult:
    display: str  # "local.web"
    outcome: Outcome
    error: str | None = None
    artifacts: list[Artifact] = field(default_factory=list)  # empty unless the source succeeded
    post_artifacts: list[Artifact] = field(default_factory=list)  # what its post-processors produced
    parent: str | None = None  # the base the image started from
    cleanup_failures: list[str] = field(default_factory=list)  # what to delete by hand


def overall_outcome(results: list[SourceResult], cancelled: bool) -> Outcome:
    """The build's outcome: cancelled beats failed beats succeeded."""
    if cancelled or any(r.outcome is Outcome.CANCELLED for r in results):
        return Outcome.CANCELLED
    if any(r.outcome is Outcome.FAILED for r in results):
        return Outcome.FAILED
    return Outcome.SUCCEEDED


def errors_of(results: list[SourceResult]) -> list[str]:
    """"source: error" of every source that did not succeed."""
    return [f"{r.display}: {r.error}" for r in results if r.error and r.outcome is not Outcome.SUCCEEDED]
