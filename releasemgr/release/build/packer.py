"""`--engine packer`: delegate the build to an installed `packer` and read its manifest back.

The template is copied to a temporary folder and, in the build block, a `manifest`
post-processor writing to a temporary file is added, so the artifacts are known whatever
the template says. `--var` values reach packer in a variables file (0600) of that folder,
never on its command line. Packer's output is streamed line by line into the build log.

Packer before 1.7 cannot read `required_plugins` (and refuses a `required_version` it does not
meet): for such a packer the copy leaves both out of the `packer {}` block and the build log
says so in one line. The user's template keeps them, as a current Packer user writes it.
Sources of the `local` type are release's own builder: packer has none, and is not asked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from releasemgr.errors import UsageError
from releasemgr.pipeline.context import Artifact
from releasemgr.pipeline.runner import Outcome
from releasemgr.release.build.inputs import BuildInputs, BuildRequest
from releasemgr.release.build.log import BuildLog
from releasemgr.release.build.result import SourceResult
from releasemgr.release.lifecycle import manifest_build_artifacts
from releasemgr.template.syntax.parser import parse_file
from releasemgr.providers.registry import provider_of_source


# `packer {}` settings a packer older than this cannot read
PLUGINS_SINCE = (1, 7)
_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")
# What an amazon builder of packer says it starts from (`    web-ami.amazon-ebs.ubuntu: Found Image ID: ami-…`,
# the build's name first when it has one):
# the version's parent, as the native builder records the AMI it resolved.
_FOUND_BASE = re.compile(r"^(?:==> |\s+)?(?:[\w-]+\.)?([\w-]+\.[\w-]+): Found Image ID: (ami-\w+)\s*$")


def packer_version(packer: str) -> tuple[int, ...] | None:
    """The installed packer's version (`packer version` prints "Packer v1.6.6"), None if unknown."""
    try:
        out = subprocess.run([packer, "version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = _VERSION.search(out)
    return tuple(int(x) for x in m.groups(default="0")) if m else None


def _line_span(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) widened to whole lines when nothing else shares them."""
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].strip() == "":
        start = line_start
    nl = text.find("\n", end)
    line_end = len(text) if nl < 0 else nl + 1
    if text[end:line_end].strip() == "":
        end = line_end
    return start, end


def _with_manifest(template, build, manifest_path: Path, dest: Path, *, strip_plugins: bool = False) -> list[str]:
    """Copy the template's files into dest, adding a manifest post-processor to `build` (and,
    with `strip_plugins`, leaving out `required_plugins`/`required_version` of `packer {}`).
    Returns what was left out ("required_plugins", "required_version")."""
    files = [Path(f) for f in template.files]
    target_file = None
    end_offset = None
    edits: dict[Path, list[tuple[int, int, str]]] = {f: [] for f in files}  # (start, end, replacement)
    stripped: list[str] = []
    # the build block's body range and the packer blocks: found through the parser's tree
    for f in files:
        tree, _diags = parse_file(str(f))
        if tree is None:
            continue
        for b in tree.blocks_of("build"):
            if b.rng.start == build.pos.start and b.rng.src.name == build.pos.src.name:
                target_file, end_offset = f, b.body.rng.end
        if not strip_plugins:
            continue
        text = f.read_text()
        for p in tree.blocks_of("packer"):
            for rp in p.body.blocks_of("required_plugins"):
                edits[f].append((*_line_span(text, rp.rng.start, rp.body.rng.end), ""))
                stripped.append("required_plugins")
            if "required_version" in p.body.attributes:
                a = p.body.attributes["required_version"]
                edits[f].append((*_line_span(text, a.rng.start, a.rng.end), ""))
                stripped.append("required_version")
    if target_file is None:
        raise UsageError("cannot locate the build block to add a manifest post-processor")
    for f in files:
        text = f.read_text()
        if f == target_file:
            close = text.rfind("}", 0, end_offset)
            addition = f'\n  post-processor "manifest" {{\n    output = "{manifest_path}"\n  }}\n'
            edits[f].append((close, close, addition))
        for start, end, new in sorted(edits[f], key=lambda e: e[0], reverse=True):
            text = text[:start] + new + text[end:]
        (dest / f.name).write_text(text)
    for vf in template.var_files:
        p = Path(vf)
        if p.exists() and p.parent == Path(template.base_dir) and p.name.endswith(".auto.pkrvars.hcl"):
            shutil.copy(p, dest / p.name)
    return list(dict.fromkeys(stripped))


def check_packer(inputs: BuildInputs) -> str:
    """Before anything is recorded: the packer binary exists and every selected source is one
    packer can build. Returns packer's path."""
    packer = shutil.which("packer")
    if not packer:
        raise UsageError("--engine packer needs the packer binary",
                         hint="install it: apt-get install packer (Debian) or from HashiCorp's releases")
    for bs in inputs.selected:
        source_type = bs.display_name.split(".", 1)[0]
        p = provider_of_source(source_type)
        if p is not None and not p.packer_can_build:
            raise UsageError(f"{bs.display_name}: packer has no `{source_type}` builder (it is release's own)",
                             hint="build it without --engine packer (the native engine is the default)")
    return packer


def hcl_string(text: str) -> str:
    """`text` as an HCL quoted string that evaluates to exactly `text` (no interpolation)."""
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or ord(c) == 0x7f:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out).replace("${", "$${").replace("%{", "%%{") + '"'


