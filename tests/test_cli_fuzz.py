"""Whatever a user types or writes, `release` answers with an exit code of docs/json.md's table
(0 ok, 1 failed, 2 usage, 3 refused, 4 not found) and never with an internal error or a
traceback (issue 15, item 7).

In-process through `releasemgr.cli.main`, on SQLite and PostgreSQL, against one ledger per
backend prepared once for the module (a tiny local template built into web@v1, promoted to
dev). Inputs: references, image and environment names, ledger URLs, durations and ages,
counts, and file contents (templates, var files, release.toml). Commands that would change
servers run with --dry-run. Derandomised in CI by conftest's "ci" profile.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import shutil
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import PG_ADMIN_URL, REQUIRE_PG, Result, _pg_answers, session_env
from releasemgr.cli import main

EXIT_CODES = {0, 1, 2, 3, 4}  # docs/json.md "Exit codes"
FUZZ = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
_counter = itertools.count()

TEMPLATE = """
variable "greeting" {
  type    = string
  default = "hello"
}

source "local" "web" {
  base     = "./app"
  command  = ["python3", "-m", "http.server", "--bind", "127.0.0.1"]
  port_arg = true
  health_check {
    type = "http"
    path = "/"
  }
}

build {
  name    = "web"
  sources = ["source.local.web"]
}
"""

RELEASE_TOML = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"
"""


