"""What is secret, and how a secret is hidden: one rule for the ledger, logs, output and the schema.

A name (of a variable or of a component option) is secret when one of its words says it
holds a secret: password, passwd, passphrase, secret, token, credential(s), private, mfa,
otp, or ``key`` with a word before it (``access_key``, ``secret_key``, ``api_key``). Words
are split at ``_``, ``-``, ``.`` and camelCase, and glued names (``dbpassword``,
``githubtoken``) count too. When in doubt a name is secret: ``<sensitive>`` recorded for a
harmless value costs little, a recorded password costs much.

Not secret, although such a word appears: names whose last word says they *point at* or
*describe* a secret rather than hold it (``ssh_private_key_file``, ``kms_key_id``,
``temporary_key_pair_name``, ``windows_password_timeout``, ``skip_credential_validation``),
public keys (``ssh_public_key``, ``ssh_host_key``), a tag's bare ``key``, and ``http_tokens``
(an AWS metadata option whose values are "required" and "optional").

A variable declared ``sensitive = true`` is secret whatever its name; the template decides.

How a secret is hidden: a `Masker` replaces every value it knows by MASK. A value of
``MIN_TRANSFORMED`` (8) characters or more is also found in its common transforms: upper, lower
or mixed case, JSON- and URL-escaped, and base64 (standard and URL-safe alphabets) at each of
its three alignments (the characters that encode only the value's own bits, whatever precedes
or follows it). A shorter value is masked only as written (and `release validate` warns that
it cannot be masked reliably); values under 3 characters not at all.

One masker per process: `process_masker()` is the registry every way out reads (the Ui, the
build log, the build row's error, every audit event before it is hashed). A build registers
each sensitive value of its run (`register`); the CLI starts each run with an empty one
(`begin_run`).

Standard library only (``re``, ``json``, ``base64``, ``urllib.parse``): every command imports this.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "MIN_TRANSFORMED", "Masker", "begin_run", "is_secret_name", "mask", "mask_data",
           "process_masker", "register"]

MASK = "<sensitive>"
MIN_TRANSFORMED = 8  # from this length on, a secret is masked in its transforms too
MIN_MASKED = 3  # shorter values would hide every "a" and "1"

_SECRET_WORDS = frozenset({"password", "passwords", "passwd", "passphrase", "secret", "secrets", "token",
                           "credential", "credentials", "private", "mfa", "otp", "totp"})
# Glued into a longer word ("dbpassword", "githubtoken"): still secret. Not searched inside
# words: "key" ("keyboard", "monkey") and "otp" ("footprint").
_SECRET_INSIDE = re.compile(r"password|passwd|passphrase|secret|credential|private|token")
# A last word that makes the name a reference to a secret or a setting about it, not the secret.
_REFERENCE_WORDS = frozenset({"file", "path", "dir", "id", "ids", "arn", "name", "type", "bits", "algorithms",
                              "timeout", "validation", "url"})
_NOT_SECRET = frozenset({"http_tokens"})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def is_secret_name(name: str) -> bool:
    """Whether a value named `name` (a variable, an option) is a secret."""
    lowered = name.lower()
    words = [w.lower() for w in _WORD.findall(name)]
    if lowered in _NOT_SECRET or not words or words[-1] in _REFERENCE_WORDS:
        return False
    if "public" in words or words[-2:] == ["host", "key"]:  # public keys are meant to be seen
        return False
    if _SECRET_WORDS.intersection(words) or ("key" in words and len(words) > 1):
        return True
    return bool(_SECRET_INSIDE.search(lowered))


def _base64_forms(value: str) -> set[str]:
    """The base64 text that encodes `value`'s bytes at each of the three alignments: only
    the characters made of the value's own bits (the neighbours' bits change the others)."""
    data = value.encode("utf-8")
    out = set()
    for k in range(3):
        # base64 character i carries bits [6i, 6i+6) of the stream; the value's bits are
        # [8k, 8(k+n)); two zero bytes after it avoid "=" padding inside the range
        encoded = base64.b64encode(b"\0" * k + data + b"\0\0").decode("ascii")
        first, end = -(-8 * k // 6), 8 * (k + len(data)) // 6
        if end - first >= 4:
            part = encoded[first:end]
            out.add(part)
            out.add(part.replace("+", "-").replace("/", "_"))
    return out


def transforms(value: str) -> tuple[set[str], set[str]]:
    """(forms matched ignoring case, forms matched exactly) under which `value` is masked."""
    json_form = json.dumps(value, ensure_ascii=False)[1:-1]
    if len(value) < MIN_TRANSFORMED:
        return set(), {value, json_form}
    texts = {value, json_form, json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value, safe=""),
             quote(value)}
    return texts, _base64_forms(value)


class Masker:
    """Replaces every known secret value in a text by MASK, the longest match first: values of
    8 characters or more in their transforms too (any case, JSON- and URL-escaped, base64 at
    each alignment), shorter ones (3 to 7 characters) as written and JSON-escaped.

    Thread safe: the sources of a build add and mask from several threads."""

    def __init__(self, values=()):
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern | None = None
        for v in values:
            self.add(v)

    def add(self, value) -> None:
        if value is None or isinstance(value, bool):
            return
        if isinstance(value, (list, tuple, set, frozenset)):
            for v in value:
                self.add(v)
            return
        if isinstance(value, dict):
            for v in value.values():
                self.add(v)
            return
        value = str(value)
        if len(value) < MIN_MASKED or value in self._values:
            return
        with self._lock:
            self._values.add(value)
            self._pattern = self._compile(self._values)

    @staticmethod
    def _compile(values: set[str]) -> re.Pattern:
        folded: set[str] = set()
        exact: set[str] = set()
        for v in values:
            f, e = transforms(v)
            folded |= f
            exact |= e
        alternatives = [(len(t), f"(?i:{re.escape(t)})") for t in folded]
        alternatives += [(len(t), re.escape(t)) for t in exact - folded]
        alternatives.sort(key=lambda a: -a[0])  # the longest first
        return re.compile("|".join(a for _, a in alternatives))

    @property
    def values(self) -> frozenset[str]:
        return frozenset(self._values)

    @property
    def short_values(self) -> list[str]:
        """The values masked only as written (shorter than MIN_TRANSFORMED)."""
        return sorted(v for v in self._values if len(v) < MIN_TRANSFORMED)

    def __bool__(self) -> bool:
        return bool(self._values)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None

    def mask(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def mask_data(self, data):
        """`data` (JSON-like: dicts, lists, strings) with every string masked, keys included."""
        if self._pattern is None:
            return data
        if isinstance(data, str):
            return self.mask(data)
        if isinstance(data, dict):
            return {self.mask(k) if isinstance(k, str) else k: self.mask_data(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.mask_data(v) for v in data]
        return data


# -- the process's masker ------------------------------------------------------------------------

_PROCESS = Masker()


def process_masker() -> Masker:
    """The one masker of this process: every way out masks through it."""
    return _PROCESS


def register(value) -> None:
    """Make `value` (a string, number, or a list/dict of them) secret for the rest of the run."""
    _PROCESS.add(value)


def mask(text: str) -> str:
    return _PROCESS.mask(text)


def mask_data(data):
    return _PROCESS.mask_data(data)


def begin_run() -> None:
    """A new run (one CLI invocation) starts knowing no secret."""
    _PROCESS.clear()
