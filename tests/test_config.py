"""release.toml: defaults, the documented shape, one clear error naming the key and its line
(exit 2), freeze windows, ledger URLs."""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from releasemgr.cli import main
from releasemgr.config import FreezeWindow, load_config
from releasemgr.errors import ConfigError

FULL = textwrap.dedent("""\
    [ledger]
    url = "sqlite:///state/ledger.db"     # or postgresql://user@host/db

    [[environments]]
    name = "dev"

    [[environments]]
    name = "staging"
    requires = "dev"

    [[environments]]
    name = "prod"
    requires = "staging"
    require_ticket = true
    approvals = 1
    freeze = ["Fri 18:00 - Mon 06:00 Europe/Berlin"]
    auto_deploy = false

    [deploy.prod]                         # defaults for `release deploy --env prod`
    count = 3
    strategy = "rolling"                  # or "blue-green"
    batch_size = 1
    provider = "local"                    # or "aws" with its settings below
    """)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "release.toml"
    p.write_text(textwrap.dedent(text))
    return p


def bad(tmp_path: Path, text: str) -> ConfigError:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(str(p), cwd=str(tmp_path))
    return info.value


def run_cli(tmp_path, monkeypatch, capsys, *args):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RELEASE_LEDGER", raising=False)
    monkeypatch.delenv("RELEASE_CONFIG", raising=False)
    monkeypatch.setenv("RELEASE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("NO_COLOR", "1")
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- defaults and the documented shape ------------------------------------------------------

def test_defaults_without_a_file(tmp_path):
    cfg = load_config(None, cwd=str(tmp_path))
    assert cfg.path is None
    assert cfg.environment_names == ["dev", "staging", "prod"]
    assert [e.requires for e in cfg.environments] == [None, "dev", "staging"]
    assert not any(e.require_ticket or e.approvals or e.freeze or e.auto_deploy for e in cfg.environments)
    assert cfg.ledger_url == f"sqlite:///{(tmp_path / 'state' / 'ledger.db').resolve()}"
    assert cfg.state_dir == tmp_path / "state"


def test_the_designs_shape_is_accepted(tmp_path):
    write(tmp_path, FULL)
    cfg = load_config(None, cwd=str(tmp_path))
    assert cfg.path == tmp_path / "release.toml"
    assert cfg.environment_names == ["dev", "staging", "prod"]
    prod = cfg.environment("prod")
    assert (prod.requires, prod.require_ticket, prod.approvals, prod.auto_deploy) == ("staging", True, 1, False)
    assert [w.text for w in prod.freeze] == ["Fri 18:00 - Mon 06:00 Europe/Berlin"]
    assert cfg.deploy["prod"] == {"count": 3, "strategy": "rolling", "batch_size": 1, "provider": "local"}
    assert cfg.ledger_url == f"sqlite:///{(tmp_path / 'state' / 'ledger.db').resolve()}"


def test_the_designs_shape_works_from_the_cli(tmp_path, monkeypatch, capsys):
    write(tmp_path, FULL)
    code, out, err = run_cli(tmp_path, monkeypatch, capsys, "ledger", "init")
    assert code == 0, err
    code, out, err = run_cli(tmp_path, monkeypatch, capsys, "status", "--json")
    assert code == 0, err
    import json

    assert json.loads(out)["environments"] == ["dev", "staging", "prod"]
    assert (tmp_path / "state" / "ledger.db").is_file()


def test_relative_sqlite_url_is_resolved_against_the_configs_folder(tmp_path, monkeypatch):
    proj = tmp_path / "proj"
    proj.mkdir()
    write(proj, '[ledger]\nurl = "sqlite:///db/team.db"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cfg = load_config(str(proj / "release.toml"), cwd=str(elsewhere))
    assert cfg.ledger_url == f"sqlite:///{(proj / 'db' / 'team.db').resolve()}"
    absolute = load_config(None, cwd=str(elsewhere), ledger_url="sqlite:////abs/l.db")
    assert absolute.ledger_url == "sqlite:////abs/l.db"


def test_postgresql_url_is_kept(tmp_path):
    write(tmp_path, '[ledger]\nurl = "postgresql://ci@db.example/release"\n')
    assert load_config(None, cwd=str(tmp_path)).ledger_url == "postgresql://ci@db.example/release"


def test_flag_beats_file(tmp_path):
    write(tmp_path, '[ledger]\nurl = "sqlite:///from-file.db"\n')
    cfg = load_config(None, cwd=str(tmp_path), ledger_url="sqlite:////tmp/from-flag.db")
    assert cfg.ledger_url == "sqlite:////tmp/from-flag.db"


def test_freeze_as_a_single_string(tmp_path):
    write(tmp_path, '[[environments]]\nname = "prod"\nfreeze = "Sat 00:00 - Sun 23:59"\n')
    env = load_config(None, cwd=str(tmp_path)).environment("prod")
    assert env.freeze[0].tz == "UTC"


# -- errors: the key, the right line, exit 2 ------------------------------------------------

def test_unknown_top_level_key_with_did_you_mean(tmp_path):
    e = bad(tmp_path, '# comment\n[ledgr]\nurl = "sqlite:///x.db"\n')
    assert "unknown key 'ledgr'" in e.message
    assert e.message.startswith(f"{tmp_path / 'release.toml'}:2:")
    assert e.hint == "did you mean 'ledger'?"


def test_unknown_key_in_ledger(tmp_path):
    e = bad(tmp_path, '[ledger]\n\nurl = "sqlite:///x.db"\nuri = "x"\n')
    assert "unknown key 'uri' in [ledger]" in e.message and ":4:" in e.message
    assert e.hint == "did you mean 'url'?"


def test_unknown_key_in_the_right_environment(tmp_path):
    e = bad(tmp_path, """\
        [[environments]]
        name = "dev"
        approvals = 0

        [[environments]]
        name = "prod"
        requires = "dev"
        aprovals = 1
        """)
    assert "unknown key 'aprovals'" in e.message and ":8:" in e.message
    assert e.hint == "did you mean 'approvals'?"


@pytest.mark.parametrize("line,snippet", [
    ('require_ticket = "yes"', "require_ticket must be true or false"),
    ("approvals = -1", "approvals must be a whole number"),
    ('approvals = "two"', "approvals must be a whole number"),
    ("approvals = true", "approvals must be a whole number"),
    ('auto_deploy = 1', "auto_deploy must be true or false"),
    ("freeze = 3", "freeze must be a list"),
])
def test_wrong_types_in_an_environment(tmp_path, line, snippet):
    e = bad(tmp_path, f'[[environments]]\nname = "dev"\n\n[[environments]]\nname = "prod"\n{line}\n')
    assert snippet in e.message
    assert ":6:" in e.message, e.message


def test_wrong_type_of_ledger_url(tmp_path):
    e = bad(tmp_path, "[ledger]\nurl = 5\n")
    assert "ledger.url must be a string" in e.message and ":2:" in e.message


def test_unsupported_ledger_scheme_names_the_file_and_line(tmp_path, monkeypatch, capsys):
    """config.py does not judge URLs (ledger/db.py check_url does, in one place); the message
    still says where the URL came from."""
    write(tmp_path, '[ledger]\nurl = "mysql://x"\n')
    assert load_config(None, cwd=str(tmp_path)).ledger_url == "mysql://x"
    code, out, err = run_cli(tmp_path, monkeypatch, capsys, "status")
    assert code == 2, err
    assert f"unsupported ledger url mysql://x (from [ledger] url in {tmp_path / 'release.toml'}:2)" in err
    assert "use sqlite:///path" in err and "internal error" not in err


def test_requires_an_undefined_environment(tmp_path):
    e = bad(tmp_path, '[[environments]]\nname = "dev"\n\n[[environments]]\nname = "prod"\nrequires = "stagin"\n')
    assert "requires 'stagin', which is not defined before it" in e.message and ":6:" in e.message


def test_requires_an_environment_defined_later(tmp_path):
    e = bad(tmp_path, '[[environments]]\nname = "dev"\nrequires = "prod"\n\n[[environments]]\nname = "prod"\n')
    assert "not defined before it" in e.message and ":3:" in e.message


def test_environment_defined_twice(tmp_path):
    e = bad(tmp_path, '[[environments]]\nname = "dev"\n\n[[environments]]\nname = "dev"\n')
    assert "defined twice" in e.message and ":5:" in e.message


def test_environment_without_a_name(tmp_path):
    e = bad(tmp_path, '[[environments]]\nname = "dev"\n\n[[environments]]\nrequires = "dev"\n')
    assert "need a name" in e.message and ":4:" in e.message


@pytest.mark.parametrize("window,snippet", [
    ("Fri 18:00 - Mon 06:00 Mars/Olympus", "unknown time zone"),
    ("Fri 18:00 until Mon 06:00", "expected 'START - END"),
    ("Fri 25:00 - Mon 06:00", "expected 'Fri 18:00"),
    ("2026-12-24 00:00 - 2026-12-20 00:00", "ends before it starts"),
    ("Someday 10:00 - Mon 06:00", "expected 'Fri 18:00"),
])
def test_bad_freeze_window(tmp_path, window, snippet):
    e = bad(tmp_path, f'[[environments]]\nname = "dev"\n\n[[environments]]\nname = "prod"\n'
                      f'requires = "dev"\nfreeze = ["{window}"]\n')
    assert "bad freeze window" in e.message and snippet in e.message
    assert ":7:" in e.message, e.message


def test_deploy_for_an_unknown_environment(tmp_path):
    e = bad(tmp_path, '[[environments]]\nname = "dev"\n\n[[environments]]\nname = "prod"\n\n[deploy.prd]\ncount = 1\n')
    assert "[deploy.prd] names an unknown environment" in e.message and ":7:" in e.message


def test_deploy_wrong_types(tmp_path):
    e = bad(tmp_path, '[deploy.prod]\ncount = 3\nbatch_size = "one"\n')
    assert 'deploy.prod.batch_size must be a whole number from 1 to 1000, not the string "one"' in e.message
    assert ":3:" in e.message
    e = bad(tmp_path, '[deploy.prod]\nstrategy = "big-bang"\n')
    assert "strategy must be" in e.message and ":2:" in e.message


def test_bad_toml_syntax_names_the_line(tmp_path):
    e = bad(tmp_path, '[ledger]\nurl = "sqlite:///x.db"\n\n[[environments]\nname = "dev"\n')
    assert "line 4" in e.message
    assert str(tmp_path / "release.toml") in e.message


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path / "nope.toml"))
    assert "not found" in info.value.message


