"""Deploy settings (`settings_for` in release/deploy/settings.py): flags win over `[deploy.<env>]`,
which wins over the defaults; the image's health check overlaid by the environment's.
Plain values, no ledger, no process.

Real-process counterparts: tests/test_deploy.py (test_port_arg_and_health_check_from_config,
test_bad_input_is_one_clear_message, test_without_a_setting_deploy_keeps_the_last_strategy,
test_dry_run_changes_nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasemgr.config import Config, Environment
from releasemgr.errors import UsageError
from releasemgr.release.deploy.settings import settings_for


def config(**prod) -> Config:
    return Config(path=None, state_dir=Path("/nonexistent"), ledger_url="sqlite:///:memory:",
                  environments=[Environment("dev"), Environment("prod")], deploy={"prod": prod} if prod else {})


IMAGE = {"port_env": "PORT", "health_check": {"type": "http", "path": "/health", "timeout": "20s",
                                              "interval": "2s", "body_contains": "ok"}}


def test_defaults_without_any_setting():
    st = settings_for(config(), "prod")
    assert (st.count, st.strategy, st.batch_size, st.max_unavailable) == (1, "rolling", 1, 0)
    assert (st.provider, st.retire_old) == ("local", False)
    assert st.health.type == "process" and st.health_timeout == 30.0  # no port: is the process there
    assert settings_for(config(), "prod", image_meta={"port_env": "PORT"}).health.type == "tcp"


def test_the_environment_table_wins_over_defaults_and_flags_over_both():
    cfg = config(count=4, strategy="blue-green", batch_size=2, max_unavailable=1, health_timeout="45s",
                 retire_old=True)
    st = settings_for(cfg, "prod")
    assert (st.count, st.strategy, st.batch_size, st.max_unavailable) == (4, "blue-green", 2, 1)
    assert st.health_timeout == 45.0 and st.retire_old is True
    st = settings_for(cfg, "prod", count=6, strategy="rolling", batch_size=3, max_unavailable=0,
                      health_timeout=5.0, retire_old=False)
    assert (st.count, st.strategy, st.batch_size, st.max_unavailable) == (6, "rolling", 3, 0)
    assert st.health_timeout == 5.0 and st.retire_old is False
    assert settings_for(cfg, "dev").count == 1  # another environment's table does not apply


def test_the_batch_is_never_larger_than_the_count_and_count_defaults_to_what_runs():
    assert settings_for(config(count=2, batch_size=5), "prod").batch_size == 2
    assert settings_for(config(), "prod", default_count=3).count == 3
    assert settings_for(config(count=2), "prod", default_count=3).count == 2


def test_the_image_health_check_is_overlaid_key_by_key():
    st = settings_for(config(), "prod", image_meta=IMAGE)
    assert (st.health.type, st.health.path, st.health.body_contains) == ("http", "/health", "ok")
    assert (st.health.timeout, st.health.interval) == (20.0, 2.0) and st.health_timeout == 20.0
    st = settings_for(config(health_check={"path": "/ready", "timeout": "1m"}), "prod", image_meta=IMAGE)
    assert (st.health.type, st.health.path, st.health.body_contains) == ("http", "/ready", "ok")
    assert st.health.timeout == 60.0 and st.health_timeout == 60.0
    st = settings_for(config(health_check={"type": "command", "command": "test -f /ready"}), "prod")
    assert st.health.command == ["/bin/sh", "-c", "test -f /ready"]


@pytest.mark.parametrize("prod, flags, message", [
    ({}, {"count": 0}, "count must be 1 or more"),
    ({}, {"strategy": "canary"}, "unknown strategy 'canary'"),
    ({"batch_size": 0}, {}, "batch size must be 1 or more"),
    ({}, {"max_unavailable": -1}, "max unavailable must be 0 or more"),
    ({"health_check": "http"}, {}, "[deploy.prod] health_check must be a table"),
    ({"health_check": {"type": "smoke"}}, {}, "unknown health check type 'smoke'"),
    ({"health_check": {"type": "command"}}, {}, "a command health check needs health_check.command"),
    ({"health_timeout": "soon"}, {}, "health timeout"),
])
def test_bad_settings_are_usage_errors(prod, flags, message):
    with pytest.raises(UsageError) as info:
        settings_for(config(**prod), "prod", **flags)
    assert message in info.value.message
