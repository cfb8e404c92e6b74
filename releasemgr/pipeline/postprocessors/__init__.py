"""Post-processors: manifest, checksum, compress, shell-local, vagrant.

Each takes the artifact of the step before it (the builder's, or the previous one in a
`post-processors` chain) and returns the artifact it produced, or the input when it
produced none. A post-processor that cannot handle an artifact type raises StepFailed
saying so.
"""

from __future__ import annotations

from releasemgr.pipeline.postprocessors.base import POST_PROCESSORS, run_chain

__all__ = ["POST_PROCESSORS", "run_chain"]
