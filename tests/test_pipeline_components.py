"""The provisioners and post-processors that run natively are listed in one table each,
and they are exactly the types the schema validates."""

from __future__ import annotations

from releasemgr.pipeline.postprocessors import POST_PROCESSORS
from releasemgr.pipeline.provisioners import PROVISIONERS
from releasemgr.template.schema import known_types


def test_the_native_tables_match_the_schema():
    assert set(PROVISIONERS) == set(known_types("provisioner"))
    assert set(POST_PROCESSORS) == set(known_types("post-processor"))
    assert all(callable(fn) for fn in [*PROVISIONERS.values(), *POST_PROCESSORS.values()])
