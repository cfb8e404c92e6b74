"""The build use case: template -> pipeline -> a new immutable version in the ledger.

Every attempt is a `build` row (running | succeeded | failed | cancelled) with who, where
(host, pid, heartbeat) and its log; only a successful build makes a version, in the same
transaction that closes the build row.

One concern per module, imports pointing down this list:

- `inputs.py`   the request; load and pick the template's build, evaluate each source,
                template digest, git commit, redacted variables and secrets (no writes)
- `log.py`      `BuildLog`: masked, prefixed lines to the terminal and the build's log file
- `result.py`   `SourceResult`: what one source came to, whichever engine built it
- `liveness.py` the heartbeat thread and SIGINT/SIGTERM -> cancel
- `source.py`   `SourceBuild`: one source through the provider's steps and the post-processors
- `packer.py`   `--engine packer`: an installed `packer build`, its manifest read back
- `record.py`   the build row, its end and the version registered with it; version tags
- `run.py`      `run_build`: the orchestration of the above
"""

from releasemgr.release.build.inputs import BuildRequest
from releasemgr.release.build.run import run_build

__all__ = ["BuildRequest", "run_build"]