@pytest.mark.parametrize("text,snippet", [
    ('[[environments]]\nname = "dev"\naprovals = 1\n', ":3: unknown key 'aprovals'"),
    ("[ledger\n", "line 1"),
    ('[deploy.qa]\ncount = 1\n', ":1: [deploy.qa] names an unknown environment"),
])
def test_cli_bad_config_is_one_message_and_exit_2(tmp_path, monkeypatch, capsys, text, snippet):
    write(tmp_path, text)
    for args in (["status"], ["promote", "web@v1", "--to", "dev"], ["audit", "verify"]):
        code, out, err = run_cli(tmp_path, monkeypatch, capsys, *args)
        assert code == 2, (args, err)
        assert snippet in err
        assert err.startswith("error: ")
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) <= 2
    code, out, err = run_cli(tmp_path, monkeypatch, capsys, "status", "--json")
    import json

    doc = json.loads(out)
    assert doc["exit_code"] == 2 and doc["error"] == "config" and snippet in doc["message"]


def test_cli_explicit_config_flag(tmp_path, monkeypatch, capsys):
    sub = tmp_path / "conf"
    sub.mkdir()
    write(sub, '[[environments]]\nname = "qa"\n')
    run_cli(tmp_path, monkeypatch, capsys, "ledger", "init", "--config", str(sub / "release.toml"))
    code, out, err = run_cli(tmp_path, monkeypatch, capsys, "status", "--json", "--config", str(sub / "release.toml"))
    assert code == 0, err
    import json

    assert json.loads(out)["environments"] == ["qa"]


