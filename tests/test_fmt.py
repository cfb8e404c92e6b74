"""`release fmt` is `packer fmt`, byte for byte.

The evidence, in three layers:
- the corpus (tests/fmt_corpus/*.hcl: every construct, tidy and messy variants) against
  what Debian's packer 1.6.6 made of it, recorded in tests/fmt_corpus/expected/ with
  `packer fmt`; plus whitespace shuffles of the corpus, which must format to the same
  bytes (hypothesis). These run everywhere.
- the same corpus, small cases, and hypothesis-made mutations of the corpus (blanks,
  blank lines, comments inserted) against the live packer 1.6.6 (marker `packer`).
- the command as a user runs it: --check exits 3 and writes nothing, --diff, -write=false,
  --recursive, standard input, --json, errors with file:line:column, atomic writes.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Cli, need_binary
from releasemgr.template.fmt import collect_files, format_source, unified_diff
from releasemgr.template.lexer import (
    CHEREDOC, COMMENT, CONTROL, CQUOTE, INTERP, NEWLINE, NIL, OHEREDOC, OQUOTE, QUOTEDLIT, SEQEND,
    STRINGLIT, lex,
)

CORPUS = Path(__file__).parent / "fmt_corpus"
EXPECTED = CORPUS / "expected"
CORPUS_FILES = sorted(p.name for p in CORPUS.glob("*.hcl"))


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


# Small cases, one rule each; the expected text is what packer 1.6.6 prints (checked live
# by test_cases_against_packer).
CASES = [
    ("align", "a=1\nbb=2\nccc = 3\n", "a   = 1\nbb  = 2\nccc = 3\n"),
    ("indent", "x {\ny = 1\n    z {\n w = 2\n}\n}\n", "x {\n  y = 1\n  z {\n    w = 2\n  }\n}\n"),
    ("list", "a = [\n1,\n    2,\n]\n", "a = [\n  1,\n  2,\n]\n"),
    ("object", "a = {\nb = 1\ncc = 2\n}\n", "a = {\n  b  = 1\n  cc = 2\n}\n"),
    ("comments", "a = 1 # c\nbbb = 2 // d\ncc = [] /* not aligned */\n",
     "a   = 1 # c\nbbb = 2 // d\ncc  = [] /* not aligned */\n"),
    ("call", "a = f( 1 , 2 )\nb = g (x)\n", "a = f(1, 2)\nb = g(x)\n"),
    ("traversal", "a = b . c [ 0 ] . d\n", "a = b.c[0].d\n"),
    ("minus", "a = -1\nb = c - 1\nd = [- 1, 2 -1]\ne = f(-x)\n",
     "a = -1\nb = c - 1\nd = [-1, 2 - 1]\ne = f(-x)\n"),
    ("for", "a = [for x in [1]: x]\nb = {for k, v in m: k => v...}\n",
     "a = [for x in [1] : x]\nb = { for k, v in m : k => v... }\n"),
    ("interp", 'a = "${ x }-${y}"\nb = "%{ if c }d%{ endif }"\n', 'a = "${x}-${y}"\nb = "%{if c}d%{endif}"\n'),
    ("heredoc", "x {\na = <<EOF\n  body ${ x }\nEOF\nbb = 2\n}\n",
     "x {\n  a  = <<EOF\n  body ${x}\nEOF\n  bb = 2\n}\n"),
    ("blank_lines", "a = 1\n\n\nbbb = 2\n", "a = 1\n\n\nbbb = 2\n"),
    ("eof_blanks", "a = 1\n  \t", "a = 1\n   "),
    ("empty_blocks", "x {}\ny { }\nz {\n}\n", "x {}\ny {}\nz {\n}\n"),
    ("one_line_object", "a = {b=1,c=2}\n", "a = { b = 1, c = 2 }\n"),
    ("logic", "a = ! b\nc = d?e:f\ng = h&&i||j\n", "a = ! b\nc = d ? e : f\ng = h && i || j\n"),
    ("ellipsis", "a = f(x ...)\n", "a = f(x...)\n"),
    ("object_in_interp", 'a = "${ {b=1} }"\n', 'a = "${ { b = 1 } }"\n'),
    ("crlf", "a=1\r\nbb=2\r\n", "a  = 1\r\nbb = 2\r\n"),
    ("no_final_newline", "a=1", "a = 1"),
    ("tabs", "x {\n\ta\t=\t1\n}\n", "x {\n  a = 1\n}\n"),
    ("bom", "\ufeffa=1\n", "a = 1\n"),
    ("closing_same_line", "a = [\n  1,\n2]\nb = 3\n", "a = [\n  1,\n2]\nb = 3\n"),
    ("two_openers", "a = f({\nb = 1\n})\n", "a = f({\n  b = 1\n})\n"),
    ("index_after_call", "a = f(x) [0]\nb = (c) [1]\n", "a = f(x)[0]\nb = (c)[1]\n"),
    ("equals_in_expression", "a = b == c\nbb = d != e\n", "a  = b == c\nbb = d != e\n"),
    ("unicode_columns", 'caf\u00e9 = "\u00e9\u2615" # c\nx = 1 # d\ne\u0301e = 2\n',
     'caf\u00e9 = "\u00e9\u2615" # c\nx    = 1    # d\ne\u0301e   = 2\n'),
]


# -- the corpus against packer's recorded output --------------------------------------------

def test_the_corpus_covers_what_the_issue_names():
    assert len([n for n in CORPUS_FILES if n.endswith(".pkr.hcl")]) >= 25
    assert sorted(p.name for p in EXPECTED.glob("*.hcl")) == CORPUS_FILES, "run the packer test to record"
    text = "".join(read(CORPUS / n) for n in CORPUS_FILES)
    for construct in ("#", "//", "/*", "<<EOF", "<<-EOT", "for ", " ? ", "...", "%{", "dynamic ", "\r\n", "\t"):
        assert construct in text, construct
    assert any(read(CORPUS / n) != read(EXPECTED / n) for n in CORPUS_FILES), "no unformatted variant"
    assert 'source "amazon-ebs"' in read(CORPUS / "01-amazon-ebs.pkr.hcl")


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_formats_to_packers_bytes(name):
    formatted, diags = format_source(read(CORPUS / name), name)
    assert not diags
    assert formatted == read(EXPECTED / name)


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_formatting_is_idempotent(name):
    expected = read(EXPECTED / name)
    assert format_source(expected)[0] == expected


@pytest.mark.parametrize("name,source,expected", CASES, ids=[c[0] for c in CASES])
def test_cases(name, source, expected):
    assert format_source(source) == (expected, [])
    assert format_source(expected) == (expected, [])


def test_every_comment_is_kept():
    for name in CORPUS_FILES:
        source, formatted = read(CORPUS / name), read(EXPECTED / name)
        assert _comments(formatted) == _comments(source), name


def _comments(text):
    return [t.strip() for k, t in zip(*_kinds_texts(text)) if k == COMMENT]


def _texts(text):
    return [t for _, t in zip(*_kinds_texts(text))]


def test_heredoc_bodies_are_untouched():
    source = "x {\n      y = <<EOF\n   three\n\tTab\nEOF\n  z = <<-EOT\n        deep\n      EOT\n}\n"
    assert format_source(source)[0] == "x {\n  y = <<EOF\n   three\n\tTab\nEOF\n  z = <<-EOT\n        deep\n      EOT\n}\n"


# -- whitespace shuffles: the layout does not depend on the blanks it is given ---------------

_STRING_BEFORE = {OQUOTE, OHEREDOC, QUOTEDLIT, STRINGLIT, SEQEND, CHEREDOC}
_STRING_AFTER = {QUOTEDLIT, STRINGLIT, CQUOTE, CHEREDOC, INTERP, CONTROL}


def _kinds_texts(text: str):
    tokens, diags = lex(text)
    assert not diags, [d.render() for d in diags]
    return tokens.kinds, tokens.texts


def code_gaps(text: str) -> list[tuple[int, int, bool]]:
    """(offset, blanks, free) of each place between two tokens of code, where blanks may be
    changed without changing the tokens; `free` when no blank is needed there at all (at
    the start of a line, before a newline, or where there was none)."""
    kinds, texts = _kinds_texts(text)
    gaps, pos, prev, prev_text = [], 0, NIL, ""
    for kind, token in zip(kinds, texts):
        code = prev not in _STRING_BEFORE and kind not in _STRING_AFTER
        start = pos
        if code:
            while text[pos] in " \t":
                pos += 1
        assert text.startswith(token, pos)
        if code:
            line_start = prev in (NIL, NEWLINE) or (prev == COMMENT and prev_text.endswith("\n"))
            gaps.append((start, pos - start, line_start or kind == NEWLINE or pos == start))
        pos += len(token)
        prev, prev_text = kind, token
    return gaps


def mutate(text: str, edits: list[tuple[int, str, str]]) -> str:
    """Apply edits (gap number, what, blanks) to the code gaps of `text`. What: "blanks"
    replaces the gap; "block" also puts a /* */ comment there; "line" puts a # comment at
    the end of a line (before its newline); "blank_line" adds an empty line."""
    gaps = code_gaps(text)
    chosen = {}
    for number, what, blanks in edits:
        chosen[number % len(gaps)] = (what, blanks)
    out, pos = [], 0
    for i, (start, length, free) in enumerate(gaps):
        out.append(text[pos:start])
        pos = start + length
        if i not in chosen:
            out.append(text[start:pos])
            continue
        what, blanks = chosen[i]
        if not free:
            blanks = blanks or " "
        nxt = text[pos:pos + 1]
        if what == "block":
            out.append(f"{blanks or ' '}/* c */ ")
        elif what == "line" and nxt in ("\n", "\r"):
            out.append(f"{blanks} # c")
        elif what == "blank_line" and free and start > 0 and text[start - 1] == "\n":
            out.append("\n" + blanks)
        else:
            out.append(blanks)
    out.append(text[pos:])
    return "".join(out)


blanks = st.text(alphabet=" \t", max_size=4)
blank_edits = st.lists(st.tuples(st.integers(0, 10_000), st.just("blanks"), blanks), max_size=60)
any_edits = st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(["blanks", "block", "line", "blank_line"]),
                               blanks), min_size=1, max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(CORPUS_FILES), edits=blank_edits)
def test_blanks_between_tokens_do_not_change_the_result(name, edits):
    shuffled = mutate(read(CORPUS / name), edits)
    assert format_source(shuffled)[0] == read(EXPECTED / name)


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(CORPUS_FILES), edits=any_edits)
def test_formatting_mutated_corpus_is_idempotent(name, edits):
    once = format_source(mutate(read(CORPUS / name), edits))[0]
    assert format_source(once)[0] == once


def test_mutate_keeps_the_tokens():
    source = read(CORPUS / "02-amazon-ebs-messy.pkr.hcl")
    edited = mutate(source, [(i, "blanks", "\t ") for i in range(0, 400, 3)])
    assert edited != source and _texts(edited) == _texts(source)


# -- against the live packer 1.6.6 ------------------------------------------------------------

@pytest.fixture(scope="session")
def packer():
    path = need_binary("packer", "packer")
    version = subprocess.run([path, "version"], capture_output=True, text=True).stdout
    if "v1.6.6" not in version:
        pytest.fail(f"the fmt comparisons need Debian's packer 1.6.6, found {version.strip()!r}")
    return path


def packer_fmt(packer: str, folder: Path, files: dict[str, str]) -> dict[str, str | None]:
    """Run one `packer fmt FOLDER` over `files`; each result, or None where packer refused it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode("utf-8"))
    r = subprocess.run([packer, "fmt", str(folder)], capture_output=True, text=True)
    refused = set(re.findall(r"error while formatting (\S+)", r.stdout + r.stderr))
    assert r.returncode == (1 if refused else 0), r
    return {name: None if str(folder / name) in refused else read(folder / name) for name in files}


