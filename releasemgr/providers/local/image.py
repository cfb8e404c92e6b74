"""Local images: reproducible tarballs with the server's run metadata inside.

An image is an uncompressed tar of a root folder with sorted entries, mtime 0, owner
0:0 with empty names, and normalised modes (directories 0755, files 0644, or 0755 when the
owner could execute them). The same root gives the same bytes, so the artifact id is the
content digest `sha256:<hex>`. How a server runs (command, port, env, health check) is
in `.release/image.json` inside the image, so an image is self-contained.

Images live at `<state>/images/local/<hex>.tar`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tarfile
import tempfile
from pathlib import Path

META_PATH = ".release/image.json"
FORMAT = 1


class ImageError(Exception):
    pass


def images_dir(state_dir: str | Path) -> Path:
    return Path(state_dir) / "images" / "local"


def image_path(state_dir: str | Path, artifact_id: str) -> Path:
    digest = artifact_id.split(":", 1)[1] if artifact_id.startswith("sha256:") else artifact_id
    if not digest or any(c not in "0123456789abcdef" for c in digest):
        raise ImageError(f"not a local image id: {artifact_id!r}")
    return images_dir(state_dir) / f"{digest}.tar"


def write_metadata(root: str | Path, meta: dict) -> None:
    p = Path(root) / META_PATH
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({"format": FORMAT, **meta}, sort_keys=True, indent=2) + "\n")


def _entries(root: Path):
    """(relative posix path, absolute path) of everything under root, sorted, root excluded."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            out.append((full.relative_to(root).as_posix(), full))
    out.sort(key=lambda e: e[0])
    return out


def pack(root: str | Path, dest_dir: str | Path) -> tuple[str, Path]:
    """Write the image of `root` into `dest_dir`; returns (artifact id, path). Atomic."""
    artifact_id, path, _created = pack_image(root, dest_dir)
    return artifact_id, path


def pack_image(root: str | Path, dest_dir: str | Path) -> tuple[str, Path, bool]:
    """Like `pack`, and says whether the file is new (False: an identical image was there)."""
    root = Path(root)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".pack-", suffix=".tar", dir=dest_dir)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as raw:
            writer = _HashingWriter(raw, h)
            with tarfile.open(fileobj=writer, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for rel, full in _entries(root):
                    st = full.lstat()
                    info = tarfile.TarInfo(rel)
                    info.mtime = 0
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    if stat.S_ISLNK(st.st_mode):
                        info.type = tarfile.SYMTYPE
                        info.linkname = os.readlink(full)
                        info.mode = 0o777
                        tar.addfile(info)
                    elif stat.S_ISDIR(st.st_mode):
                        info.type = tarfile.DIRTYPE
                        info.mode = 0o755
                        tar.addfile(info)
                    elif stat.S_ISREG(st.st_mode):
                        info.size = st.st_size
                        info.mode = 0o755 if st.st_mode & stat.S_IXUSR else 0o644
                        with open(full, "rb") as fh:
                            tar.addfile(info, fh)
                    # sockets, fifos and devices are not part of an image
        digest = h.hexdigest()
        final = dest_dir / f"{digest}.tar"
        created = not final.exists()
        if created:
            os.replace(tmp_name, final)
            os.chmod(final, 0o444)
        else:
            os.unlink(tmp_name)
        return f"sha256:{digest}", final, created
    except BaseException:
        with _suppress():
            os.unlink(tmp_name)
        raise


class _HashingWriter:
    """A write-only file object that hashes what passes through (tarfile needs tell())."""

    def __init__(self, raw, h):
        self.raw, self.h, self.pos = raw, h, 0

    def write(self, b):
        self.h.update(b)
        self.pos += len(b)
        return self.raw.write(b)

    def tell(self):
        return self.pos

    def flush(self):
        self.raw.flush()

    def close(self):
        pass


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return True


def digest_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def read_metadata(tar_path: str | Path) -> dict:
    try:
        with tarfile.open(tar_path, "r") as tar:
            try:
                member = tar.getmember(META_PATH)
            except KeyError:
                raise ImageError(f"{tar_path} has no {META_PATH}: not a releasemgr local image") from None
            return json.loads(tar.extractfile(member).read())
    except (OSError, tarfile.TarError) as exc:
        raise ImageError(f"cannot read image {tar_path}: {exc}") from None


def unpack(tar_path: str | Path, dest: str | Path, *, read_only: bool = True, mode: str = "r") -> Path:
    """Unpack into `dest` (created); with read_only, files and folders lose their write bits.

    `mode` is tarfile's: "r" probes gzip/bz2/xz first; "r:" reads an uncompressed tar
    (what local images are) without the probing."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    try:
        with tarfile.open(tar_path, mode) as tar:
            tar.extractall(dest, filter="data")
    except (OSError, tarfile.TarError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise ImageError(f"cannot unpack image {tar_path}: {exc}") from None
    if read_only:
        make_read_only(dest)
    return dest


def make_read_only(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode & ~0o222)
        os.chmod(dirpath, os.stat(dirpath).st_mode & ~0o222)


def remove_tree(root: str | Path) -> None:
    """Remove a read-only tree (gives write bits back first)."""
    root = Path(root)
    if not root.exists():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
    shutil.rmtree(root, ignore_errors=True)
