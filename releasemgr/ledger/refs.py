"""Version references: `web@v3`, `web@3`, `web@1.4.0`, `web@prod`, `web@latest`, `web`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from releasemgr.errors import NotFound, UsageError

IMAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_NUMBER_RE = re.compile(r"^v?([0-9]+)$")
MAX_NUMBER_DIGITS = 9  # version numbers the ledger can hold: up to 999,999,999
_SEMVER_RE = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_ENV_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class Ref:
    image: str
    kind: str  # number | semver | env | latest
    value: str | int | None = None

    def __str__(self) -> str:
        if self.kind == "number":
            return f"{self.image}@v{self.value}"
        if self.kind == "latest":
            return f"{self.image}@latest"
        return f"{self.image}@{self.value}"


def check_image_name(name: str) -> str:
    if not IMAGE_RE.match(name or ""):
        raise UsageError(f"invalid image name {name!r}",
                         hint="use letters, digits, '.', '_' or '-', starting with a letter or digit (max 128)")
    return name


def parse_ref(text: str, *, default: str = "latest") -> Ref:
    """Parse a reference; a bare image name means `default` (latest)."""
    text = (text or "").strip()
    image, sep, tail = text.partition("@")
    check_image_name(image)
    if not sep:
        return Ref(image, default)
    if not tail:
        raise UsageError(f"empty version in {text!r}", hint="e.g. web@v3, web@1.4.0, web@prod or web@latest")
    if tail == "latest":
        return Ref(image, "latest")
    m = _NUMBER_RE.match(tail)
    if m:
        digits = m.group(1).lstrip("0") or "0"
        if len(digits) > MAX_NUMBER_DIGITS:  # all digits is a version number, never an environment
            raise NotFound(f"no version v{digits} of {image}", hint=f"see `release versions {image}`")
        number = int(digits)
        if number < 1:
            raise UsageError(f"version numbers start at 1: {text!r}")
        return Ref(image, "number", number)
    if _SEMVER_RE.match(tail):
        return Ref(image, "semver", tail.lstrip("v"))
    if _ENV_RE.match(tail):
        return Ref(image, "env", tail)
    raise UsageError(f"cannot read the version in {text!r}",
                     hint="use web@v3, web@3, web@1.4.0, web@<environment> or web@latest")


def version_label(number: int) -> str:
    return f"v{number}"
