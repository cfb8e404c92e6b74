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

Standard library only (``re``, ``json``): every command imports this.
"""

from __future__ import annotations

import json
import re

__all__ = ["MASK", "Masker", "is_secret_name"]

MASK = "<sensitive>"

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


class Masker:
    """Replaces every known secret value in a text by MASK, the longest first.

    Values shorter than 3 characters are not masked (they would hide every "a" and "1"); a
    value is also masked as it appears inside a JSON string (quotes and backslashes escaped)."""

    def __init__(self, values=()):
        self._values: set[str] = set()
        self._ordered: list[str] = []
        for v in values:
            self.add(v)

    def add(self, value) -> None:
        if not isinstance(value, str) or len(value) < 3:
            return
        before = len(self._values)
        self._values.add(value)
        self._values.add(json.dumps(value, ensure_ascii=False)[1:-1])
        if len(self._values) != before:
            self._ordered = sorted(self._values, key=len, reverse=True)

    @property
    def values(self) -> frozenset[str]:
        return frozenset(self._values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def mask(self, text: str) -> str:
        for value in self._ordered:
            if value in text:
                text = text.replace(value, MASK)
        return text