@pytest.mark.packer
def test_corpus_and_recorded_output_against_packer(packer, tmp_path):
    results = packer_fmt(packer, tmp_path, {n: read(CORPUS / n) for n in CORPUS_FILES})
    for name in CORPUS_FILES:
        assert results[name] is not None, f"packer 1.6.6 cannot parse {name}: keep the corpus parseable"
        assert results[name] == read(EXPECTED / name), f"{name}: the recorded output is stale"
        assert format_source(read(CORPUS / name))[0] == results[name], name


@pytest.mark.packer
def test_cases_against_packer(packer, tmp_path):
    results = packer_fmt(packer, tmp_path, {f"{name}.pkr.hcl": source for name, source, _ in CASES})
    for name, _, expected in CASES:
        assert results[f"{name}.pkr.hcl"] == expected, name


@pytest.mark.packer
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.tuples(st.sampled_from(CORPUS_FILES), any_edits), min_size=1, max_size=8))
def test_mutated_corpus_against_packer(packer, tmp_path_factory, batch):
    files = {f"{i:02d}-{name}": mutate(read(CORPUS / name), edits) for i, (name, edits) in enumerate(batch)}
    results = packer_fmt(packer, tmp_path_factory.mktemp("mutated"), files)
    for name, source in files.items():
        if results[name] is not None:  # compared wherever packer can parse the file
            assert format_source(source)[0] == results[name], f"{name}\n--- input\n{source}"


