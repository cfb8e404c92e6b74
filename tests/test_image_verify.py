"""Images are verified (issue 13): a tarball is checked against its digest when it is unpacked,
and a shared unpacked copy against its seal before another server starts from it. A mismatch
fails the deploy before traffic moves; the old servers keep serving."""

from __future__ import annotations

import json
import os
import tarfile

import pytest

from local_images import add_version, get, make_image
from releasemgr.providers.local.fleet import delete_image, open_image
from releasemgr.providers.local.image import (ImageError, ImageMismatch, META_PATH, check_sealed, image_path,
                                              sidecar_paths, unpack, verify_tarball)

TOML = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"

[deploy.prod]
count = 2
strategy = "rolling"
"""


@pytest.fixture
def fleet_toml():
    return TOML


def serving(cli) -> list[str]:
    route = json.loads((cli.state / "routes" / "web@prod.json").read_text())
    return sorted(get(s["address"])[1] for s in route["servers"])


def pids(cli) -> list[int]:
    return sorted(s["pid"] for s in cli.json("servers", "web", "--env", "prod")["servers"])


def artifact_of(cli, ref: str) -> str:
    return cli.json("show", ref)["artifacts"][0]["id"]


def test_a_corrupted_tarball_fails_the_deploy_and_the_old_servers_keep_serving(fleet):
    add_version(fleet, fleet.state, "web", "hello v1")
    add_version(fleet, fleet.state, "web", "hello v2")
    fleet.ok("promote", "web@v1", "--to", "prod")
    fleet.ok("deploy", "web", "--env", "prod")
    before, route = pids(fleet), (fleet.state / "routes" / "web@prod.json").read_text()

    art = artifact_of(fleet, "web@v2")
    tar = image_path(fleet.state, art)
    data = bytearray(tar.read_bytes())
    at = data.index(b"hello v2")
    data[at] ^= 0x20  # "Hello v2": one flipped bit in a file's content
    os.chmod(tar, 0o644)
    tar.write_bytes(bytes(data))

    fleet.ok("promote", "web@v2", "--to", "prod")
    r = fleet("deploy", "web", "--env", "prod")
    assert r.code == 1, r
    assert f"image {art} is corrupted" in r.err and str(tar) in r.err, r.err
    assert "Traceback" not in r.err
    assert (fleet.state / "routes" / "web@prod.json").read_text() == route  # traffic did not move
    assert pids(fleet) == before and serving(fleet) == ["hello v1"] * 2
    assert not (fleet.state / "images" / "unpacked" / art.split(":")[1]).exists()  # nothing unpacked


def test_a_tampered_unpacked_copy_fails_the_next_deploy(fleet):
    add_version(fleet, fleet.state, "web", "hello v1")
    fleet.ok("promote", "web@v1", "--to", "prod")
    fleet.ok("deploy", "web", "--env", "prod")
    before, route = pids(fleet), (fleet.state / "routes" / "web@prod.json").read_text()

    root = fleet.state / "images" / "unpacked" / artifact_of(fleet, "web@v1").split(":")[1]
    target = root / "version.txt"
    os.chmod(target, 0o644)  # chmod u+w, then edit (same size)
    target.write_text("HACKD v1")

    r = fleet("deploy", "web", "--env", "prod", "--count", "3")  # one more v1 server from the same copy
    assert r.code == 1, r
    assert "no longer matches its seal" in r.err and "version.txt: mode, mtime changed" in r.err, r.err
    assert (fleet.state / "routes" / "web@prod.json").read_text() == route
    assert pids(fleet) == before
    assert len(fleet.json("servers", "web", "--env", "prod")["servers"]) == 2


def test_the_seal_names_what_changed(tmp_path):
    art = make_image(tmp_path / "state", "hello")
    tar = image_path(tmp_path / "state", art)
    root, meta = open_image(tmp_path / "state", tar)
    assert meta["command"] == ["python3", "server.py"] and not (root / ".release").exists()
    assert check_sealed(root, art, hashes=True) == meta

    os.chmod(root, 0o755)
    (root / "extra.txt").write_text("x")
    (root / "mode.txt").unlink()
    with pytest.raises(ImageMismatch, match="mode.txt was removed; extra.txt was added"):
        check_sealed(root, art)
    (root / "extra.txt").unlink()
    (root / "mode.txt").write_text("ok")
    os.chmod(root / "mode.txt", 0o444)
    os.utime(root / "mode.txt", ns=(0, 0))
    os.chmod(root, 0o555)
    # the same bytes, mode and mtime again: the cheap check and the hashes both pass
    assert check_sealed(root, art) == meta and check_sealed(root, art, hashes=True) == meta

    os.chmod(root / "version.txt", 0o644)
    (root / "version.txt").write_text("HELLO")  # same size; mtime put back: only the hashes see it
    os.chmod(root / "version.txt", 0o444)
    os.utime(root / "version.txt", ns=(0, 0))
    assert check_sealed(root, art) == meta
    with pytest.raises(ImageMismatch, match=r"version.txt: content \(sha256\) changed"):
        check_sealed(root, art, hashes=True)

    meta_path, _seal = sidecar_paths(root)
    os.chmod(meta_path, 0o644)
    meta_path.write_text(json.dumps({**meta, "command": ["sh", "-c", "evil"]}))
    with pytest.raises(ImageMismatch, match=f"{meta_path.name} changed"):
        check_sealed(root, art)


def test_a_copy_unpacked_by_an_older_releasemgr_is_replaced_by_a_sealed_one(tmp_path):
    state = tmp_path / "state"
    art = make_image(state, "hello")
    tar = image_path(state, art)
    old = state / "images" / "unpacked" / tar.stem
    unpack(tar, old)  # as releasemgr did before: metadata inside, no seal
    assert (old / META_PATH).exists()
    with pytest.raises(ImageError, match="has no seal"):
        check_sealed(old, art)
    root, _meta = open_image(state, tar)
    assert root == old and not (root / ".release").exists() and check_sealed(root, art)
    [aside] = [p for p in root.parent.iterdir() if p.name.startswith(".old-")]
    assert delete_image(state, art)
    assert not aside.exists() and not root.exists() and not any(p.exists() for p in sidecar_paths(root))


def test_verify_tarball(tmp_path):
    art = make_image(tmp_path / "state", "hello")
    tar = image_path(tmp_path / "state", art)
    verify_tarball(tar, art)
    with pytest.raises(ImageMismatch, match="is corrupted"):
        verify_tarball(tar, "sha256:" + "0" * 64)
    with tarfile.open(tar) as t:
        assert META_PATH in t.getnames()  # the metadata stays in the tarball (part of the digest)


def test_packing_the_same_root_again_replaces_a_corrupted_tarball(tmp_path):
    state = tmp_path / "state"
    art = make_image(state, "hello")
    tar = image_path(state, art)
    good = tar.read_bytes()
    os.chmod(tar, 0o644)
    tar.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    assert make_image(state, "hello") == art  # what `release build --force` of the same inputs does
    assert tar.read_bytes() == good
