"""One reading of durations and ages (releasemgr.common.durations), and the places that agree on it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from releasemgr.common.durations import (DurationError, age_seconds, is_age, is_duration, parse_age,
                                         parse_go_duration, seconds)
from releasemgr.pipeline.communicator import CommunicatorError
from releasemgr.pipeline.communicator.ssh import from_packer_options as ssh_config_from
from releasemgr.release.audit_report import parse_when
from releasemgr.release.retire import parse_age as retention_age
from releasemgr.errors import UsageError


@pytest.mark.parametrize("text,secs", [
    ("300ms", 0.3), ("1.5h", 5400), ("1h30m", 5400), (".5s", 0.5), ("-1s", -1), ("+5s", 5), ("0", 0),
    ("1ns", 1e-9), ("2us", 2e-6), ("3µs", 3e-6), ("4μs", 4e-6), ("2h45m10s", 9910), ("1.s", 1),
])
def test_go_durations(text, secs):
    assert is_duration(text)
    assert parse_go_duration(text) == pytest.approx(secs)


@pytest.mark.parametrize("text", ["", "5", "1d", "m5", "1h 30m", "h", "5 minutes", "-", ".s", "1e3s", "+-1s"])
def test_not_go_durations(text):
    assert not is_duration(text)
    with pytest.raises(DurationError) as exc:
        parse_go_duration(text)
    assert str(exc.value) == f'"{text}" is not a duration: use a number with a unit, such as "30s", "5m" or "1h30m"'


def test_go_durations_are_int64_nanoseconds():
    with pytest.raises(DurationError, match="too long for a duration"):
        parse_go_duration("999999999h")


@pytest.mark.parametrize("text,days", [("30d", 30), ("1d12h", 1.5), ("2w", 14), ("1y", 365), ("36h", 1.5),
                                       ("1h30m", 1 / 16), (".5d", 0.5), ("0", 0)])
def test_ages_are_go_durations_with_days_weeks_years(text, days):
    assert is_age(text)
    assert parse_age(text) == pytest.approx(days * 86400)
    assert age_seconds(text) == pytest.approx(days * 86400)


def test_what_people_type_bare_numbers_are_seconds_negatives_refused():
    assert seconds("90") == 90 and seconds(1.5) == 1.5 and seconds("2m") == 120
    assert seconds(None, 7.0) == 7.0 and seconds("", 7.0) == 7.0
    assert age_seconds("60") == 60
    assert seconds("-1s", negative=True) == -1
    for value in ("-1s", -1, "-1"):
        with pytest.raises(DurationError, match="is negative: it must be 0 or more"):
            seconds(value)
    with pytest.raises(DurationError, match="is negative"):
        age_seconds("-1d")
    with pytest.raises(DurationError, match='"true" is not a duration'):
        seconds(True)
    with pytest.raises(DurationError, match='"soon" is not an age'):
        age_seconds("soon")


def test_prune_and_audit_read_the_same_ages():
    for text in ("1y", "1d12h", "2w", "36h", "90m"):
        assert retention_age(text).total_seconds() == pytest.approx(age_seconds(text))
        assert parse_when(text)  # an instant, age ago
    with pytest.raises(UsageError, match='"1x" is not an age'):
        retention_age("1x")
    with pytest.raises(UsageError, match="is negative"):
        parse_when("-1d")


def test_audit_since_takes_every_age(cli):
    """Settled: `audit --since 1y` and `1d12h` were refused while `prune --older-than` took them."""
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    for age in ("1y", "1d12h", "2w", "1h30m"):
        assert [e["action"] for e in cli.json("audit", "--since", age)["events"]][-1] == "version.created"
    r = cli("audit", "--since", "yesterday-ish")
    assert r.code == 2 and "cannot read the time" in r.err


# -- a template's durations: `release validate` and `release build` read them alike ----------

def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _null_template(tmp_path: Path, ssh_timeout: str) -> Path:
    t = tmp_path / "null.pkr.hcl"
    t.write_text(f"""