@pytest.mark.packer
def test_names_diff_and_exit_status_like_packer(packer, tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for folder in (ours, theirs):
        folder.mkdir()
        for name in ("04-variables-messy.pkr.hcl", "03-variables.pkr.hcl", "18-vars-messy.pkrvars.hcl"):
            shutil.copy(CORPUS / name, folder / name)
        (folder / ".hidden.pkr.hcl").write_text("a=1\n")
        (folder / "sub").mkdir()
        (folder / "sub" / "deep.pkr.hcl").write_text("a=1\n")
    p = subprocess.run([packer, "fmt", "-check", "-diff", "theirs"], cwd=tmp_path, capture_output=True, text=True)
    r = Cli(tmp_path, {})("fmt", "-check", "-diff", "ours")
    assert (r.code, r.out.replace("ours", "theirs")) == (p.returncode, p.stdout) == (3, p.stdout)
    assert "theirs/sub/deep.pkr.hcl" not in p.stdout  # 1.6.6 does not recurse


# -- the command ---------------------------------------------------------------------------------

@pytest.fixture
def fmt(tmp_path) -> Cli:
    return Cli(tmp_path, {})


@pytest.fixture
def messy(tmp_path) -> Path:
    path = tmp_path / "web.pkr.hcl"
    shutil.copy(CORPUS / "02-amazon-ebs-messy.pkr.hcl", path)
    return path


def run_process(*args: str, cwd: Path, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "releasemgr", *args], cwd=cwd, input=stdin, capture_output=True)


