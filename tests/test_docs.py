"""The user documentation stays true: every command's help has an example, docs/cli.md is
the commands' --help, the docs index links only to files that exist, command lines shown
in the docs parse with today's options, and help never imports the heavy libraries."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from conftest import session_env
from releasemgr.cli import LAZY_COMMANDS, cli
from releasemgr.cli.context import AppContext
from releasemgr.cli.docgen import collect_help, render_cli_reference

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# The docs written by this suite's owner; the link and command-line checks cover them.
OWN_DOCS = ["README.md", "concepts.md", "config.md", "policies.md", "json.md"]
# Every doc the project has; docs/README.md must index each of them.
ALL_DOCS = OWN_DOCS + ["cli.md", "templates.md", "fmt.md", "functions.md", "template-options.md",
                       "ledger.md", "audit.md", "benchmarks.md", "testing.md", "architecture.md",
                       "providers.md", "completion.md", "security.md"]
HEAVY = ("boto3", "botocore", "paramiko", "sqlmodel", "sqlalchemy", "rich")
# Sub-commands of groups the reference must show (the top-level ones are LAZY_COMMANDS).
SUBCOMMANDS = ["audit verify", "ledger info", "ledger upgrade"]


@pytest.fixture(scope="module")
def entries():
    return collect_help()


# -- help texts -----------------------------------------------------------------------------

def test_reference_covers_every_command_in_order(entries):
    top = [" ".join(e.path) for e in entries if len(e.path) == 1]
    assert top == list(LAZY_COMMANDS), "the reference must list LAZY_COMMANDS in their order"
    names = {" ".join(e.path) for e in entries}
    missing = [name for name in SUBCOMMANDS if name not in names]
    assert not missing, f"these sub-commands are not in the reference: {missing}"
    assert entries[0].path == () and entries[0].help.startswith("Usage: release [OPTIONS] COMMAND")


def test_every_command_and_subcommand_help_has_an_example(entries):
    without = []
    for e in entries:
        m = re.search(r"^  Example:\n((?:    .+\n)+)", e.help, re.M)
        if not m or not any(line.strip().startswith("release ") for line in m.group(1).splitlines()):
            without.append(e.name)
    assert not without, f"help without an 'Example:' block of `release ...` lines: {without}"


def test_every_command_has_a_description(entries):
    empty = []
    for e in entries:
        body = e.help.split("\n\n", 1)[1] if "\n\n" in e.help else ""
        if not body.strip() or body.lstrip().startswith("Options:"):
            empty.append(e.name)
    assert not empty, f"commands without a description: {empty}"


def test_subcommands_of_groups_are_in_the_reference(entries):
    names = [e.name for e in entries]
    assert names.index("release audit") < names.index("release audit verify") < names.index("release ledger")
    assert names.index("release ledger") < names.index("release ledger info") < names.index("release ledger upgrade")
    verify = next(e for e in entries if e.name == "release audit verify")
    assert verify.help.startswith("Usage: release audit verify [OPTIONS]")


# -- docs/cli.md ----------------------------------------------------------------------------

def test_cli_reference_is_up_to_date():
    path = DOCS / "cli.md"
    assert path.is_file(), "docs/cli.md is missing: run python -m releasemgr.cli.docgen"
    assert path.read_text(encoding="utf-8") == render_cli_reference(), \
        "docs/cli.md differs from the commands' --help: run python -m releasemgr.cli.docgen"


def test_reference_contains_each_help_verbatim(entries):
    text = render_cli_reference()
    for e in entries:
        assert "```text\n" + e.help.rstrip("\n") + "\n```" in text, e.name
    promote = next(e for e in entries if e.name == "release promote")
    assert "--approved-by" not in promote.help and "--override" in promote.help
    assert "release approve" in promote.help


def test_reference_is_the_same_whatever_the_terminal(tmp_path):
    """Fixed width: a narrow terminal, another folder and NO_COLOR change nothing."""
    env = {**os.environ, "COLUMNS": "41", "LINES": "10", "NO_COLOR": "1"}
    out = tmp_path / "cli.md"
    r = subprocess.run([sys.executable, "-m", "releasemgr.cli.docgen", "--output", str(out)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert out.read_text(encoding="utf-8") == render_cli_reference()
    widest = max(len(line) for line in out.read_text(encoding="utf-8").split("```text")[1].splitlines())
    assert widest > 60, "help was wrapped to the terminal, not to the fixed width"


def test_docgen_check_exits_1_when_stale_and_0_when_current(tmp_path):
    out = tmp_path / "cli.md"
    out.write_text("# CLI reference\n\nstale\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "releasemgr.cli.docgen", "--check", "--output", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "run python -m releasemgr.cli.docgen" in r.stderr
    assert out.read_text(encoding="utf-8") == "# CLI reference\n\nstale\n", "--check must not write"
    r = subprocess.run([sys.executable, "-m", "releasemgr.cli.docgen", "--output", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "wrote" in r.stdout
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "up to date" in r.stdout


def test_every_lazy_command_resolves_to_a_click_command():
    root = click.Context(cli, info_name="release", obj=AppContext())
    for name, (target, _) in LAZY_COMMANDS.items():
        assert isinstance(cli.get_command(root, name), click.Command), f"LAZY_COMMANDS[{name!r}] = {target!r}"


@pytest.mark.parametrize("target", ["releasemgr.cli.no_such_module:teleport", "releasemgr.cli.lifecycle:teleport"])
def test_a_lazy_command_that_does_not_import_fails_loudly(monkeypatch, capsys, target):
    """A typo in LAZY_COMMANDS (module or attribute) is an error, in the docs and at the
    command line, never a placeholder or "No such command"."""
    from releasemgr.cli import main

    monkeypatch.setitem(LAZY_COMMANDS, "teleport", (target, "Move servers between clouds."))
    with pytest.raises((ModuleNotFoundError, AttributeError), match="no_such_module|teleport"):
        render_cli_reference()
    code = main(["teleport"])
    err = capsys.readouterr().err
    assert code == 1 and "internal error" in err and "No such command" not in err
    assert ("no_such_module" in err) or ("teleport" in err)


# -- docs/README.md and links ---------------------------------------------------------------

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _local_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return [t for t in _LINK.findall(text) if not re.match(r"^[a-z]+:", t) and not t.startswith("#")]


def test_every_doc_linked_from_the_index_exists():
    index = DOCS / "README.md"
    assert index.is_file(), "docs/README.md (the index of the docs) is missing"
    links = [t.split("#", 1)[0] for t in _local_links(index)]
    assert links, "docs/README.md links to nothing"
    missing = sorted({t for t in links if not (DOCS / t).exists()})
    assert not missing, f"docs/README.md links to files that do not exist: {missing}"


def test_the_index_names_every_doc():
    linked = {t.split("#", 1)[0] for t in _local_links(DOCS / "README.md")}
    unlisted = [name for name in ALL_DOCS if name != "README.md" and name not in linked]
    assert not unlisted, f"docs/README.md does not link to {unlisted}"
    on_disk = sorted(p.name for p in DOCS.glob("*.md") if p.name != "README.md")
    assert not [n for n in on_disk if n not in linked], "a file in docs/ is not in the index"


@pytest.mark.parametrize("name", OWN_DOCS + ["cli.md", "architecture.md", "providers.md", "testing.md",
                                  "security.md"])
def test_links_between_docs_resolve(name):
    path = DOCS / name
    assert path.is_file(), f"docs/{name} is missing"
    anchors_cache: dict[Path, set[str]] = {}
    broken = []
    for target in _local_links(path):
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part) if file_part else path
        if not dest.exists():
            if file_part in ALL_DOCS:
                continue  # another engineer's doc, checked by the index test
            broken.append(target)
            continue
        if anchor and dest.suffix == ".md":
            if dest not in anchors_cache:
                anchors_cache[dest] = _anchors(dest)
            if anchor not in anchors_cache[dest]:
                broken.append(target)
    assert not broken, f"docs/{name} has broken links: {broken}"


def _anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    out = set(re.findall(r'<a id="([^"]+)"', text))
    for heading in re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", text, flags=re.S), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


# -- command lines in the docs parse --------------------------------------------------------

def _doc_command_lines() -> list[tuple[str, str]]:
    found = []
    for name in OWN_DOCS:
        path = DOCS / name
        if not path.is_file():
            continue
        for block in re.findall(r"```(?:console|sh|shell|bash)\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
            for line in block.splitlines():
                line = line.strip()
                if line.startswith("$ "):
                    line = line[2:]
                line = line.split(" | ", 1)[0].split(" > ", 1)[0].split(" && ", 1)[0]
                if line.startswith("release "):
                    found.append((name, line))
    return found


def test_the_docs_show_command_lines():
    assert len(_doc_command_lines()) >= 20, "the docs should show real command lines in ```console blocks"


@pytest.mark.parametrize("doc,line", _doc_command_lines())
def test_every_command_line_in_the_docs_parses(doc, line):
    """Each `release ...` line shown in the docs names a command and options that exist."""
    args = shlex.split(line)[1:]
    root = click.Context(cli, info_name="release", obj=AppContext())
    # global options may come first
    while args and args[0].startswith("-"):
        args = args[2:] if args[0] in ("--state", "--ledger", "--config", "--actor") else args[1:]
    if not args or args[0] in ("--help", "-h", "--version"):
        return
    name = args[0]
    assert name in LAZY_COMMANDS, f"docs/{doc}: `{line}` uses an unknown command {name!r}"
    command = cli.get_command(root, name)
    ctx = command.make_context(name, list(args[1:]), parent=root)
    while isinstance(command, click.Group) and _pending(ctx):
        sub_name, *rest = _pending(ctx)
        sub = command.get_command(ctx, sub_name)
        assert sub is not None, f"docs/{doc}: `{line}`: no sub-command {sub_name!r}"
        command, ctx = sub, sub.make_context(sub_name, rest, parent=ctx)


def _pending(ctx: click.Context) -> list[str]:
    """What a group left for its sub-command (click 9 keeps all of it in `args`)."""
    return [*getattr(ctx, "_protected_args", []), *ctx.args]


# -- help is light ---------------------------------------------------------------------------

_PROBE = """
import contextlib, io, json, sys
from releasemgr.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print(json.dumps({{"code": code, "heavy": heavy, "help": out.getvalue()}}))
"""


@pytest.mark.parametrize("argv", [["--help"], ["fmt", "--help"], ["validate", "--help"], ["inspect", "--help"]])
def test_help_imports_no_heavy_library(argv):
    r = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=set(HEAVY)), *argv],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout.strip().splitlines()[-1])
    assert doc["code"] == 0
    assert doc["help"].startswith("Usage: release"), doc["help"][:200]
    assert doc["heavy"] == [], f"`release {' '.join(argv)}` imported {doc['heavy']}"


def test_docgen_imports_no_heavy_library():
    probe = ("import sys; import releasemgr.cli.docgen; "
             f"print(sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r}))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# -- the examples in docs/policies.md are real output ---------------------------------------

_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?")
_HASH = re.compile(r"\b[0-9a-f]{64}\b")
_DOC_WINDOW = "2026-11-23 00:00 - 2026-11-27 06:00 Europe/Berlin"

def _raise_prod_approvals(folder: Path) -> None:
    path = folder / "release.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("approvals = 1", "approvals = 2"), encoding="utf-8")


# The session behind docs/policies.md, in the order it was typed; the doc shows parts of it.
POLICY_SESSION = [
    "release register web --artifact aws:us-east-1:ami-0001",
    "release register web --artifact aws:us-east-1:ami-0002",
    "release register web --artifact aws:us-east-1:ami-0003",
    "release promote web@v1 --to dev",
    "release promote web@v1 --to staging",
    "release promote web@v2 --to prod --ticket CHG-41",
    "release promote web@v1 --to prod",
    "release promote web@v1 --to prod --json",
    "release approve web@v1 --env prod",
    "release promote web@v1 --to prod --ticket CHG-42",
    'release promote web@v1 --to prod --ticket CHG-42 --override --reason "INC-7: customer outage fix"',
    "release promote web@v1 --to prod --ticket CHG-42 --approved-by bob",
    "release approve web@v1 --env prod --ticket CHG-42 --actor bob",
    "release promote web@v1 --to prod --ticket CHG-42",
    "release promote web@v1 --to prod --ticket CHG-42 --override",
    'release promote web@v1 --to prod --ticket CHG-42 --override --reason "INC-7: customer outage fix"',
    "release audit --action policy.override --json",
    "release show web@v1",
    "release promote web@v2 --to dev",
    "release promote web@v2 --to staging",
    "release approve web@v2 --env prod --actor bob",
    "release promote web@v2 --to prod --ticket CHG-50 --override --reason INC-8",
    "release promote web@v3 --to dev",
    'release revoke web@v2 --reason "CVE-2026-1234 in openssl"',
    "release status",
    'release rollback web --env prod --ticket CHG-52 --override --reason "v2 revoked"',
    "release rollback web --env prod --to web@v2 --ticket X --override --reason r",
    'release revoke web@v3 --reason "bad build" --rollback',
    "release rollback web --env dev",
    "release rollback web --env staging --to web@v3",
    "release policy show",
    _raise_prod_approvals,
    "release history web --env prod",
    "release policy apply --dry-run",
    "release policy apply",
]


_DIGEST = re.compile(r"sha256:[0-9a-f]{12,64}")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def _normalise(text: str) -> str:
    text = _DIGEST.sub("sha256:<digest>", _UUID.sub("<uuid>", text))
    text = _HASH.sub("<hash>", _STAMP.sub("<time>", text))
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _doc_examples(text: str) -> list[tuple[str, str]]:
    """(command line, expected output) for every `$ release ...` line of a console block."""
    out = []
    for indent, block in re.findall(r"^( *)```console\n(.*?)^ *```", text, re.S | re.M):
        cmd, lines = None, []
        for line in [x[len(indent):] for x in block.splitlines()] + ["$ "]:
            if line.startswith("$ "):
                if cmd is not None:
                    out.append((cmd, "\n".join(lines)))
                cmd, lines = line[2:].strip() or None, []
            else:
                lines.append(line)
    return out


def _run_session(tmp_path: Path, config: str | None, session: list,
                 actor: str = "alice") -> list[tuple[list[str], str]]:
    import contextlib
    import io

    from releasemgr.cli import main

    if config is not None:
        (tmp_path / "release.toml").write_text(config, encoding="utf-8")
    env = {"RELEASE_ACTOR": actor, "RELEASE_STATE": None, "RELEASE_LEDGER": None, "RELEASE_CONFIG": None}
    results = []
    with session_env(tmp_path, env):
        for line in session:
            if callable(line):  # a step of the session that is not a command (editing a file)
                line(tmp_path)
                continue
            argv = shlex.split(line)[1:]
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                main(argv)
            shown = out.getvalue() if "--json" in argv else out.getvalue() + err.getvalue()
            results.append((argv, shown))
    return results


def test_policy_examples_are_real_output(tmp_path):
    """Replays the session behind docs/policies.md with the doc's own release.toml (its
    one-off freeze window moved to cover today) and compares every example, times and
    hashes aside."""
    from datetime import datetime, timedelta, timezone

    doc = (DOCS / "policies.md").read_text(encoding="utf-8")
    config = re.search(r"```toml\n(.*?)```", doc, re.S).group(1)
    assert _DOC_WINDOW in config
    now = datetime.now(timezone.utc)
    window = f"{(now - timedelta(days=2)):%Y-%m-%d} 00:00 - {(now + timedelta(days=2)):%Y-%m-%d} 06:00 UTC"
    # only the one-off window, so the weekly one cannot be the first match on a weekend
    config = re.sub(r"freeze = \[.*\]", f'freeze = ["{window}"]', config)
    results = _run_session(tmp_path, config, POLICY_SESSION)
    _compare("policies.md", doc.replace(_DOC_WINDOW, window), results, at_least=10)


def _compare(name: str, doc: str, results, *, at_least: int) -> None:
    examples = _doc_examples(doc)
    assert len(examples) >= at_least, f"docs/{name} has fewer examples than expected"
    for cmd, expected in examples:
        argv = shlex.split(cmd)[1:]
        runs = [shown for a, shown in results if a == argv]
        assert runs, f"docs/{name} shows `{cmd}`, which the session does not run"
        want = _normalise(expected)
        got = [_normalise(s) for s in runs]
        assert want in got, f"docs/{name}: `{cmd}` shows\n{want}\n\nbut it prints\n" + "\n--\n".join(got)


# The session behind docs/concepts.md: the shipped local template, default environments.
CONCEPTS_SESSION = [
    "release build templates/local.pkr.hcl",
    "release build templates/local.pkr.hcl",
    "release promote web@v1 --to dev",
    "release promote web@v1 --to prod",
    "release promote web@v1 --to staging",
    "release promote web@v1 --to prod",
    "release build templates/local.pkr.hcl --var greeting=hola --bump minor",
    "release promote web@v2 --to dev",
    "release status",
    "release show web@dev",
    "release versions web",
    "release rollback web --env dev",
    "release history web --env dev",
    "release audit --image web --limit 3",
]


def test_concepts_examples_are_real_output(tmp_path):
    """Replays the session behind docs/concepts.md (real builds of templates/local.pkr.hcl
    with the local builder) and compares every example, times, ids and digests aside."""
    import shutil

    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    results = _run_session(tmp_path, None, CONCEPTS_SESSION, actor="alice@laptop")
    for f in sorted({str(tmp_path), str(tmp_path.resolve())}, key=len, reverse=True):
        results = [(argv, shown.replace(f, "/tmp/demo")) for argv, shown in results]
    _compare("concepts.md", (DOCS / "concepts.md").read_text(encoding="utf-8"), results, at_least=12)


def _write_broken_template(folder: Path) -> None:
    (folder / "broken.pkr.hcl").write_text(
        'source "null" "a" {\n  communicator = "none"\n}\nbuild {\n  sources = ["source.null.a"\n}\n', encoding="utf-8")


def _tamper_with_event_5(folder: Path) -> None:
    import sqlite3

    con = sqlite3.connect(folder / "state" / "ledger.db")
    try:
        con.execute("UPDATE audit_event SET actor = 'mallory' WHERE seq = 5")
        con.commit()
    finally:
        con.close()


# The session behind docs/json.md (it ran in /tmp/json-demo).
JSON_SESSION = [
    "release register web --artifact aws:us-east-1:ami-0abc123 --artifact aws:us-west-2:ami-0def456 --version 1.0.0",
    "release register web --artifact aws:us-east-1:ami-0bbb222 --bump minor",
    "release promote web@v1 --to dev",
    "release promote web@v1 --to staging",
    "release promote web@v1 --to prod",
    "release show web@prod --json",
    "release images --json",
    "release show web@v9 --json",
    "release promote web@v2 --to dev --json",
    "release status --env dev --json",
    "release history web --env dev --limit 1 --json",
    "release build templates/local.pkr.hcl --json",
    "release build templates/local.pkr.hcl --json",
    "release audit --limit 1 --json",
    "release audit verify --json",
    "release ledger info --json",
    _write_broken_template,
    "release validate broken.pkr.hcl --json",
    _tamper_with_event_5,
    "release audit verify --json",
]


def test_json_examples_are_real_output(tmp_path):
    """Replays the session behind docs/json.md and compares every `--json` example."""
    import shutil

    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    results = _run_session(tmp_path, None, JSON_SESSION, actor="alice@laptop")
    folders = sorted({str(tmp_path), str(tmp_path.resolve())}, key=len, reverse=True)

    def here(text: str) -> str:
        for f in folders:
            text = text.replace(f, "/tmp/json-demo")
        return text

    results = [(argv, here(shown)) for argv, shown in results]
    _compare("json.md", (DOCS / "json.md").read_text(encoding="utf-8"), results, at_least=12)
    for argv, shown in results:
        if "--json" in argv:
            for doc in shown.strip().splitlines() if argv[0] == "build" and "skipped" not in shown else [shown]:
                json.loads(doc)  # every --json output is JSON (one document, or one per line)


# -- docs/config.md: its examples load, its claims hold --------------------------------------

def _toml_blocks(name: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", (DOCS / name).read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("name", ["config.md", "policies.md"])
def test_every_toml_example_is_a_valid_release_toml(name, tmp_path):
    from releasemgr.config import load_config

    blocks = _toml_blocks(name)
    assert blocks, f"docs/{name} shows no release.toml"
    for i, block in enumerate(blocks):
        path = tmp_path / f"example{i}.toml"
        path.write_text(block, encoding="utf-8")
        load_config(str(path), cwd=str(tmp_path))  # raises ConfigError if the doc is wrong


def test_config_reference_example_means_what_the_doc_says(tmp_path):
    from releasemgr.config import load_config

    complete = next(b for b in _toml_blocks("config.md") if "[deploy.prod]" in b)
    ops = tmp_path / "ops"
    ops.mkdir()
    (ops / "release.toml").write_text(complete, encoding="utf-8")
    cfg = load_config(str(ops / "release.toml"), cwd=str(tmp_path))
    assert cfg.environment_names == ["dev", "staging", "prod"]
    prod = cfg.environment("prod")
    assert (prod.requires, prod.require_ticket, prod.approvals) == ("staging", True, 1)
    assert [w.text for w in prod.freeze] == ["Fri 18:00 - Mon 06:00 Europe/Berlin",
                                            "2026-12-20 00:00 - 2027-01-04 06:00 Europe/Berlin"]
    assert cfg.deploy["prod"]["count"] == 3
    # relative paths in the file are relative to the file's folder, not the cwd
    assert cfg.state_dir == ops / "state"
    assert cfg.ledger_url == f"sqlite:///{(ops / 'state' / 'ledger.db').resolve()}"
    # the "defaults without a file" table
    bare = load_config(None, cwd=str(tmp_path))
    assert bare.path is None and bare.environment_names == ["dev", "staging", "prod"]
    assert [(e.requires, e.require_ticket, e.approvals, e.freeze) for e in bare.environments] == [
        (None, False, 0, []), ("dev", False, 0, []), ("staging", False, 0, [])]
    assert bare.ledger_url == f"sqlite:///{(tmp_path / 'state' / 'ledger.db').resolve()}"
    # flag/env beat the file (the CLI passes --ledger / RELEASE_LEDGER as ledger_url)
    flagged = load_config(str(ops / "release.toml"), cwd=str(tmp_path), ledger_url="sqlite:///x.db",
                          state_dir=str(tmp_path / "elsewhere"))
    assert flagged.ledger_url == "sqlite:///x.db" and flagged.state_dir == tmp_path / "elsewhere"


def test_freeze_windows_behave_as_documented():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from releasemgr.config import FreezeWindow

    berlin = ZoneInfo("Europe/Berlin")
    weekly = FreezeWindow.parse("Fri 18:00 - Mon 06:00 Europe/Berlin")
    at = lambda *a: datetime(*a, tzinfo=berlin)  # noqa: E731
    assert weekly.contains(at(2026, 11, 27, 18, 0))  # Friday 18:00: the start is inside
    assert weekly.contains(at(2026, 11, 29, 12, 0))  # Sunday: wraps over the weekend
    assert not weekly.contains(at(2026, 11, 30, 6, 0))  # Monday 06:00: the end is not
    assert not weekly.contains(at(2026, 11, 25, 12, 0))  # Wednesday
    assert weekly.contains(at(2026, 7, 3, 18, 30))  # summer time: still 18:00 Berlin time
    assert FreezeWindow.parse("Friday 18:00 - Mon 06:00 Europe/Berlin").weekly == weekly.weekly
    once = FreezeWindow.parse("2026-12-20 00:00 - 2027-01-04 06:00 Europe/Berlin")
    assert once.contains(at(2026, 12, 24, 12, 0)) and not once.contains(at(2027, 1, 4, 6, 0))
    utc = FreezeWindow.parse("Sat 00:00 - Sun 00:00")
    assert utc.tz == "UTC"
    for bad in ("Fri 18:00 - Mon 6 Europe/Berlin", "Fri 18:00 - Mon 06:00 Mars/Olympus",
                "2027-01-04 06:00 - 2026-12-20 00:00"):
        with pytest.raises(ValueError):
            FreezeWindow.parse(bad)


def _config_typo(folder: Path) -> None:
    text = (DOCS / "config.md").read_text(encoding="utf-8")
    (folder / "ops").mkdir(exist_ok=True)
    # the file the config.md session used: the defaults plus a misspelt key on line 14
    (folder / "ops" / "release.toml").write_text(
        '[ledger]\nurl = "sqlite:///state/ledger.db"\n\n[[environments]]\nname = "dev"\n\n'
        '[[environments]]\nname = "staging"\nrequires = "dev"\n\n[[environments]]\nname = "prod"\n'
        'requires = "staging"\nrequire_tiket = true\n', encoding="utf-8")
    assert "require_tiket" in text


def _config_bad_window(folder: Path) -> None:
    path = folder / "ops" / "release.toml"
    text = path.read_text(encoding="utf-8").replace("require_tiket", "require_ticket")
    path.write_text(text + 'freeze = ["Fri 18:00 - Mon 6 Europe/Berlin"]\n', encoding="utf-8")


def _config_fixed(folder: Path) -> None:
    path = folder / "ops" / "release.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("Mon 6 ", "Mon 06:00 "), encoding="utf-8")


CONFIG_SESSION = [_config_typo, "release --config ops/release.toml status", _config_bad_window,
                  "release --config ops/release.toml status", _config_fixed,
                  "release --config ops/release.toml ledger init", "release --config ops/release.toml ledger info"]


def test_config_examples_are_real_output(tmp_path):
    results = _run_session(tmp_path, None, CONFIG_SESSION)
    folders = sorted({str(tmp_path), str(tmp_path.resolve())}, key=len, reverse=True)
    for f in folders:
        results = [(argv, shown.replace(f, "/tmp/demo")) for argv, shown in results]
    _compare("config.md", (DOCS / "config.md").read_text(encoding="utf-8"), results, at_least=3)


def test_exit_codes_and_error_kinds_in_json_md_match_the_code():
    import importlib

    from releasemgr import errors

    # modules that define errors of their own; each must import (a moved one fails here)
    modules = ("releasemgr.errors", "releasemgr.release.deploy.strategies", "releasemgr.ledger.locks")
    for module in modules[1:]:
        importlib.import_module(module)
    text = (DOCS / "json.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (\d) \| ([A-Z_]+) \|", text, re.M))
    assert rows == {str(int(s)): s.name for s in errors.ExitStatus}, "json.md's exit code table is out of date"
    kinds, todo = {}, [errors.ReleaseError]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__ in modules:
            kinds[cls.kind] = int(cls.status)
    documented = re.search(r"\| `error` \| string \| the kind: (.*?) \|", text).group(1)
    pairs = dict(re.findall(r"`(\w+)` \((\d)\)", documented))
    assert pairs == {k: str(v) for k, v in kinds.items()}, "json.md's list of error kinds is out of date"