class Prepared:
    def __init__(self, root: Path, url: str):
        self.root, self.url = root, url
        self.env = {"RELEASE_STATE": str(root / "state"), "RELEASE_LEDGER": url, "RELEASE_ACTOR": "alice",
                    "NO_COLOR": "1"}

    def __call__(self, *args: str, env: dict | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with session_env(self.root, {**self.env, **(env or {})}):
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main([str(a) for a in args])
        return Result(code, out.getvalue(), err.getvalue())

    def file(self, suffix: str, data: bytes) -> Path:
        path = self.root / "cases" / f"case{next(_counter)}{suffix}"
        path.write_bytes(data)
        return path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path_factory):
    """One ledger per backend for the whole module (named as conftest's, so the postgresql
    side is marked `postgres` the same way)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('fuzzledger') / 'ledger.db'}"
        return
    if not _pg_answers():
        msg = f"PostgreSQL does not answer at {PG_ADMIN_URL}"
        if REQUIRE_PG:
            pytest.fail(msg)
        pytest.skip(msg)
    import psycopg

    name = f"release_fuzz_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def rel(ledger_url, tmp_path_factory) -> Prepared:
    root = tmp_path_factory.mktemp("fuzzcli")
    (root / "app").mkdir()
    (root / "app" / "index.html").write_text("hi\n")
    (root / "cases").mkdir()
    (root / "web.pkr.hcl").write_text(TEMPLATE)
    (root / "release.toml").write_text(RELEASE_TOML)
    p = Prepared(root, ledger_url)
    for args in (("build", "web.pkr.hcl"), ("promote", "web@v1", "--to", "dev")):
        r = p(*args)
        assert r.code == 0, r
    yield p
    shutil.rmtree(root / "state" / "images", ignore_errors=True)


def check(r: Result, case, expect: set[int] | int | None = None) -> None:
    expect = {expect} if isinstance(expect, int) else (expect or EXIT_CODES)
    assert r.code in expect, f"{case!r}: exit {r.code}, expected {sorted(expect)}\n{r.err[-2000:]}"
    assert "internal error" not in r.err and "Traceback" not in r.err, f"{case!r}\n{r.err[-2000:]}"


# -- references --------------------------------------------------------------------------------
ENVS = ["dev", "prod", "qa", "latest", "Dev", "prod\x00", "dév", ""]
ref_tail = st.one_of(
    st.sampled_from(["v1", "1", "v3", "v0", "0", "latest", "prod", "dev", "1.0.0", "v1.2.3-rc.1+b", "", "@", "v",
                     "v-1", "v1.5", "9" * 40, "v" + "9" * 400, "１", "v١", "\x00", "v1\x00", "dev\x00"]),
    st.integers(0, 10 ** 30).map(lambda n: f"v{n}"),
    st.integers(0, 10 ** 30).map(str),
    st.text(max_size=12),
)
ref_text = st.one_of(
    st.tuples(st.sampled_from(["web", "api", "wéb", "", "w" * 129, "web\x00", "-web", "web@web"]), ref_tail)
    .map(lambda t: f"{t[0]}@{t[1]}"),
    st.text(max_size=20),
)
REF_COMMANDS = [
    ("show", "{ref}"),
    ("promote", "{ref}", "--to", "{env}"),
    ("deploy", "web", "--env", "{env}", "--version", "{ref}", "--dry-run"),
    ("retire", "web", "--env", "{env}", "--older-than", "{ref}", "--dry-run"),
]


@settings(FUZZ, max_examples=250)
@given(ref=ref_text, env=st.sampled_from(ENVS), command=st.sampled_from(REF_COMMANDS))
@example(ref="web@v1000000000", env="dev", command=REF_COMMANDS[0])
@example(ref="web@v1\x00", env="dev", command=REF_COMMANDS[0])
@example(ref="web@v1", env="prod", command=("promote", "{ref}", "--to", "{env}", "--reason", "a\x00b"))
@example(ref="web@v1", env="prod", command=("promote", "{ref}", "--to", "{env}", "--ticket", "T-1\x00"))
def test_references(rel, ref, env, command):
    args = [a.format(ref=ref, env=env) for a in command]
    r = rel(*args)
    expect = None
    if "\x00" in "".join(args):
        expect = 2  # refused before anything runs, on SQLite as on PostgreSQL
    elif ref == "web@v1000000000" and command[0] == "show":
        expect = 4
        assert "no version v1000000000 of web" in r.err and "unknown environment" not in r.err, r
    check(r, args, expect)


# -- image and environment names -------------------------------------------------------------------
name_text = st.one_of(
    st.sampled_from(["web", "api", "dev", "prod", "", " ", "-x", ".", "a" * 128, "a" * 129, "web\x00", "\x00",
                     "wéb", "web/../x", "web@v1", "WEB", "🙂", "web\nx", "--json"]),
    st.text(max_size=20),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=140),
)
NAME_COMMANDS = [
    ("status", "{name}"),
    ("versions", "{name}"),
    ("history", "{name}"),
    ("history", "web", "--env", "{name}"),
    ("status", "--env", "{name}"),
    ("servers", "{name}", "--env", "dev"),
    ("servers", "web", "--env", "{name}"),
    ("register", "{name}", "--artifact", "local::sha256:ab:cd"),
    ("register", "web", "--artifact", "{name}"),
    ("audit", "--image", "{name}"),
    ("audit", "--env", "{name}", "--who", "{name}", "--action", "{name}", "--ticket", "{name}"),
    ("revoke", "web@v99", "--reason", "{name}"),
    ("promote", "web@v1", "--to", "prod", "--reason", "{name}", "--ticket", "{name}"),
]


@settings(FUZZ, max_examples=250)
@given(name=name_text, command=st.sampled_from(NAME_COMMANDS))
@example(name="web\x00", command=NAME_COMMANDS[7])
@example(name="dev\x00", command=NAME_COMMANDS[3])
@example(name="why\x00", command=NAME_COMMANDS[12])
def test_names(rel, name, command):
    args = [a.format(name=name) for a in command]
    r = rel(*args)
    check(r, args, 2 if "\x00" in name else None)


# -- ledger URLs -------------------------------------------------------------------------------------
# Only sqlite:///PATH and postgres(ql)://... pass `releasemgr.ledger.db.check_url`, the one place
# that judges a URL; every other spelling is exit 2 naming where the URL came from. (PostgreSQL
# URLs with a host are left out of the random part: each would wait for a connection.)
url_text = st.one_of(
    st.tuples(st.sampled_from(["mysql", "ftp", "http", "oracle", "SQLITE", "file", "", "mssql", "sqlite", "sqlite3",
                               "sqlitefoo", "sqlite+pysqlite", "sqlite+aiosqlite", "postgresql+asyncpg",
                               "postgresql+psycopg2", "postgres+x", "pg"]),
              st.sampled_from([":", ":/", "://", ":///", ":////"]),
              st.text(alphabet="abcxyz./?=:&%@-_ \x00\n\u2028é", max_size=15)).map("".join)
    .filter(lambda t: not t.startswith(("postgresql://", "postgres://"))),
    st.text(max_size=20).filter(lambda t: not t.lower().startswith("postgres")),
    st.sampled_from(["sqlite://", "sqlite:///:memory:", "garbage", "://", "mysql://u:p@h/db", "x" * 300,
                     "sqlite:/x", "sqlite3:", "sqlitefoo://", "sqlite+pysqlite:///x.db", "postgresql+asyncpg://x/y",
                     "sqlite:///x.db?mode=ro", "sqlite://host/x.db", "postgresql://", "postgres://u@h:port/db",
                     "sqlite:///cases/new.db"]),
)
UNSUPPORTED = ("sqlite:/x", "sqlite3:", "sqlitefoo://", "sqlite+pysqlite:///x.db", "postgresql+asyncpg://x/y")
WHERE = {"option": "(from --ledger)", "env": "(from RELEASE_LEDGER)", "toml": "(from [ledger] url in "}


def _status_with_ledger(rel: Prepared, url: str, how: str) -> Result:
    if how == "toml":
        path = rel.file(".toml", (RELEASE_TOML + f"\n[ledger]\nurl = {json.dumps(url)}\n").encode())
        return rel("--config", str(path), "status", env={"RELEASE_LEDGER": None})
    if how == "env" and "\x00" not in url:
        return rel("status", env={"RELEASE_LEDGER": url})
    return rel("--ledger", url, "status")


@settings(FUZZ, max_examples=150)
@given(url=url_text, how=st.sampled_from(["option", "env", "toml"]))
@example(url="mysql://x", how="option")
@example(url="ftp://x", how="env")
@example(url="sqlite://", how="option")
@example(url="sqlite:///cases/\x00x.db", how="option")
@example(url="mysql://\x00", how="option")
@example(url="sqlite:///a\x00b.db", how="toml")
@example(url="postgres://u@h:port/db", how="env")
@example(url="postgresql://", how="toml")
@example(url="sqlite:/x", how="option")
@example(url="sqlite3:", how="env")
@example(url="sqlitefoo://", how="toml")
@example(url="sqlite+pysqlite:///x.db", how="option")
@example(url="postgresql+asyncpg://x/y", how="env")
@example(url="postgresql+asyncpg://x/y", how="toml")
def test_ledger_urls(rel, url, how):
    r = _status_with_ledger(rel, url, how)
    expect = None
    if "\x00" in url or url.startswith(("mysql:", "ftp:")) or url in UNSUPPORTED:
        expect = 2
    if (url in UNSUPPORTED or url.startswith(("mysql:", "ftp:"))) and "\x00" not in url:
        assert "unsupported ledger url" in r.err and WHERE[how] in r.err, r
        assert "use sqlite:///path" in r.err, r
    check(r, (url, how), expect)
    assert not (rel.root / "cases" / "new.db").exists()  # status never makes a ledger


@pytest.mark.parametrize("how", ["option", "env", "toml"])
@pytest.mark.parametrize("url", UNSUPPORTED)
def test_unsupported_ledger_urls_by_every_route(rel, url, how):
    r = _status_with_ledger(rel, url, how)
    check(r, (url, how), 2)
    assert "unsupported ledger url" in r.err and WHERE[how] in r.err, r


# -- durations and ages ------------------------------------------------------------------------------
number = st.one_of(
    st.integers(-10, 10 ** 40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e400", "1e308", "nan", "inf", "-inf", ".5", "5.", "0", "-0", "+1", "1_000", "０"]),
)
unit = st.sampled_from(["", "s", "m", "h", "d", "w", "y", "ms", "us", "µs", "ns", "x", " s", "S", "sec"])
duration_text = st.one_of(
    st.lists(st.tuples(number, unit).map("".join), min_size=1, max_size=3).map("".join),
    st.tuples(st.sampled_from(["", "-", "+"]), number, unit).map("".join),
    st.text(max_size=10),
)
DURATION_COMMANDS = [
    ("prune", "web", "--older-than", "{d}", "--dry-run"),
    ("audit", "--since", "{d}"),
    ("audit", "--until", "{d}"),
    ("deploy", "web", "--env", "dev", "--health-timeout", "{d}", "--dry-run"),
    ("promote", "web@v1", "--to", "dev", "--lock-timeout", "{d}"),
    ("retire", "web", "--env", "dev", "--lock-timeout", "{d}", "--dry-run"),
]


@settings(FUZZ, max_examples=350)
@given(d=duration_text, command=st.sampled_from(DURATION_COMMANDS))
@example(d="999999999999y", command=DURATION_COMMANDS[0])
@example(d="1e308s", command=DURATION_COMMANDS[1])
@example(d="1e400s", command=DURATION_COMMANDS[0])
@example(d="nan", command=DURATION_COMMANDS[3])
@example(d="-1s", command=DURATION_COMMANDS[3])
@example(d="99999999999999999999999", command=DURATION_COMMANDS[0])
@example(d="nan", command=DURATION_COMMANDS[4])
@example(d="nan", command=DURATION_COMMANDS[5])
@example(d="inf", command=DURATION_COMMANDS[4])
@example(d="1e400", command=DURATION_COMMANDS[5])
@example(d="-1", command=DURATION_COMMANDS[4])
def test_durations_and_ages(rel, d, command):
    args = [a.format(d=d) for a in command]
    r = rel(*args)
    expect = None
    if "\x00" in d or d in ("999999999999y", "1e308s", "1e400s", "-1s", "99999999999999999999999"):
        expect = 2
    if "--lock-timeout" in command and d in ("nan", "inf", "1e400", "-1"):
        expect = 2  # read as every duration is (common/durations.seconds), not as a float
    check(r, args, expect)


# -- counts --------------------------------------------------------------------------------------------
# Any integer, however large: --limit/--keep are bounded to what the ledger stores (int64),
# --count/--batch-size/--max-unavailable to 1000 servers (as `count` in release.toml).
count = st.one_of(st.integers(-3, 5), st.integers(-2 ** 63, 2 ** 63 - 1), st.integers(-2 ** 80, 2 ** 80),
                  st.sampled_from([0, -1, 1000, 1001, 2 ** 31, 2 ** 63 - 1, 2 ** 63, 10 ** 23 - 1]))
COUNT_COMMANDS = [
    ("deploy", "web", "--env", "dev", "--count", "{n}", "--dry-run"),
    ("deploy", "web", "--env", "dev", "--count", "2", "--batch-size", "{n}", "--dry-run"),
    ("deploy", "web", "--env", "dev", "--max-unavailable", "{n}", "--dry-run"),
    ("prune", "web", "--keep", "{n}", "--dry-run"),
    ("retire", "web", "--env", "dev", "--keep-previous", "{n}", "--dry-run"),
    ("versions", "web", "--limit", "{n}"),
    ("history", "web", "--limit", "{n}"),
    ("audit", "--limit", "{n}"),
]
HUGE = "99999999999999999999999"


@settings(FUZZ, max_examples=200)
@given(n=st.one_of(count.map(str), st.sampled_from(["1.5", "x", "", "1e3", "0x10", "１", HUGE])),
       command=st.sampled_from(COUNT_COMMANDS))
@example(n=HUGE, command=COUNT_COMMANDS[0])
@example(n=HUGE, command=COUNT_COMMANDS[1])
@example(n=HUGE, command=COUNT_COMMANDS[2])
@example(n=HUGE, command=COUNT_COMMANDS[3])
@example(n=HUGE, command=COUNT_COMMANDS[4])
@example(n=HUGE, command=COUNT_COMMANDS[5])
@example(n=HUGE, command=COUNT_COMMANDS[6])
@example(n=HUGE, command=COUNT_COMMANDS[7])
@example(n="1001", command=COUNT_COMMANDS[0])
@example(n=str(2 ** 63), command=COUNT_COMMANDS[7])
def test_counts(rel, n, command):
    args = [a.format(n=n) for a in command]
    r = rel(*args)
    expect = None
    if n.lstrip("-").isdigit():
        value = int(n)
        high = 1000 if command[0] == "deploy" else 2 ** 63 - 1
        if value > high:
            expect = 2
            assert "is not in the range" in r.err, r
    check(r, args, expect)


# -- file contents -------------------------------------------------------------------------------------
def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


hcl_value = st.one_of(
    st.sampled_from(['"hi"', "1", "1e400", "-0", "true", "null", '"a\\u0000b"', "[1, 2]", "{a = 1}", '"${1}"',
                     "[", '"', "{", "99999999999999999999999999"]),
    st.integers(1, 60).map(nested),
    st.sampled_from([nested(300), nested(5000), "{" + "a = {" * 300 + "}" * 301, "(" * 3000 + "1" + ")" * 3000]),
)
toml_value = st.one_of(
    st.sampled_from(['"x"', "1", "-1", "0", "1.5", "nan", "inf", "-inf", "true", "1979-05-27", '"a\\u0000b"',
                     "[]", "{}", '{a = 1}', "9223372036854775807", "-9223372036854775808", '"999999999999y"',
                     '"1e400s"', '"-5m"', '"0"', '"nan"', "'''\nx'''"]),
    st.integers(1, 40).map(lambda n: nested(n, '"x"')),
)
TOML_KEYS = [("deploy.dev", "count"), ("deploy.dev", "strategy"), ("deploy.dev", "health_timeout"),
             ("deploy.dev", "batch_size"), ("deploy.dev", "max_unavailable"), ("retention.dev", "max_age"),
             ("retention.dev", "keep"), ("policy", "order"), ("ledger", "lock_timeout"), ("environments", "name"),
             ("deploy.dev", "retire_old"), ("deploy.dev", "route_hook"), ("deploy.dev", "pass_env"),
             ("deploy.dev", "port"), ("deploy.dev", "retrie_old"), ("deploy.dev.health_check", "timeout"),
             ("deploy.dev.health_check", "expected_status"), ("routes", "hook"), ("environments", "freeze"),
             ("environments", "approvals"), ("ledger", "url"), ("state", "dir"), ("aws", "regions")]


@settings(FUZZ, max_examples=250)
@given(value=hcl_value, where=st.sampled_from(["default", "var-file", "json-var-file", "--var"]),
       junk=st.sampled_from([b"", b"\x00", b"\xff\xfe", b"\xc3", "é".encode("latin-1")]))
@example(value=nested(5000), where="default", junk=b"")
@example(value=nested(5000), where="var-file", junk=b"")
@example(value='"a\\u0000b"', where="default", junk=b"\x00")
def test_templates_and_var_files(rel, value, where, junk):
    extra: list[str] = []
    tpl = TEMPLATE.encode()
    if where == "default":
        tpl = tpl.replace(b'"hello"', value.encode()) + junk
    elif where == "--var":
        extra = ["--var", f"greeting={value}"]
    else:
        data = (f"greeting = {value}\n".encode() if where == "var-file" else
                f'{{"greeting": {value}}}'.encode()) + junk
        extra = ["--var-file", str(rel.file(".pkrvars.hcl" if where == "var-file" else ".pkrvars.json", data))]
    path = rel.file(".pkr.hcl", tpl)
    for command in ("validate", "inspect"):
        args = [command, *extra, str(path)]
        check(rel(*args), (where, value, junk), {0, 2})


@settings(FUZZ, max_examples=200)
@given(pairs=st.lists(st.tuples(st.sampled_from(TOML_KEYS), toml_value), min_size=1, max_size=3),
       junk=st.sampled_from([b"", b"\x00", b"\xff", b"[[", b'\n[deploy.dev]\ncount = 1\n']))
@example(pairs=[(("environments", "name"), '"dev\\u0000x"')], junk=b"")
@example(pairs=[(("deploy.dev", "health_timeout"), "1e308")], junk=b"")
@example(pairs=[(("retention.dev", "max_age"), '"999999999999y"')], junk=b"")
@example(pairs=[(("retention.dev", "max_age"), "inf")], junk=b"")
@example(pairs=[(("deploy.dev", "count"), nested(40))], junk=b"")
@example(pairs=[(("deploy.dev", "count"), nested(1000))], junk=b"")
@example(pairs=[(("deploy.dev", "count"), "1001")], junk=b"")
@example(pairs=[(("deploy.dev", "retire_old"), '"false"')], junk=b"")
@example(pairs=[(("deploy.dev", "route_hook"), "5")], junk=b"")
@example(pairs=[(("deploy.dev", "route_hook"), '"a\\u0000b"')], junk=b"")
@example(pairs=[(("deploy.dev", "retrie_old"), "true")], junk=b"")
@example(pairs=[(("environments", "name"), '"qa"'), (("environments", "freeze"), '"Mon 00:00 - Mon 00:00"')],
         junk=b"")
def test_release_toml_values(rel, pairs, junk):
    tables: dict[str, list[str]] = {}
    for (table, key), value in pairs:
        tables.setdefault(table, []).append(f"{key} = {value}")
    text = RELEASE_TOML
    for table, lines in tables.items():
        head = "[[environments]]" if table == "environments" else f"[{table}]"
        text += f"\n{head}\n" + "\n".join(dict.fromkeys(lines)) + "\n"
    path = rel.file(".toml", text.encode() + junk)
    strict = None if junk else STRICT_TOML.get(tuple(pairs))
    for args in (("--config", str(path), "status"),
                 ("--config", str(path), "deploy", "web", "--env", "dev", "--dry-run"),
                 ("--config", str(path), "prune", "web", "--dry-run")):
        r = rel(*args)
        check(r, (text, junk), 2 if strict else None)
        assert strict is None or strict in r.err, r


# release.toml values refused before anything runs (exit 2), with what the message says
STRICT_TOML = {
    ((("deploy.dev", "count"), nested(1000)),): "nested too deeply",
    ((("deploy.dev", "count"), "1001"),): "deploy.dev.count must be a whole number from 1 to 1000",
    ((("deploy.dev", "retire_old"), '"false"'),): 'deploy.dev.retire_old must be true or false, not the string "false"',
    ((("deploy.dev", "route_hook"), "5"),): "deploy.dev.route_hook must be a command",
    ((("deploy.dev", "route_hook"), '"a\\u0000b"'),): "must not contain a NUL character",
    ((("deploy.dev", "retrie_old"), "true"),): "unknown key 'retrie_old' in [deploy.dev]",
    ((("environments", "name"), '"qa"'), (("environments", "freeze"), '"Mon 00:00 - Mon 00:00"')):
        "the window is empty",
}
