"""Print docs/template-options.md: ``python -m releasemgr.template.schema > docs/template-options.md``."""

import sys

from releasemgr.template.schema import render_markdown

sys.stdout.write(render_markdown())