def test_check_exits_3_names_the_file_and_writes_nothing(fmt, messy):
    before = messy.stat()
    r = fmt("fmt", "--check", "web.pkr.hcl")
    assert (r.code, r.out, r.err) == (3, "web.pkr.hcl\n", "")
    assert messy.read_bytes() == (CORPUS / "02-amazon-ebs-messy.pkr.hcl").read_bytes()
    assert messy.stat().st_mtime_ns == before.st_mtime_ns


def test_check_of_formatted_files_exits_0_silently(fmt, tmp_path):
    shutil.copy(EXPECTED / "02-amazon-ebs-messy.pkr.hcl", tmp_path / "web.pkr.hcl")
    r = fmt("fmt", "-check", ".")
    assert (r.code, r.out, r.err) == (0, "", "")


def test_write_replaces_the_file_atomically_keeping_its_mode(fmt, messy, tmp_path):
    messy.chmod(0o640)
    inode = messy.stat().st_ino
    r = fmt("fmt", "web.pkr.hcl")
    assert (r.code, r.out) == (0, "web.pkr.hcl\n")
    assert messy.read_text() == read(EXPECTED / "02-amazon-ebs-messy.pkr.hcl")
    assert stat.S_IMODE(messy.stat().st_mode) == 0o640
    assert messy.stat().st_ino != inode, "written in place instead of renamed over"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web.pkr.hcl"], "a temporary file was left"
    assert fmt("fmt", "--check", "web.pkr.hcl").code == 0


def test_symlink_target_is_formatted_and_the_link_kept(fmt, messy, tmp_path):
    (tmp_path / "link.pkr.hcl").symlink_to("web.pkr.hcl")
    assert fmt("fmt", "link.pkr.hcl").code == 0
    assert (tmp_path / "link.pkr.hcl").is_symlink()
    assert messy.read_text() == read(EXPECTED / "02-amazon-ebs-messy.pkr.hcl")