def _write_var_file(template, values: dict[str, str], path: Path) -> Path:
    """The --var values as a variables file (mode 0600, in the run's private folder), so no
    value is on packer's command line (`ps` shows every process's arguments). A primitive
    variable takes the text as it is; any other type reads it as an expression, as -var does."""
    lines = []
    for name, raw in values.items():
        var = template.variables.get(name)
        primitive = var is None or isinstance(var.type, str)
        lines.append(f"{name} = {hcl_string(raw) if primitive else raw}\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("".join(lines))
    return path


def run_packer(inputs: BuildInputs, req: BuildRequest, log: BuildLog, *, cancel: threading.Event,
               state_dir) -> list[SourceResult]:
    """`packer build` on a copy of the template; one result per build in its manifest (or, when
    packer failed or was cancelled, per selected source). SIGINT reaches packer on `cancel`."""
    template, build = inputs.template, inputs.build
    packer = check_packer(inputs)
    version = packer_version(packer)
    old = version is not None and version[:2] < PLUGINS_SINCE
    work = Path(tempfile.mkdtemp(prefix="packer-run-", dir=Path(state_dir)))
    try:
        manifest = work / "release-manifest.json"
        tdir = work / "template"
        tdir.mkdir()
        stripped = _with_manifest(template, build, manifest, tdir, strip_plugins=old)
        if stripped:
            log.line(None, f"packer {'.'.join(map(str, version))} predates "
                           f"{' and '.join(stripped)} (Packer 1.7): handing it the template without them")
        argv = [packer, "build", "-color=false"]
        for vf in req.var_files:
            argv += ["-var-file", str(Path(vf).resolve())]
        if req.vars:  # last: --var beats every --var-file, as -var does in packer
            argv += ["-var-file", str(_write_var_file(template, req.vars, work / "release-vars.pkrvars.hcl"))]
        if req.only:
            argv += ["-only", ",".join(req.only)]
        if req.except_:
            argv += ["-except", ",".join(req.except_)]
        if req.force:
            argv += ["-force"]
        if req.on_error != "cleanup":
            argv += [f"-on-error={req.on_error}"]
        argv.append(str(tdir))
        log.line(None, f"Running {' '.join(argv[:2])} on {template.path}")
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                                cwd=os.getcwd(), start_new_session=True)

        def forward():
            cancel.wait()
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGINT)  # packer cleans up on its own SIGINT
                except ProcessLookupError:
                    pass

        threading.Thread(target=forward, daemon=True).start()
        bases: dict[str, str] = {}
        for line in proc.stdout:
            log.line("packer", line.rstrip("\n"), kind="out")
            if m := _FOUND_BASE.match(line):  # the first: a provisioner's output cannot echo one over it
                bases.setdefault(m.group(1), m.group(2))
        code = proc.wait()
        displays = [bs.display_name for bs in inputs.selected]
        if cancel.is_set():
            return [SourceResult(d, Outcome.CANCELLED, "cancelled") for d in displays]
        if code != 0:
            return [SourceResult(d, Outcome.FAILED, f"packer exited with status {code}") for d in displays]
        return _read_manifest(manifest, displays, bases)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _read_manifest(path: Path, displays, bases: dict[str, str]) -> list[SourceResult]:
    """The results in packer's manifest; `bases` is the AMI each source said it started from."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return [SourceResult(d, Outcome.SUCCEEDED) for d in displays]
    last = doc.get("last_run_uuid")
    out = []
    for i, b in enumerate(doc.get("builds", [])):
        if last and b.get("packer_run_uuid") != last:
            continue
        arts = [Artifact(s.builder_type or "", s.provider, s.id, region=s.region,
                         files=[f["name"] if isinstance(f, dict) else f for f in s.files or []])
                for s in manifest_build_artifacts(b, f"{path}: builds[{i}]")]
        display = f"{b.get('builder_type')}.{b.get('name')}"
        out.append(SourceResult(display, Outcome.SUCCEEDED, artifacts=arts, parent=bases.get(display)))
    return out or [SourceResult(d, Outcome.SUCCEEDED) for d in displays]
