"""The built-in post-processors."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import threading
import time
import zipfile
from pathlib import Path

from releasemgr.common.secrets import mask_data
from releasemgr.pipeline.context import Artifact
from releasemgr.pipeline.provisioners.shell_local import run_local
from releasemgr.pipeline.runner import StepFailed

_manifest_lock = threading.Lock()


def _expand(text: str, ctx, artifact, **more) -> str:
    values = {"BuildName": ctx.source_name, "BuilderType": ctx.source_type, "ArtifactId": artifact.id, **more}
    for k, v in values.items():
        text = text.replace("{{." + k + "}}", str(v)).replace("{{ ." + k + " }}", str(v))
    return text


def manifest(config, artifact: Artifact, ctx, run_info):
    """Packer's manifest: appended to, `last_run_uuid` set to this run."""
    output = Path(_expand(str(config.get("output") or "packer-manifest.json"), ctx, artifact))
    files = None
    if artifact.files:
        files = []
        for f in artifact.files:
            try:
                size = os.path.getsize(f)
            except OSError:
                size = 0
            files.append({"name": os.path.basename(f) if config.get("strip_path") else f, "size": size})
    entry = {
        "name": ctx.source_name,
        "builder_type": ctx.source_type,
        "build_time": 0 if config.get("strip_time") else int(time.time()),
        "files": files,
        "artifact_id": run_info["artifact_ids"](artifact),
        "packer_run_uuid": run_info["run_uuid"],
        "custom_data": config.get("custom_data"),
    }
    with _manifest_lock:
        doc = {"builds": [], "last_run_uuid": ""}
        if output.exists():
            try:
                doc = json.loads(output.read_text())
                doc.setdefault("builds", [])
            except (OSError, json.JSONDecodeError) as exc:
                raise StepFailed(f"manifest {output} exists but is not a manifest: {exc}") from None
        doc["builds"].append(mask_data(entry))  # the run's secrets stay out of the manifest
        doc["last_run_uuid"] = run_info["run_uuid"]
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        os.replace(tmp, output)
    ctx.say(f"Wrote manifest {output}")
    run_info["outputs"].append(str(output))
    return artifact


_CHECKSUMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")


def checksum(config, artifact: Artifact, ctx, run_info):
    if not artifact.files:
        raise StepFailed(f"checksum cannot handle a {artifact.builder_type} artifact: it has no files")
    types = config.get("checksum_types") or ["md5"]
    out_tpl = str(config.get("output") or "packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum")
    written = []
    for t in types:
        if t not in _CHECKSUMS:
            raise StepFailed(f"unknown checksum type {t!r} (use {', '.join(_CHECKSUMS)})")
        path = Path(_expand(out_tpl, ctx, artifact, ChecksumType=t))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as out:
            for f in artifact.files:
                h = hashlib.new(t)
                with open(f, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
                out.write(f"{h.hexdigest()}\t{os.path.basename(f)}\n")
        written.append(str(path))
    ctx.say(f"Wrote checksums: {', '.join(written)}")
    return Artifact(builder_type="checksum", provider="file", id=",".join(written), files=written,
                    produced_by="checksum")


def compress(config, artifact: Artifact, ctx, run_info):
    if not artifact.files:
        raise StepFailed(f"compress cannot handle a {artifact.builder_type} artifact: it has no files")
    output = Path(_expand(str(config.get("output") or "packer_{{.BuildName}}_{{.BuilderType}}.tar.gz"),
                          ctx, artifact))
    level = config.get("compression_level")
    level = 6 if level is None else int(level)
    output.parent.mkdir(parents=True, exist_ok=True)
    name = output.name
    tmp = output.with_name(output.name + ".tmp")
    if name.endswith((".tar.gz", ".tgz")):
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=max(1, min(9, level)),
                                                   mtime=0) as gz:
            _tar_into(gz, artifact.files)
    elif name.endswith(".zip"):
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=max(0, min(9, level))) as zf:
            for f in artifact.files:
                zf.write(f, os.path.basename(f))
    elif name.endswith((".tar.zst", ".tzst")):
        zstd = shutil.which("zstd")
        if not zstd:
            raise StepFailed("compress to .tar.zst needs the zstd command: apt-get install zstd")
        buf = io.BytesIO()
        _tar_into(buf, artifact.files)
        res = subprocess.run([zstd, f"-{max(1, min(19, level))}", "-q", "-f", "-o", str(tmp)], input=buf.getvalue(),
                             capture_output=True)
        if res.returncode != 0:
            raise StepFailed(f"zstd failed: {res.stderr.decode(errors='replace').strip()}")
    elif name.endswith(".tar"):
        with open(tmp, "wb") as raw:
            _tar_into(raw, artifact.files)
    else:
        raise StepFailed(f"compress: cannot tell the format of {output} (use .tar.gz, .zip or .tar.zst)")
    os.replace(tmp, output)
    ctx.say(f"Compressed {len(artifact.files)} file(s) into {output}")
    return Artifact(builder_type="compress", provider="file", id=str(output), files=[str(output)],
                    produced_by="compress")


def _tar_into(fileobj, files):
    with tarfile.open(fileobj=fileobj, mode="w") as tar:
        for f in files:
            info = tar.gettarinfo(f, arcname=os.path.basename(f))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(f, "rb") as fh:
                tar.addfile(info, fh)


def shell_local_pp(config, artifact: Artifact, ctx, run_info):
    extra = {"PACKER_BUILD_NAME": ctx.source_name, "PACKER_BUILDER_TYPE": ctx.source_type,
             "RELEASE_ARTIFACT_ID": artifact.id, "RELEASE_ARTIFACT_FILES": " ".join(artifact.files)}
    run_local(config, ctx, extra_env=extra)
    return artifact


def vagrant(config, artifact: Artifact, ctx, run_info):
    """For AMIs: a .box holding metadata.json and a Vagrantfile with the region -> AMI map."""
    amis = run_info["region_map"](artifact)
    if artifact.provider != "aws" or not amis:
        raise StepFailed(f"vagrant cannot handle a {artifact.builder_type} artifact (supported here: amazon-ebs)")
    output = Path(_expand(str(config.get("output") or "packer_{{.BuildName}}_{{.Provider}}.box"), ctx, artifact,
                          Provider="aws"))
    output.parent.mkdir(parents=True, exist_ok=True)
    regions = "\n".join(f'    aws.region_config "{r}", ami: "{a}"' for r, a in sorted(amis.items()))
    vagrantfile = ("Vagrant.configure(\"2\") do |config|\n  config.vm.provider \"aws\" do |aws|\n"
                   f"{regions}\n  end\nend\n").encode()
    meta = json.dumps({"provider": "aws"}).encode()
    level = int(config.get("compression_level") or 6)
    tmp = output.with_name(output.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=max(1, min(9, level)),
                                               mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w") as tar:
            for name, data in (("metadata.json", meta), ("Vagrantfile", vagrantfile)):
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, output)
    ctx.say(f"Created Vagrant box {output}")
    return Artifact(builder_type="vagrant", provider="file", id=str(output), files=[str(output)],
                    produced_by="vagrant")


# The post-processors that run natively; any other type needs `--engine packer`.
POST_PROCESSORS = {
    "manifest": manifest,
    "checksum": checksum,
    "compress": compress,
    "shell-local": shell_local_pp,
    "vagrant": vagrant,
}
