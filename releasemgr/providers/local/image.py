"""Local images: reproducible tarballs with the server's run metadata inside.

An image is an uncompressed tar of a root folder with sorted entries, mtime 0, owner
0:0 with empty names, and normalised modes (directories 0755, files 0644, or 0755 when the
owner could execute them). The same root gives the same bytes, so the artifact id is the
content digest `sha256:<hex>`. How a server runs (command, port, env, health check) is
in `.release/image.json` inside the tarball, so an image is self-contained.

Images live at `<state>/images/local/<hex>.tar`. When a server needs one, it is unpacked
(see `unpack_sealed`) to `<state>/images/unpacked/<hex>/` *without* its metadata, which goes
to `<state>/images/meta/<hex>.json`: a server serves its root, and the metadata holds the
image's `env` (passwords, keys). A seal (`meta/<hex>.seal.json`) lists every entry of the copy,
so a copy that changed after it was unpacked is noticed before another server starts from it.
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
SEAL_FORMAT = 1


class ImageError(Exception):
    pass


class ImageMismatch(ImageError):
    """An image or its unpacked copy is not what its digest says (corrupted or tampered with)."""


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
        # an existing file of that name is only "the same image" when its bytes still are
        created = not final.exists() or digest_file(final) != f"sha256:{digest}"
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


def verify_tarball(tar_path: str | Path, artifact_id: str) -> None:
    """ImageMismatch unless the sha256 of the tarball is `artifact_id` (`sha256:<hex>`)."""
    try:
        got = digest_file(tar_path)
    except OSError as exc:
        raise ImageError(f"cannot read image {artifact_id} ({tar_path}): {exc.strerror or exc}") from None
    if got != artifact_id:
        raise ImageMismatch(f"image {artifact_id} is corrupted: its tarball {tar_path} has digest {got}")


def sidecar_paths(root: str | Path) -> tuple[Path, Path]:
    """(metadata, seal) files of the unpacked copy `<state>/images/unpacked/<hex>`, never inside
    it: `<state>/images/meta/<hex>.json` and `<hex>.seal.json`."""
    root = Path(root)
    folder = root.parent.parent / "meta"
    return folder / f"{root.name}.json", folder / f"{root.name}.seal.json"


def unpack_sealed(tar_path: str | Path, dest: str | Path, artifact_id: str, *, final: str | Path) -> dict:
    """Verify the tarball against `artifact_id`, unpack its files read-only into `dest` (the
    metadata member left out), write the metadata and the seal beside `final` (where `dest`
    will be renamed to), and return the metadata. Both side files depend only on the image, so
    concurrent unpackers write the same bytes."""
    verify_tarball(tar_path, artifact_id)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    try:
        with tarfile.open(tar_path, "r:") as tar:
            members = tar.getmembers()
            try:
                meta = json.loads(tar.extractfile(tar.getmember(META_PATH)).read())
            except KeyError:
                raise ImageError(f"{tar_path} has no {META_PATH}: not a releasemgr local image") from None
            meta_dir = META_PATH.rsplit("/", 1)[0]
            keep_meta_dir = any(m.name.startswith(meta_dir + "/") and m.name != META_PATH for m in members)
            files = [m for m in members if m.name != META_PATH and (keep_meta_dir or m.name != meta_dir)]
            tar.extractall(dest, members=files, filter="data")
    except (OSError, ValueError, tarfile.TarError) as exc:
        remove_tree(dest)
        raise ImageError(f"cannot unpack image {artifact_id} ({tar_path}): {exc}") from None
    make_read_only(dest)
    meta_path, seal_path = sidecar_paths(final)
    meta_bytes = (json.dumps(meta, sort_keys=True, indent=2) + "\n").encode()
    _write_read_only(meta_path, meta_bytes)
    seal = {"format": SEAL_FORMAT, "image": artifact_id, "meta_sha256": hashlib.sha256(meta_bytes).hexdigest(),
            "entries": _manifest(dest, hashes=True)}
    _write_read_only(seal_path, (json.dumps(seal, sort_keys=True) + "\n").encode())
    return meta


def _write_read_only(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o444)
    os.replace(tmp, path)


def _manifest(root: Path, *, hashes: bool) -> list[list]:
    """[relative path, kind, mode, size, mtime (ns), sha256 or link target] of every entry
    under root (root itself excluded), sorted; with hashes=False the last field is None for
    files."""
    out = []
    for rel, full in _entries(root):
        st = full.lstat()
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            out.append([rel, "link", mode, 0, st.st_mtime_ns, os.readlink(full)])
        elif stat.S_ISDIR(st.st_mode):
            out.append([rel, "dir", mode, 0, st.st_mtime_ns, None])
        elif stat.S_ISREG(st.st_mode):
            out.append([rel, "file", mode, st.st_size, st.st_mtime_ns, digest_file(full) if hashes else None])
        else:
            out.append([rel, "other", mode, 0, st.st_mtime_ns, None])
    return out


def check_sealed(root: str | Path, artifact_id: str, *, hashes: bool = False) -> dict:
    """Check the unpacked copy `root` against its seal and return the image's metadata.

    Always compared: the set of paths, and each entry's kind, permission bits, size,
    modification time and link target, plus the sha256 of the metadata file; with `hashes`
    also every file's sha256. ImageMismatch names what differs; ImageError when there is no
    seal (a copy unpacked by an older releasemgr)."""
    root = Path(root)
    meta_path, seal_path = sidecar_paths(root)
    try:
        seal = json.loads(seal_path.read_text())
        meta_bytes = meta_path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"the unpacked copy {root} of image {artifact_id} has no seal") from None
    except (OSError, ValueError) as exc:
        raise ImageMismatch(f"the unpacked copy {root} of image {artifact_id}: unreadable seal ({exc})") from None
    problems = []
    if seal.get("format") != SEAL_FORMAT or seal.get("image") != artifact_id:
        problems.append(f"the seal is for {seal.get('image')!r}")
    if hashlib.sha256(meta_bytes).hexdigest() != seal.get("meta_sha256"):
        problems.append(f"{meta_path.name} changed")
    want = {e[0]: e for e in seal.get("entries") or []}
    have = {e[0]: e for e in _manifest(root, hashes=hashes)}
    problems += [f"{rel} was removed" for rel in sorted(set(want) - set(have))]
    problems += [f"{rel} was added" for rel in sorted(set(have) - set(want))]
    for rel in sorted(set(want) & set(have)):
        w, h = want[rel], have[rel]
        names = ("kind", "mode", "size", "mtime", "link target" if w[1] == "link" else "content (sha256)")
        last = 6 if hashes or w[1] != "file" else 5
        diff = [names[i - 1] for i in range(1, last) if w[i] != h[i]]
        if diff:
            problems.append(f"{rel}: {', '.join(diff)} changed")
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ImageMismatch(f"the unpacked copy {root} of image {artifact_id} no longer matches its seal: "
                            f"{'; '.join(problems[:5])}{more}")
    try:
        return json.loads(meta_bytes)
    except ValueError as exc:
        raise ImageMismatch(f"{meta_path}: {exc}") from None


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
