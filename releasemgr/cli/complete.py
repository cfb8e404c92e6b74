"""Shell completion of image, environment and version names, read from the ledger.

The `shell_complete` callbacks of the IMAGE, REF and ENV arguments and options. They run in
a process the shell starts on every TAB (`_RELEASE_COMPLETE=bash_complete ...`, see
docs/completion.md), so they are quick: the ledger is opened as it is (never created,
upgraded or written; on a SQLite file through the standard library's sqlite3, no SQLAlchemy)
and any failure -- no ledger yet, a bad release.toml -- completes nothing instead of printing.
"""

from __future__ import annotations

import contextlib

from click.shell_completion import CompletionItem

from releasemgr.cli.context import AppContext
from releasemgr.ledger.db import Ledger
from releasemgr.ledger.repo import environments, images, versions

VERSIONS_SHOWN = 30  # per image: the newest, so a long history does not flood the terminal


def _read(ctx, read) -> list[str]:
    app = ctx.find_object(AppContext) or AppContext()
    try:
        ledger = Ledger.open(app.config.ledger_url, upgrade=False)
    except Exception:  # noqa: BLE001 - no ledger, a bad config: nothing to offer, and no noise on a TAB
        return []
    try:
        with ledger.connect() as conn:
            return read(conn)
    except Exception:  # noqa: BLE001 - an older schema, a locked file: the same
        return []
    finally:
        with contextlib.suppress(Exception):
            ledger.close()


def _env_names(conn) -> list[str]:
    return [e.name for e in environments.all_(conn) if not e.retired_at]


def _refs(conn, image_names: list[str]) -> list[str]:
    """web@latest, web@<environment>, web@vN and web@<semver>, newest first, of each image."""
    envs = _env_names(conn)
    out = []
    for name in image_names:
        img = images.find(conn, name)
        if img is None:
            continue
        out += [f"{name}@latest", *(f"{name}@{e}" for e in envs)]
        for v in versions.of_image(conn, img.id, limit=VERSIONS_SHOWN):
            out.append(f"{name}@v{v.number}")
            if v.semver:
                out.append(f"{name}@{v.semver}")
    return out


def _items(names: list[str], incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(n) for n in dict.fromkeys(names) if n.startswith(incomplete)]


def image_names(ctx, param, incomplete: str) -> list[CompletionItem]:
    """IMAGE: the ledger's images."""
    return _items(_read(ctx, images.names), incomplete)


def environment_names(ctx, param, incomplete: str) -> list[CompletionItem]:
    """ENV: the environments of the policy in force."""
    return _items(_read(ctx, _env_names), incomplete)


def version_refs(ctx, param, incomplete: str) -> list[CompletionItem]:
    """REF: `web@...` of every image (of the one typed so far, once there is an `@`)."""
    image, at, _ = incomplete.partition("@")

    def read(conn):
        names = [image] if at else [n for n in images.names(conn) if n.startswith(image)]
        return _refs(conn, names)

    return _items(_read(ctx, read), incomplete)


def image_version_refs(ctx, param, incomplete: str) -> list[CompletionItem]:
    """A version beside the IMAGE argument (`deploy web --version v3`, `rollback web --to v2`):
    that image's vN and semantic versions, newest first. Click parses the options before the
    arguments, so while an option's value is being completed IMAGE may be unknown: then the
    versions of every image, and `web@...` forms."""
    image = ctx.params.get("image")
    if "@" in incomplete:
        return version_refs(ctx, param, incomplete)

    def read(conn):
        names = [image] if image else images.names(conn)
        found = [img for img in map(lambda n: images.find(conn, n), names) if img is not None]
        labels = [label for img in found for v in versions.of_image(conn, img.id, limit=VERSIONS_SHOWN)
                  for label in (f"v{v.number}", v.semver) if label]
        return labels if image else [*sorted(set(labels), key=_newest_first), *_refs(conn, names)]

    return _items(_read(ctx, read), incomplete)


def _newest_first(label: str):
    return (0, -int(label[1:])) if label[1:].isdigit() else (1, label)