def test_diff_shows_a_unified_diff_that_patch_applies(fmt, messy, tmp_path):
    r = fmt("fmt", "--diff", "--no-write", "web.pkr.hcl")
    assert r.code == 0
    name, patch = r.out.split("\n", 1)
    assert name == "web.pkr.hcl"
    assert patch.startswith("--- old/web.pkr.hcl\n+++ new/web.pkr.hcl\n@@ -1,")
    subprocess.run([need_binary("patch", "patch"), "-s", "-p1", str(messy)], input=patch, text=True, check=True,
                   cwd=tmp_path)
    assert messy.read_text() == read(EXPECTED / "02-amazon-ebs-messy.pkr.hcl")


def test_diff_marks_a_missing_final_newline():
    assert unified_diff("a=1", "a = 1", "x") == (
        "--- old/x\n+++ new/x\n@@ -1 +1 @@\n-a=1\n\\ No newline at end of file\n+a = 1\n\\ No newline at end of file\n")


@pytest.mark.parametrize("flag", ["--no-write", "-write=false", "--write=0", "-write=F"])
def test_no_write_lists_without_writing(fmt, messy, flag):
    r = fmt("fmt", flag, "web.pkr.hcl")
    assert (r.code, r.out) == (0, "web.pkr.hcl\n")
    assert messy.read_bytes() == (CORPUS / "02-amazon-ebs-messy.pkr.hcl").read_bytes()


def test_packer_spellings_and_bad_boolean(fmt, messy):
    assert fmt("fmt", "-check", "-diff", "-recursive", "web.pkr.hcl").code == 3
    assert fmt("fmt", "-write=true", "web.pkr.hcl").code == 0
    r = fmt("fmt", "-write=maybe", "web.pkr.hcl")
    assert r.code == 2 and "invalid boolean value 'maybe' for -write" in r.err


@pytest.fixture
def tree(tmp_path) -> Path:
    for rel in ("b.pkr.hcl", "a.pkrvars.hcl", "c.pkr.hcl", "sub/d.pkr.hcl", "sub/inner/e.pkrvars.hcl",
                ".git/f.pkr.hcl", "notes.hcl", "sub/g.json"):
        path = tmp_path / "t" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a=1\n")
    return tmp_path / "t"


def test_directory_means_its_templates_directly_inside_in_packers_order(fmt, tree):
    assert collect_files(str(tree)) == [str(tree / n) for n in ("b.pkr.hcl", "c.pkr.hcl", "a.pkrvars.hcl")]
    r = fmt("fmt", "-check", "t/")
    assert (r.code, r.out) == (3, "t/b.pkr.hcl\nt/c.pkr.hcl\nt/a.pkrvars.hcl\n")


def test_recursive_walks_subdirectories_but_not_hidden_ones(fmt, tree):
    r = fmt("fmt", "--recursive", ".")
    assert r.out.split() == ["t/b.pkr.hcl", "t/c.pkr.hcl", "t/a.pkrvars.hcl", "t/sub/d.pkr.hcl",
                             "t/sub/inner/e.pkrvars.hcl"]
    assert (tree / "sub/inner/e.pkrvars.hcl").read_text() == "a = 1\n"
    assert (tree / ".git/f.pkr.hcl").read_text() == (tree / "notes.hcl").read_text() == "a=1\n"


def test_stdin_to_stdout_keeps_the_bytes(tmp_path):
    source = (CORPUS / "19-crlf.pkr.hcl").read_bytes()
    r = run_process("fmt", "-", cwd=tmp_path, stdin=source)
    assert (r.returncode, r.stdout, r.stderr) == (0, (EXPECTED / "19-crlf.pkr.hcl").read_bytes(), b"")
    r = run_process("fmt", "--check", "-", cwd=tmp_path, stdin=source)
    assert (r.returncode, r.stdout) == (3, b"")
    r = run_process("fmt", "--diff", "-", cwd=tmp_path, stdin=b"a=1\n")
    assert (r.returncode, r.stdout) == (0, b"--- old/-\n+++ new/-\n@@ -1 +1 @@\n-a=1\n+a = 1\n")


def test_json_document(fmt, messy, tmp_path):
    shutil.copy(EXPECTED / "03-variables.pkr.hcl", tmp_path / "vars.pkr.hcl")
    doc = fmt("fmt", ".", "--json", "--check").json
    assert doc == {"files": [{"path": "vars.pkr.hcl", "changed": False}, {"path": "web.pkr.hcl", "changed": True}],
                   "changed": 1}
    doc = fmt.json("fmt", "web.pkr.hcl", "--diff")
    assert doc["changed"] == 1 and doc["files"][0]["diff"].startswith("--- old/web.pkr.hcl\n")


