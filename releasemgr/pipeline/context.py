"""The typed build context shared by the steps of one source's build."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from releasemgr.pipeline.runner import Cancelled, Outcome


@dataclass
class Artifact:
    """What a builder or post-processor produced."""

    builder_type: str
    provider: str  # local | aws | null | docker ...
    id: str  # sha256:..., ami-..., region-qualified ids are separate artifacts
    region: str = ""
    files: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    produced_by: str = "builder"  # builder | post-processor type

    def manifest_id(self) -> str:
        return f"{self.region}:{self.id}" if self.region else self.id


#: How often an upload's progress is passed on (the display redraws 8 times a second).
PROGRESS_EVERY = 0.25


@dataclass
class BuildContext:
    build_id: str
    build_name: str  # the build block's name (or the image name)
    source_type: str  # "local", "null", "amazon-ebs"
    source_name: str  # "web"
    source_config: dict[str, Any]
    state_dir: Path
    work_dir: Path  # temporary, removed by cleanup
    template_dir: Path
    say_fn: Callable[[str], None]
    output_fn: Callable[[str, str], None]  # (stream, line) of a provisioner's command
    cancel_event: threading.Event = field(default_factory=threading.Event)
    on_error: str = "cleanup"
    provisioners: list = field(default_factory=list)  # releasemgr.template.model.Provisioner
    error_cleanup_provisioner: Any = None
    communicator: Any = None
    artifacts: list[Artifact] = field(default_factory=list)
    parent: str | None = None  # the base the image started from
    image: str = ""  # the ledger's image name this build makes a version of (tags, names)
    #: What the builder's steps learn and hand on, typed by the builder (the amazon-ebs
    #: builder's `AwsState`, the local builder's `LocalState`); set by its `steps(ctx)`.
    state: Any = None
    #: Files this build created as artifacts (not found already there): removed again when
    #: the build fails after its builder succeeded (a post-processor failed).
    created_files: list[str] = field(default_factory=list)
    #: Private temporary folders (and scripts at a `remote_path`) provisioners made on the
    #: machine being built, as (communicator, path), until removed: the provisioning step's
    #: cleanup removes what is still listed (after a cancel) and reports what it could not.
    temp_folders: list[tuple[Any, str]] = field(default_factory=list)
    #: Set by the runner before the cleanups run (a cleanup may act on it); None until then.
    outcome: Outcome | None = None
    started: float = field(default_factory=time.time)
    #: Where the steps' progress goes (the build log: a row of the live display on a
    #: terminal, a `progress` event under --json): called with `detail`, `done`, `total`, `unit`.
    progress_fn: Callable[..., None] | None = None

    @property
    def display(self) -> str:
        return f"{self.source_type}.{self.source_name}"

    def say(self, text: str) -> None:
        self.say_fn(text)

    def upload_progress(self, what: str, *, every: float = PROGRESS_EVERY) -> Callable[[int, int], None] | None:
        """A communicator's `progress` callback for one upload, `what` being the upload
        ("Uploading app/ => /opt/app"): it passes `(done, total)` bytes on to `progress_fn`
        at most every `every` seconds, and always the first and the last count."""
        if self.progress_fn is None:
            return None
        report, last = self.progress_fn, [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if done < total and last[0] and now - last[0] < every:
                return
            last[0] = now
            report(detail=what, done=done, total=total, unit="bytes")

        return progress

    def check_cancel(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled()