def test_environment_names_that_read_as_versions_are_refused(tmp_path):
    """BUG (releasemgr/config.py, ENV_NAME_RE): an environment named `v2`, `7` or `latest` is
    accepted, but `web@v2` always means version 2, so it can never be referenced. It should be
    refused with the key and line like any other bad name."""
    for name in ("v2", "7", "latest"):
        e = bad(tmp_path, f'[[environments]]\nname = "dev"\n\n[[environments]]\nname = "{name}"\n')
        assert ":5:" in e.message


# -- freeze windows -------------------------------------------------------------------------

def utc(*a) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


def test_weekly_window_wrapping_the_weekend():
    w = FreezeWindow.parse("Fri 18:00 - Mon 06:00 Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-11-27 is a Friday; Berlin is UTC+1 in November
    assert not w.contains(datetime(2026, 11, 27, 17, 59, tzinfo=berlin))
    assert w.contains(datetime(2026, 11, 27, 18, 0, tzinfo=berlin))
    assert w.contains(utc(2026, 11, 27, 17, 0))  # 18:00 in Berlin
    assert not w.contains(utc(2026, 11, 27, 16, 59))
    assert w.contains(datetime(2026, 11, 28, 12, 0, tzinfo=berlin))  # Saturday
    assert w.contains(datetime(2026, 11, 29, 23, 59, tzinfo=berlin))  # Sunday night
    assert w.contains(datetime(2026, 11, 30, 5, 59, tzinfo=berlin))  # Monday early
    assert not w.contains(datetime(2026, 11, 30, 6, 0, tzinfo=berlin))
    assert not w.contains(datetime(2026, 11, 25, 12, 0, tzinfo=berlin))  # Wednesday
    # summer time: Berlin is UTC+2
    assert w.contains(utc(2026, 7, 3, 16, 0))  # Fri 18:00 CEST
    assert not w.contains(utc(2026, 7, 3, 15, 59))


def test_weekly_window_within_a_week():
    w = FreezeWindow.parse("Tue 09:00 - Thu 17:30")
    assert w.tz == "UTC"
    assert not w.contains(utc(2026, 11, 24, 8, 59))  # Tuesday
    assert w.contains(utc(2026, 11, 24, 9, 0))
    assert w.contains(utc(2026, 11, 25, 3, 0))  # Wednesday
    assert w.contains(utc(2026, 11, 26, 17, 29))  # Thursday
    assert not w.contains(utc(2026, 11, 26, 17, 30))
    assert not w.contains(utc(2026, 11, 28, 12, 0))  # Saturday


def test_weekly_window_with_long_day_names_and_time_zone():
    w = FreezeWindow.parse("Friday 22:00 - Saturday 02:00 America/New_York")
    # Friday 22:00 New York (EST, UTC-5) is Saturday 03:00 UTC
    assert w.contains(utc(2026, 11, 28, 3, 0))
    assert not w.contains(utc(2026, 11, 27, 22, 0))  # Friday 17:00 in New York
    assert w.contains(utc(2026, 11, 28, 6, 59))
    assert not w.contains(utc(2026, 11, 28, 7, 0))


def test_once_window():
    w = FreezeWindow.parse("2026-12-20 00:00 - 2027-01-04 06:00 Europe/Berlin")
    assert w.once is not None
    assert not w.contains(utc(2026, 12, 19, 22, 59))  # 23:59 in Berlin
    assert w.contains(utc(2026, 12, 19, 23, 0))  # midnight in Berlin
    assert w.contains(utc(2026, 12, 31, 12, 0))
    assert w.contains(utc(2027, 1, 4, 4, 59))
    assert not w.contains(utc(2027, 1, 4, 5, 0))  # 06:00 in Berlin
    assert not w.contains(utc(2027, 12, 25, 0, 0))  # once, not yearly


def test_once_window_utc_by_default():
    w = FreezeWindow.parse("2026-12-24 12:00 - 2026-12-24 13:00 UTC")
    assert w.tz == "UTC"
    assert w.contains(utc(2026, 12, 24, 12, 30))
    assert not w.contains(utc(2026, 12, 24, 13, 0))


def test_environment_frozen_by(tmp_path):
    write(tmp_path, '[[environments]]\nname = "prod"\nfreeze = ["Sat 00:00 - Sun 00:00", "Mon 12:00 - Mon 13:00"]\n')
    env = load_config(None, cwd=str(tmp_path)).environment("prod")
    assert env.frozen_by(utc(2026, 11, 28, 10, 0)).text == "Sat 00:00 - Sun 00:00"
    assert env.frozen_by(utc(2026, 11, 30, 12, 30)).text == "Mon 12:00 - Mon 13:00"
    assert env.frozen_by(utc(2026, 11, 30, 13, 0)) is None


# -- strict schema (issue 15, item 6) -------------------------------------------------------

TWO_ENVS = '[[environments]]\nname = "dev"\n\n[[environments]]\nname = "prod"\n'


@pytest.mark.parametrize("line,snippet,hint", [
    ('retire_old = "false"', 'deploy.prod.retire_old must be true or false, not the string "false"',
     'write false without quotes: "false" is a string'),
    ("route_hook = 5", "deploy.prod.route_hook must be a command: a string", None),
    ("route_hook = [1, 2]", "deploy.prod.route_hook must be a command", None),
    ("route_hook = []", "deploy.prod.route_hook must not be an empty list", None),
    ("count = 1001", "deploy.prod.count must be a whole number from 1 to 1000, not the number 1001", None),
    ("count = 0", "deploy.prod.count must be a whole number from 1 to 1000", None),
    ('count = "3"', 'deploy.prod.count must be a whole number from 1 to 1000, not the string "3"',
     'write 3 without quotes: "3" is a string'),
    ("batch_size = 99999999999999999999", "deploy.prod.batch_size must be a whole number from 1 to 1000", None),
    ("max_unavailable = -1", "deploy.prod.max_unavailable must be a whole number from 0 to 1000", None),
    ('strategy = "blue_green"', 'deploy.prod.strategy must be "rolling" or "blue-green"', "did you mean 'blue-green'?"),
    ('health_timeout = "soon"', 'deploy.prod.health_timeout: "soon" is not a duration', None),
    ("health_timeout = nan", 'deploy.prod.health_timeout: "nan" is not a number of seconds', None),
    ('pass_env = ["OK", "NOT-OK"]', "deploy.prod.pass_env must be a list of environment variable names", None),
    ("port = 70000", "deploy.prod.port must be a whole number from 1 to 65535", None),
    ('secret_key = "abc"', "deploy.prod.secret_key is not allowed: credentials never go in release.toml", None),
    ('region = "eu\\u0000x"', "deploy.prod.region must not contain a NUL character", None),
    ('retire_old = true\nretir_old = false', "unknown key 'retir_old' in [deploy.prod]", "did you mean 'retire_old'?"),
    ('helth_check = { type = "http" }', "unknown key 'helth_check' in [deploy.prod]", "did you mean 'health_check'?"),
    ('health_check = { type = "htp" }', 'deploy.prod.health_check.type must be "http", "tcp"', "did you mean 'http'?"),
    ("health_check = { expected_status = 99 }", "deploy.prod.health_check.expected_status must be a whole number",
     None),
])
def test_deploy_settings_are_checked_against_the_schema(tmp_path, line, snippet, hint):
    e = bad(tmp_path, f'{TWO_ENVS}\n[deploy.prod]\nprovider = "local"\n{line}\n')
    assert snippet in e.message, e.message
    expected_line = 9 + line.count("\n")
    assert e.message.startswith(f"{tmp_path / 'release.toml'}:{expected_line}: "), e.message
    if hint:
        assert e.hint == hint


@pytest.mark.parametrize("text,snippet,hint", [
    ('[routes]\nhook = 5\n', "routes.hook must be a command", None),
    ('[routes]\nhok = "x"\n', "unknown key 'hok' in [routes]", "did you mean 'hook'?"),
    ('[retention]\nkeep = -1\n', "retention.keep must be a whole number from 0 to", None),
    ('[retention]\nkep = 3\n', "unknown key 'kep' in [retention]", "did you mean 'keep'?"),
    ('[retention.prd]\nkeep = 3\n', "[retention.prd] names an unknown environment", "did you mean 'prod'?"),
    ('[retention.prod]\nmax_age = "14x"\n', 'retention.prod.max_age: "14x" is not an age', None),
    ('[aws]\nregions = "us-east-1"\n', "aws.regions must be a list of strings", None),
    ('[aws]\naccess_key = "AKIA"\n', "aws.access_key is not allowed", None),
    ('[state]\ndir = 5\n', "state.dir must be a string, not the number 5", None),
    ('[deploy]\ncount = 3\n', "unknown key 'count' in [deploy] (settings go in a [deploy.<env>] table)", None),
    ('[deploy.prod]\nhealth_check = 5\n', "deploy.prod.health_check must be a table of health check settings", None),
    ('[[environments]]\nname = "dev"\napprovals = 101\n', "approvals must be a whole number from 0 to 100", None),
    ('[[environments]]\nname = "dev"\napproval_ttl = "0s"\n', "approval_ttl must be longer than 0", None),
    ('[[environments]]\nname = 5\n', "name must be a string", None),
])
def test_every_table_is_checked(tmp_path, text, snippet, hint):
    e = bad(tmp_path, (TWO_ENVS + "\n" if "environments" not in text else "") + text)
    assert snippet in e.message, e.message
    assert e.message.startswith(f"{tmp_path / 'release.toml'}:"), e.message
    if hint:
        assert e.hint == hint, e.hint


def test_a_hook_may_be_a_string_or_a_list_of_strings(tmp_path):
    write(tmp_path, f'{TWO_ENVS}\n[routes]\nhook = "sh route.sh"\n\n[deploy.prod]\nroute_hook = ["sh", "r.sh"]\n'
                    '[deploy.prod.health_check]\ntype = "http"\ntimeout = "5s"\ncommand = ["true"]\n')
    cfg = load_config(None, cwd=str(tmp_path))
    assert cfg.deploy["prod"]["route_hook"] == ["sh", "r.sh"] and cfg.raw["routes"]["hook"] == "sh route.sh"


def test_a_key_of_an_inline_table_is_reported_on_its_line(tmp_path):
    e = bad(tmp_path, f'{TWO_ENVS}\n[deploy.prod]\ncount = 2\nhealth_check = {{ timeout = "forever" }}\n')
    assert e.message.startswith(f"{tmp_path / 'release.toml'}:9: deploy.prod.health_check.timeout"), e.message


@pytest.mark.parametrize("window", ["Mon 00:00 - Mon 00:00", "Fri 18:00 - Friday 18:00 Europe/Berlin",
                                    "2026-12-20 00:00 - 2026-12-20 00:00"])
def test_an_empty_freeze_window_is_refused(tmp_path, window):
    e = bad(tmp_path, f'[[environments]]\nname = "prod"\nfreeze = ["{window}"]\n')
    assert "bad freeze window" in e.message and "the window is empty" in e.message and ":3:" in e.message


def test_deeply_nested_toml_is_a_config_error(tmp_path):
    depth = 1000
    e = bad(tmp_path, f'[deploy.dev]\ncount = {"[" * depth}1{"]" * depth}\n')
    assert "nested too deeply" in e.message


@pytest.mark.parametrize("line", ['retire_old = "false"', "route_hook = 5", 'retrie_old = true', "count = 5000"])
def test_cli_refuses_a_bad_deploy_setting_before_anything_runs(tmp_path, monkeypatch, capsys, line):
    """Exit 2 with the file and line, before the ledger is opened or created (so before any
    server starts or any route switches)."""
    write(tmp_path, f'{TWO_ENVS}\n[deploy.prod]\n{line}\n')
    for args in (["deploy", "web", "--env", "prod"], ["register", "web", "--artifact", "aws:us-east-1:ami-1"],
                 ["status"]):
        code, out, err = run_cli(tmp_path, monkeypatch, capsys, *args)
        assert code == 2, (args, err)
        assert err.startswith(f"error: {tmp_path / 'release.toml'}:8: "), err
    assert not (tmp_path / "state").exists()  # nothing was made


def test_cli_count_has_the_same_upper_bound(tmp_path, monkeypatch, capsys):
    code, out, err = run_cli(tmp_path, monkeypatch, capsys, "deploy", "web", "--env", "dev", "--count", "1001")
    assert code == 2 and "1001 is not in the range 1<=x<=1000" in err, err


def test_a_list_hook_runs_as_its_words(tmp_path):
    from releasemgr.release.routes import hook_command

    write(tmp_path, f'{TWO_ENVS}\n[deploy.prod]\nroute_hook = ["sh", "-c", "echo $0", "a b"]\n')
    assert hook_command(load_config(None, cwd=str(tmp_path)), "prod") == "sh -c 'echo $0' 'a b'"