BROKEN = [
    ("unterminated string", 'a = 1\nb = "open\nc = 2\n', "Unterminated string", "2:5"),
    ("unterminated heredoc", "a = <<EOF\nbody\nEO\n", "Unterminated heredoc", "1:5"),
    ("unterminated comment", "a = 1\n/* never closed\nb = 2\n", "Unterminated comment", "2:1"),
    ("unclosed interpolation", 'a = "${var.x"\n', 'Unclosed "${"', "1:6"),
    ("unclosed bracket", "x {\n  a = [1, 2\n}\n", "Unexpected \"}\"", "3:1"),
    ("binary junk", "a = 1\n\x00\x01\x02\n", "Invalid character", "2:1"),
    ("single quotes", "a = 'x'\n", "Invalid character", "1:5"),
    ("heredoc marker not on its own line", "a = <<EOF x\n", "Invalid heredoc introducer", "1:5"),
]


@pytest.mark.parametrize("name,source,summary,where", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_file_that_does_not_tokenize_is_reported_and_nothing_is_written(fmt, messy, tmp_path, name, source,
                                                                           summary, where):
    broken = tmp_path / "broken.pkr.hcl"
    broken.write_bytes(source.encode("utf-8"))
    r = fmt("fmt", "web.pkr.hcl", "broken.pkr.hcl")
    assert r.code == 2, r
    line, column = where.split(":")
    assert f"error: {summary}" in r.err and f"on broken.pkr.hcl:{line}:{column}" in r.err, r.err
    assert "1 of 2 file(s) could not be formatted; nothing was written" in r.err
    assert r.out == "" and "Traceback" not in r.err
    assert broken.read_bytes() == source.encode("utf-8")
    assert messy.read_bytes() == (CORPUS / "02-amazon-ebs-messy.pkr.hcl").read_bytes(), "the valid file was written"


def test_invalid_utf8_is_reported_with_its_position(fmt, tmp_path):
    (tmp_path / "latin1.pkr.hcl").write_bytes(b'a = 1\nb = "caf\xe9"\n')
    r = fmt("fmt", "latin1.pkr.hcl")
    assert r.code == 2 and "Invalid character encoding" in r.err and "latin1.pkr.hcl:2:9" in r.err, r.err


def test_every_problem_of_a_file_is_reported(fmt, tmp_path):
    (tmp_path / "two.pkr.hcl").write_text("a = 'x'\nb = 1\nc = \"open\n")
    r = fmt("fmt", "--json", "two.pkr.hcl")
    assert r.code == 2
    assert [(d["line"], d["summary"]) for d in r.json["diagnostics"]] == [
        (1, "Invalid character"), (1, "Invalid character"), (3, "Unterminated string")]


def test_paths_that_are_missing_or_not_templates(fmt, tmp_path):
    r = fmt("fmt", "missing.pkr.hcl")
    assert r.code == 4 and "missing.pkr.hcl: no such file or directory" in r.err
    (tmp_path / "template.json").write_text("{}")
    r = fmt("fmt", "template.json")
    assert r.code == 2 and "template.json is not a Packer HCL2 file" in r.err
    assert fmt("fmt", "-", "-").code == 2


def test_start_up_imports_nothing_heavy(tmp_path, messy):
    probe = ("import sys; from releasemgr.cli import main; code = main(['fmt', '--check', 'web.pkr.hcl']); "
             "heavy = [m for m in sys.modules if m.split('.')[0] in "
             "('boto3', 'paramiko', 'sqlmodel', 'sqlalchemy', 'hcl2', 'lark', 'difflib', 'rich')]; "
             "print(code, heavy)")
    r = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert r.stdout.splitlines()[-1] == "3 []", r


def test_grapheme_columns():
    from releasemgr.template.fmt import _width

    assert [_width(s) for s in ("abc", "a\r\nb", "caf\u00e9", "e\u0301", "\U0001F1EB\U0001F1F7", "\ud55c\uae00",
                                "\u1100\u1161\u11a8", "\U0001F44D\U0001F3FD", "\u65e5\u672c")] == [3, 3, 4, 1, 1, 2, 1, 1, 2]