source "null" "box" {{
  ssh_host     = "127.0.0.1"
  ssh_port     = {_closed_port()}
  ssh_username = "nobody"
  ssh_password = "unused"
  ssh_timeout  = "{ssh_timeout}"
}}

build {{
  sources = ["source.null.box"]
  provisioner "shell" {{
    inline = ["true"]
  }}
}}
""")
    return t


def test_validate_and_build_agree_on_a_fractional_duration(sqlite_cli, tmp_path):
    """Settled: ssh_timeout = ".5s" passed validate and failed build ("is not a duration")."""
    t = _null_template(tmp_path, ".5s")
    sqlite_cli.ok("validate", str(t))
    r = sqlite_cli("build", str(t))  # nothing listens: the build fails connecting, after 0.5 s
    assert r.code == 1 and "not a duration" not in r.out + r.err, r
    assert ssh_config_from({"ssh_host": "h", "ssh_timeout": ".5s"}).timeout == 0.5


def test_validate_and_build_refuse_a_negative_timeout_alike(sqlite_cli, tmp_path):
    """Settled: a negative timeout means nothing; both refuse it with one message."""
    message = '"-1s" is negative: it must be 0 or more'
    t = _null_template(tmp_path, "-1s")
    for command in ("validate", "build"):
        r = sqlite_cli(command, str(t))
        assert r.code == 2 and message in r.out + r.err, r
    with pytest.raises(CommunicatorError, match=message):
        ssh_config_from({"ssh_host": "h", "ssh_timeout": "-1s"})
    # where Packer gives a negative value a meaning, it is one: -1s disables keep-alives
    assert ssh_config_from({"ssh_host": "h", "ssh_keep_alive_interval": "-1s"}).keepalive_interval == -1


def test_release_toml_durations_are_checked_when_read(tmp_path):
    from releasemgr.config import load_config
    from releasemgr.errors import ConfigError

    cfg = tmp_path / "release.toml"
    cfg.write_text('[deploy.prod]\nhealth_timeout = "1m30s"\n[retention]\nmax_age = "1d12h"\n')
    assert load_config(str(cfg)).deploy["prod"]["health_timeout"] == "1m30s"
    cfg.write_text('[retention]\nkeep = 3\n\n[retention.prod]\nmax_age = "forever"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(str(cfg))
    assert exc.value.message.endswith(':5: retention.prod.max_age: "forever" is not an age: use a number with a unit, '
                                      'such as "36h", "14d", "2w" or "1y"')
    cfg.write_text('[deploy.prod]\nhealth_timeout = "-5s"\n')
    with pytest.raises(ConfigError, match='deploy.prod.health_timeout: "-5s" is negative'):
        load_config(str(cfg))


def test_common_is_a_leaf_of_light_standard_modules():
    """Every command imports releasemgr.common: it imports nothing of the project, nothing heavy."""
    import subprocess
    import sys

    code = ("import sys; before = set(sys.modules); import releasemgr.common.durations, releasemgr.common.secrets; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    ours = [m for m in loaded if m.startswith("releasemgr")]
    assert ours == ["releasemgr", "releasemgr.common", "releasemgr.common.durations", "releasemgr.common.secrets"]
    assert not [m for m in loaded if m.split(".")[0] in ("click", "sqlalchemy", "sqlmodel", "boto3", "paramiko")]


@pytest.mark.parametrize("value", ["999999999999y", "293y", "1e308", "99999999999999999999999", 1e308, 10 ** 400,
                                   -(10 ** 400), float("inf"), float("-inf"), float("nan"), "100000000000000000000d"])
def test_ages_and_durations_are_bounded_and_finite(value):
    """Whatever a person types or a TOML file holds, an age or a duration is a number a date
    or a clock can take: at most Go's int64 nanoseconds, never inf or NaN (issue 15 item 7)."""
    for parse in (age_seconds, seconds, lambda v: seconds(v, negative=True)):
        with pytest.raises(DurationError):
            parse(value)
    if isinstance(value, str) and not value[-1].isdigit():
        with pytest.raises(DurationError, match="too long"):
            parse_age(value)
    assert age_seconds("292y") == 292 * 365 * 86400.0
