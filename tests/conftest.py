"""Shared fixtures: a fresh state folder and ledger per test, on SQLite and PostgreSQL,
a `cli` helper that runs `release` in-process as a user types it, and a `fleet` of real
local servers. The markers `postgres` and `packer` are applied here (see docs/testing.md).

Fixture modules are registered as plugins, so a test only names the fixture it needs:
`sshd` (sshd_fixture.py), `aws` (aws_fixture.py), `ledger` and `fake_fleet` (fakes.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["sshd_fixture", "aws_fixture", "local_images", "fakes"]

# CI runs hypothesis derandomized: the same examples every run, so a green main stays green;
# locally the search stays random and keeps finding new cases.
try:
    from hypothesis import settings as _hsettings

    _hsettings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI"):
        _hsettings.load_profile("ci")
except ImportError:  # pragma: no cover - hypothesis is in the [test] extra
    pass

PG_ADMIN_URL = os.environ.get("RELEASE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("RELEASE_REQUIRE_POSTGRES") == "1"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self):
        """The output's JSON document; for a stream (JSON Lines, docs/json.md), its `result` line."""
        lines = self.out.splitlines()
        if len(lines) > 1 and lines[0].startswith("{\"type\": "):
            return json.loads(lines[-1])
        return json.loads(self.out)

    @property
    def events(self) -> list[dict]:
        """Every line of a stream (`--json` on build, deploy, promote, rollback, revoke)."""
        return [json.loads(line) for line in self.out.splitlines()]

    def __repr__(self):
        return f"Result(code={self.code}, out={self.out[-2000:]!r}, err={self.err[-2000:]!r})"


