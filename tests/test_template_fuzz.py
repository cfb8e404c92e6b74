"""Whatever the input, `release validate` answers 0 or 2 and never shows a traceback.

Two sources of input, 3,100 cases in all (1,300 mutated, 1,500 generated, 100 --var values, 200
through inspect): templates generated from HCL fragments, and corpus templates randomly mutated
(byte flips, deletions, duplications, insertions). Everything runs in-process through `releasemgr.cli.main` for speed.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from releasemgr.cli import main

TEMPLATES = Path(__file__).parent / "templates"
CORPUS = sorted(p.read_bytes() for p in TEMPLATES.glob("*.pkr.hcl"))
_counter = itertools.count()

FUZZ_MUT = settings(max_examples=1300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ_GEN = settings(FUZZ_MUT, max_examples=1500)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def run_validate(workdir: Path, data: bytes, extra=()) -> tuple[int, str]:
    path = workdir / f"case{next(_counter)}.pkr.hcl"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", *extra, str(path)])
    path.unlink()
    return code, err.getvalue()


def check(code: int, err: str, data: bytes):
    assert code in (0, 2), f"exit {code} for input {data[:300]!r}\n{err[-2000:]}"
    assert "Traceback" not in err and "internal error" not in err, f"{data[:300]!r}\n{err[-2000:]}"


# -- mutated corpus --------------------------------------------------------------------------------
mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10 ** 6), st.integers(1, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10 ** 6), st.integers(1, 40)),
    st.tuples(st.just("dup"), st.integers(0, 10 ** 6), st.integers(1, 80)),
    st.tuples(st.just("insert"), st.integers(0, 10 ** 6),
              st.sampled_from([b"{", b"}", b"[", b"]", b'"', b"${", b"%{", b"\n", b",", b"=", b"<<EOT\n", b"\x00",
                               b"\xff", b"(", b")", b"~", b"...", b"[*]", b".*", b"for x in", b"? :", b"#", b"/*"])),
)


def mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for op in ops:
        if not buf:
            break
        pos = op[1] % len(buf)
        if op[0] == "flip":
            buf[pos] ^= op[2]
        elif op[0] == "delete":
            del buf[pos:pos + op[2]]
        elif op[0] == "dup":
            buf[pos:pos] = buf[pos:pos + op[2]]
        else:
            buf[pos:pos] = op[2]
    return bytes(buf)


@FUZZ_MUT
@given(base=st.sampled_from(CORPUS), ops=st.lists(mutation, min_size=1, max_size=6))
def test_mutated_corpus_never_crashes(workdir, base, ops):
    data = mutate(base, ops)
    code, err = run_validate(workdir, data)
    check(code, err, data)


# -- generated templates -----------------------------------------------------------------------------
# Hypothesis drives a seeded random generator over an HCL fragment grammar: much cheaper per case
# than composing recursive strategies, so the 1,500 cases stay within a few seconds.
NAMES = ["a", "b", "region", "var", "local", "source", "build", "for", "in", "if", "null", "true", "x-y", "_z",
         "type", "default", "validation", "communicator", "inline", "only", "sources", "name", "condition"]
ATOMS = ["0", "-1", "1.5", "1e3", "true", "false", "null", '"s"', '"${var.a}"', '"%{if true}x%{endif}"', "var.a",
         "local.b", "source.name", "build.ID", "path.root", '"web-{{timestamp}}"', "<<EOT\nhi ${1}\nEOT\n",
         "<<-EOT\n  x\n  EOT\n", 'env("HOME")', "try(var.zz, 1)", "can(local.q)", '"\\u00e9\\n"', "string",
         "list(string)", '"source.null.a"', '["source.null.a"]']
FUNCS = ["upper", "length", "join", "concat", "max", "format", "lookup", "tostring", "uper", "list", "range",
         "merge", "keys", "regex", "object", "contains"]
OPS = ["+", "-", "*", "/", "%", "==", "!=", "<", ">=", "&&", "||"]
BLOCKS = ["variable", "locals", "local", "source", "build", "provisioner", "post-processor", "post-processors",
          "packer", "required_plugins", "validation", "data", "nested", "error-cleanup-provisioner"]
LABELS = ['"null"', '"a"', '"shell-local"', '"source.null.a"', "x", '"amazon-ebs"', '"manifest"']


def gen_expr(r, depth=0) -> str:
    if depth > 3 or r.random() < 0.35:
        if r.random() < 0.1:
            return '"' + "".join(r.choice('ab${}%~\\"\n x') for _ in range(r.randint(0, 6))).replace("\n", "") + '"'
        return r.choice(ATOMS)
    k = r.randint(0, 10)
    sub = lambda: gen_expr(r, depth + 1)  # noqa: E731
    if k == 0:
        return "[" + ", ".join(sub() for _ in range(r.randint(0, 3))) + "]"
    if k == 1:
        return "{" + ", ".join(f"{r.choice(NAMES)} = {sub()}" for _ in range(r.randint(0, 3))) + "}"
    if k == 2:
        return f"{sub()} {r.choice(OPS)} {sub()}"
    if k == 3:
        return f"{sub()} ? {sub()} : {sub()}"
    if k == 4:
        return f"{r.choice(FUNCS)}({', '.join(sub() for _ in range(r.randint(0, 3)))})"
    if k == 5:
        return f"[for v in {sub()} : v if {sub()}]"
    if k == 6:
        return f"{{for k, v in {sub()} : k => v...}}"
    if k == 7:
        return f"({sub()})[{sub()}]"
    if k == 8:
        return f"{sub()}.{r.choice(NAMES)}"
    if k == 9:
        return f'"pre ${{{sub()}}} %{{ for x in {sub()} }}${{x}}%{{ endfor }}"'
    return f"{r.choice(['!', '-'])}{sub()}"


def gen_body(r, depth) -> str:
    out = []
    for _ in range(r.randint(0, 5)):
        if depth > 0 and r.random() < 0.5:
            labels = " ".join(r.choice(LABELS) for _ in range(r.randint(0, 2)))
            out.append(f"{r.choice(BLOCKS)} {labels} {{\n{gen_body(r, depth - 1)}}}\n")
        else:
            out.append(f"{r.choice(NAMES)} = {gen_expr(r)}\n")
    return "".join(out)


@FUZZ_GEN
@given(seed=st.integers(0, 2 ** 32), tail=st.sampled_from(["", "\n", "}", '"', "[", "${"]))
def test_generated_templates_never_crash(workdir, seed, tail):
    data = (gen_body(random.Random(seed), 3) + tail).encode("utf-8")
    code, err = run_validate(workdir, data)
    check(code, err, data)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(value=st.text(max_size=30), name=st.sampled_from(["a", "b", "nope", ""]))
def test_var_values_never_crash(workdir, value, name):
    tpl = (b'variable "a" {\n  type = list(map(number))\n  default = []\n}\n'
           b'variable "b" {\n  type = object({x = bool})\n  default = { x = true }\n}\n')
    code, err = run_validate(workdir, tpl, ["--var", f"{name}={value}"])
    check(code, err, value.encode())


@settings(FUZZ_MUT, max_examples=200)
@given(seed=st.integers(0, 2 ** 32), base=st.sampled_from(CORPUS), ops=st.lists(mutation, max_size=3))
def test_inspect_never_crashes(workdir, seed, base, ops):
    data = mutate(base, ops) if seed % 2 else gen_body(random.Random(seed), 3).encode()
    path = workdir / f"case{next(_counter)}.pkr.hcl"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["inspect", "--json", str(path)])
    path.unlink()
    check(code, err.getvalue(), data)
