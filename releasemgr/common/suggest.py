"""Did-you-mean, one way everywhere: the closest of some known names to one that is not known."""

from __future__ import annotations

from typing import Iterable


def closest(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate closest to `name`, or None when none is close enough."""
    import difflib  # noqa: PLC0415 - stdlib, only on an error path; `release fmt` and `status` start without it

    found = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=cutoff)
    return found[0] if found else None