@contextlib.contextmanager
def session_env(cwd: Path, env: dict[str, str | None]):
    """Run in `cwd` with `env` set (None: unset) in os.environ; both restored afterwards,
    whatever happens inside."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        for key, value in env.items():
            if value is None:
                mp.delenv(key, raising=False)
            else:
                mp.setenv(key, value)
        yield


class Cli:
    """Runs `release ...` in this process (fast) with its own state folder and ledger."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        self.cwd = cwd
        self.env = env

    def __call__(self, *args: str, actor: str | None = None, input: str | None = None) -> Result:
        from releasemgr.cli import main

        out, err = io.StringIO(), io.StringIO()
        with session_env(self.cwd, {**self.env, **({"RELEASE_ACTOR": actor} if actor else {})}):
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main([str(a) for a in args])
        return Result(code, out.getvalue(), err.getvalue())

    def ok(self, *args: str, **kw) -> Result:
        r = self(*args, **kw)
        assert r.code == 0, r
        assert "Traceback" not in r.err, r
        return r

    def json(self, *args: str, **kw):
        return self.ok(*args, "--json", **kw).json

    def proc(self, *args: str, actor: str | None = None, **kw) -> subprocess.Popen:
        """A real `release` process (for concurrency and signal tests)."""
        env = {**os.environ, **self.env}
        if actor:
            env["RELEASE_ACTOR"] = actor
        return subprocess.Popen([sys.executable, "-m", "releasemgr", *map(str, args)], cwd=self.cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _pg_answers() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if not _pg_answers():
        msg = (f"PostgreSQL does not answer at {PG_ADMIN_URL}: start it "
               "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "
               "or apt-get install postgresql")
        if REQUIRE_PG:
            pytest.fail(msg)
        pytest.skip(msg + " (optional here; mandatory in CI via RELEASE_REQUIRE_POSTGRES=1)")
    import psycopg

    name = f"release_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path):
    """The ledger test suite runs against both backends."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state' / 'ledger.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def cli(tmp_path, ledger_url) -> Cli:
    env = {"RELEASE_STATE": str(tmp_path / "state"), "RELEASE_LEDGER": ledger_url, "RELEASE_ACTOR": "alice",
           "NO_COLOR": "1"}
    return Cli(tmp_path, env)


@pytest.fixture
def sqlite_cli(tmp_path) -> Cli:
    """SQLite only (process-level tests that are about SQLite's locking)."""
    env = {"RELEASE_STATE": str(tmp_path / "state"), "RELEASE_LEDGER": f"sqlite:///{tmp_path / 'state' / 'ledger.db'}",
           "RELEASE_ACTOR": "alice", "NO_COLOR": "1"}
    return Cli(tmp_path, env)


def need_binary(name: str, package: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if not path:
        pytest.fail(f"{name} is not installed: apt-get install {package}")
    return path


def heavy_imports(cli, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run `release ARGS --json` in a fresh interpreter; return it and which of the heavy
    modules it imported: the ORM, and SQLAlchemy or Alembic at all (on SQLite and PostgreSQL
    alike: only creating or upgrading a ledger loads them)."""
    heavy = ["sqlmodel", "pydantic", "sqlalchemy.orm", "sqlalchemy", "alembic"]
    code = (f"import sys\nfrom releasemgr.cli import main\nrc = main({list(args) + ['--json']!r})\n"
            f"print('HEAVY', [m for m in {heavy!r} if m in sys.modules], file=sys.stderr)\nsys.exit(rc)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=cli.cwd, env={**os.environ, **cli.env},
                       capture_output=True, text=True, timeout=300)
    line = [x for x in r.stderr.splitlines() if x.startswith("HEAVY ")]
    assert line, r.stderr
    return r, eval(line[-1][len("HEAVY "):])


def audit_events(cli: Cli) -> list[tuple[str, dict]]:
    """Every audit event of the cli's ledger, oldest first, as (action, details), read the way
    a user reads them (`release audit --json`)."""
    return [(e["action"], e["details"]) for e in cli.json("audit")["events"]]


# -- a fleet of real local servers --------------------------------------------------------------

FLEET_TOML = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"
"""


@pytest.fixture
def fleet_toml() -> str:
    """The release.toml of the `fleet` fixture; a test module overrides this fixture to
    configure `[deploy.prod]`."""
    return FLEET_TOML


@pytest.fixture
def fleet(tmp_path, fleet_toml) -> Cli:
    """A SQLite ledger, `fleet_toml` as release.toml, `cli.state` the state folder, and a
    finalizer that kills every server (and `release` process) the test left behind."""
    from local_images import cleanup

    (tmp_path / "release.toml").write_text(fleet_toml)
    state = tmp_path / "state"
    cli = Cli(tmp_path, {"RELEASE_STATE": str(state), "RELEASE_LEDGER": f"sqlite:///{state / 'ledger.db'}",
                         "RELEASE_ACTOR": "alice", "NO_COLOR": "1"})
    cli.state = state
    yield cli
    cleanup(tmp_path)


# -- markers ------------------------------------------------------------------------------------

def _uses_postgres(item: pytest.Item) -> bool:
    if "pg_url" in getattr(item, "fixturenames", ()):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("ledger_url") == "postgresql"


# Tests that take 10 s or more (`--durations=60`, -n 2, on 2 cores shared with other jobs:
# load ~24, so alone they are faster), as "file::test" (every parametrization) or "file" (a
# module whose shared setup is the cost). One list here says what `-m "not slow"` leaves out.
SLOW_TESTS = {
    "test_schema_packer.py",  # 73 s of packer runs in its module fixture
    "test_ledger_concurrency.py::test_sigkill_mid_change_leaves_before_or_after_postgresql",  # 56 s
    "test_ledger_concurrency.py::test_sigkill_mid_change_leaves_before_or_after_sqlite",  # 37 s
    "test_ledger_concurrency.py::test_promote_rollback_and_verify_run_without_the_orm",  # 49 s
    "test_ledger_concurrency.py::test_twenty_promotes_at_once_all_succeed",  # 31 s
    "test_ledger_concurrency.py::test_read_commands_are_light_and_keep_their_json",  # 25 s
    "test_ledger_concurrency.py::test_concurrent_registers_get_distinct_numbers",  # 19 s
    "test_deploy_aws.py::test_fifty_instances_roll_forward_back_retire_and_prune",  # 44 s
    "test_deploy_aws.py::test_rolling_deploy_of_ec2_instances_and_drift",  # 16 s
    "test_template_fuzz.py::test_mutated_corpus_never_crashes",  # 43 s
    "test_template_fuzz.py::test_generated_templates_never_crash",  # 37 s
    "test_aws_build.py::test_sigint_during_provisioning_cleans_up",  # 26 s
    "test_aws_build.py::test_sigkill_leftovers_found_and_removed_by_gc",  # 26 s
    "test_aws_build.py::test_seed_template_builds_amis_in_two_regions",  # 15 s
    "test_aws_build.py::test_failing_provisioner_leaves_nothing",  # 13 s
    "test_aws_build.py::test_filter_without_match_or_ambiguous",  # 12 s
    "test_audit_tamper.py::test_exported_head_reveals_a_rewritten_chain",  # 21 s
    "test_audit_tamper.py::test_append_many_chains_like_single_appends",  # 13 s
    "test_aws_asg.py::test_asg_rollout_replaces_every_instance_and_back",  # 18 s
    "test_functions.py::test_any_input_gives_a_value_or_a_function_error",  # 12 s
    "test_aws_fleet.py::test_fleet_launch_health_terminate_in_few_calls",  # 11 s
    "test_build.py::test_sigint_cancels_cleanly",  # 10 s
    "test_schema.py::test_never_raises_on_any_value",  # 10 s
    "test_property.py",  # 25-30 s: 200+ steps of real builds, deploys and servers
    "test_deploy_signals.py::test_signals_at_any_moment_of_a_deploy_leave_no_unknown_server",  # 20 s
}


def _is_slow(item: pytest.Item) -> bool:
    path = item.nodeid.split("::", 1)[0].removeprefix("tests/")
    name = item.nodeid.split("::", 1)[-1].split("[", 1)[0]
    return path in SLOW_TESTS or f"{path}::{name}" in SLOW_TESTS


def pytest_collection_modifyitems(config, items):
    """`postgres` on every test that reaches PostgreSQL (`pg_url`, or the postgresql side of
    `ledger_url`), so that `-m "not postgres"` leaves out exactly those; `slow` on SLOW_TESTS."""
    for item in items:
        if _uses_postgres(item):
            item.add_marker(pytest.mark.postgres)
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)
