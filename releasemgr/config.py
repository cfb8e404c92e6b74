"""`release.toml`: environments and their policies, the ledger URL, deploy defaults.

Looked up as `--config FILE`, `RELEASE_CONFIG`, or `release.toml` in the current folder or
the nearest folder above it that has one (like git). Relative paths in the file, and the
default state folder `state/`, resolve against the folder that holds it; `--state` and
`RELEASE_STATE` resolve against the current folder. Without a file the environments are
dev -> staging -> prod, each requiring the one before, and the ledger is SQLite at
`<state>/ledger.db`. A bad file is one message naming the key and its line (exit 2).
"""

from __future__ import annotations

import getpass
import os
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, time, timezone
from pathlib import Path
from typing import Any

from releasemgr.common.durations import DurationError, age_seconds, seconds
from releasemgr.errors import ConfigError
from releasemgr.errors import NotFound
from releasemgr.common.suggest import closest

DEFAULT_ENVIRONMENTS = ("dev", "staging", "prod")
ENV_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

_TOP_KEYS = {"ledger", "environments", "deploy", "retention", "routes", "aws", "state"}
_ENV_KEYS = {"name", "requires", "require_ticket", "approvals", "approval_ttl", "freeze", "auto_deploy",
             "description"}
DEFAULT_APPROVAL_TTL = "7d"
_LEDGER_KEYS = {"url"}
_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def default_actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


# -- freeze windows ------------------------------------------------------------------------

@dataclass(frozen=True)
class FreezeWindow:
    """`Fri 18:00 - Mon 06:00 Europe/Berlin` (weekly) or
    `2026-12-20 00:00 - 2027-01-04 06:00 Europe/Berlin` (once). The zone defaults to UTC."""

    text: str
    tz: str
    weekly: tuple[int, time, int, time] | None = None  # (start day, start time, end day, end time)
    once: tuple[datetime, datetime] | None = None

    def contains(self, when: datetime) -> bool:
        from zoneinfo import ZoneInfo

        local = when.astimezone(ZoneInfo(self.tz))
        if self.once is not None:
            start, end = (d.replace(tzinfo=ZoneInfo(self.tz)) for d in self.once)
            return start <= local < end
        sd, st, ed, et = self.weekly
        minute = lambda day, t: day * 1440 + t.hour * 60 + t.minute  # noqa: E731
        now_m = minute(local.weekday(), local.time())
        start_m, end_m = minute(sd, st), minute(ed, et)
        if start_m <= end_m:
            return start_m <= now_m < end_m
        return now_m >= start_m or now_m < end_m  # the window wraps over the week's end

    @classmethod
    def parse(cls, text: str) -> "FreezeWindow":
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        raw = text.strip()
        tz = "UTC"
        parts = raw.rsplit(None, 1)
        if len(parts) == 2 and "/" in parts[1] or (len(parts) == 2 and parts[1].upper() == "UTC"):
            raw, tz = parts[0].strip(), parts[1]
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r}") from None
        if " - " not in raw:
            raise ValueError("expected 'START - END [Zone]', e.g. 'Fri 18:00 - Mon 06:00 Europe/Berlin'")
        a, b = (s.strip() for s in raw.split(" - ", 1))
        weekly = [_parse_weekly(a), _parse_weekly(b)]
        if all(weekly):
            (sd, st), (ed, et) = weekly
            return cls(text=text, tz=tz, weekly=(sd, st, ed, et))
        try:
            start = datetime.strptime(a, "%Y-%m-%d %H:%M")
            end = datetime.strptime(b, "%Y-%m-%d %H:%M")
        except ValueError:
            raise ValueError("expected 'Fri 18:00 - Mon 06:00 Europe/Berlin' or "
                             "'2026-12-20 00:00 - 2027-01-04 06:00 Europe/Berlin'") from None
        if end <= start:
            raise ValueError("the window ends before it starts")
        return cls(text=text, tz=tz, once=(start, end))


def _parse_weekly(s: str):
    m = re.fullmatch(r"([A-Za-z]{3})[a-z]*\s+(\d{1,2}):(\d{2})", s)
    if not m or m.group(1).lower() not in _DAYS:
        return None
    h, mi = int(m.group(2)), int(m.group(3))
    if h > 23 or mi > 59:
        return None
    return _DAYS[m.group(1).lower()], time(h, mi)


# -- the configuration ---------------------------------------------------------------------

@dataclass
class Environment:
    name: str
    requires: str | None = None
    require_ticket: bool = False
    approvals: int = 0
    approval_ttl: str | int | float = DEFAULT_APPROVAL_TTL  # how long a `release approve` stays valid (an age)
    freeze: list[FreezeWindow] = field(default_factory=list)
    auto_deploy: bool = False
    description: str = ""

    def frozen_by(self, when: datetime | None = None) -> FreezeWindow | None:
        when = when or datetime.now(timezone.utc)
        return next((w for w in self.freeze if w.contains(when)), None)

    def to_json(self) -> dict:
        return {"name": self.name, "requires": self.requires, "require_ticket": self.require_ticket,
                "approvals": self.approvals, "approval_ttl": self.approval_ttl,
                "freeze": [w.text for w in self.freeze], "auto_deploy": self.auto_deploy}

    @property
    def approval_ttl_seconds(self) -> float:
        return age_seconds(self.approval_ttl)


@dataclass
class Config:
    path: Path | None
    state_dir: Path
    ledger_url: str
    environments: list[Environment]
    deploy: dict[str, dict[str, Any]] = field(default_factory=dict)
    retention: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    # release.toml's own environments once the ledger's policy in force replaced `environments`
    declared_environments: list[Environment] | None = None

    @property
    def environment_names(self) -> list[str]:
        return [e.name for e in self.environments]

    def environment(self, name: str) -> Environment:
        for env in self.environments:
            if env.name == name:
                return env
        close = closest(name, self.environment_names)
        hint = f"did you mean {close!r}? " if close else ""
        raise NotFound(f"unknown environment {name!r}",
                       hint=f"{hint}environments: {', '.join(self.environment_names)}")


def find_config(start: Path) -> Path | None:
    """`release.toml` in `start` or the nearest folder above it that has one."""
    for folder in (start, *start.parents):
        candidate = folder / "release.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(path: str | None = None, *, state_dir: str | None = None,
                ledger_url: str | None = None, cwd: str | None = None) -> Config:
    cwd_path = Path(cwd or os.getcwd())
    cfg_path: Path | None = None
    if path:
        cfg_path = Path(path)
        if not cfg_path.is_file():
            raise ConfigError(f"config file {path} not found", hint="check --config / RELEASE_CONFIG")
    else:
        cfg_path = find_config(cwd_path)

    data: dict[str, Any] = {}
    text = ""
    if cfg_path is not None:
        import tomllib

        text = cfg_path.read_text(encoding="utf-8", errors="replace")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{cfg_path}: {exc}", hint="fix the TOML syntax at that line") from None
    base = cfg_path.parent if cfg_path else cwd_path
    v = _Validator(cfg_path, text)

    for key in data:
        if key not in _TOP_KEYS:
            v.fail(f"unknown key {key!r}", [], key, _TOP_KEYS)

    state_cfg = data.get("state", {})
    if not isinstance(state_cfg, dict):
        v.fail("[state] must be a table", [], "state")
    state = cwd_path / state_dir if state_dir else base / state_cfg.get("dir", "state")

    led = data.get("ledger", {})
    if not isinstance(led, dict):
        v.fail("[ledger] must be a table", [], "ledger")
    for key in led:
        if key not in _LEDGER_KEYS:
            v.fail(f"unknown key {key!r} in [ledger]", ["ledger"], key, _LEDGER_KEYS)
    url = ledger_url or led.get("url")
    if url is not None and not isinstance(url, str):
        v.fail("ledger.url must be a string", ["ledger"], "url")
    if not url:
        url = f"sqlite:///{(state / 'ledger.db').resolve()}"
    elif url.startswith("sqlite:///") and not url.startswith("sqlite:////") and not ledger_url:
        rel = url[len("sqlite:///"):]
        if rel and rel != ":memory:":
            url = f"sqlite:///{(base / rel).resolve()}"  # relative to the config file, not the cwd
    if not (url.startswith("sqlite") or url.startswith("postgresql") or url.startswith("postgres://")):
        v.fail(f"unsupported ledger url {url!r} (use sqlite:///path or postgresql://user@host/db)", ["ledger"], "url")

    envs = _environments(data.get("environments"), v)
    deploy = _deploy_tables(data.get("deploy", {}), {e.name for e in envs}, v)
    _check_retention(data.get("retention", {}), v)
    return Config(path=cfg_path, state_dir=state, ledger_url=url, environments=envs, deploy=deploy,
                  retention=data.get("retention", {}), raw=data)


def _environments(raw, v: "_Validator") -> list[Environment]:
    if raw is None:
        envs, prev = [], None
        for name in DEFAULT_ENVIRONMENTS:
            envs.append(Environment(name=name, requires=prev))
            prev = name
        return envs
    if not isinstance(raw, list) or not raw:
        v.fail("environments must be one or more [[environments]] tables", [], "environments")
    envs: list[Environment] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = ["environments", i]
        if not isinstance(item, dict):
            v.fail("each [[environments]] entry must be a table", where, None)
        for key in item:
            if key not in _ENV_KEYS:
                v.fail(f"unknown key {key!r} in [[environments]]", where, key, _ENV_KEYS)
        name = item.get("name")
        if not isinstance(name, str) or not ENV_NAME_RE.match(name):
            v.fail("environments need a name of lower-case letters, digits, - or _", where, "name")
        if name == "latest" or re.fullmatch(r"v?\d+", name):
            v.fail(f"environment name {name!r} reads as a version in references (web@{name}); choose another",
                   where, "name")
        if name in seen:
            v.fail(f"environment {name!r} is defined twice", where, "name")
        requires = item.get("requires")
        if requires is not None and (not isinstance(requires, str) or requires not in seen):
            v.fail(f"environment {name!r} requires {requires!r}, which is not defined before it",
                   where, "requires", seen)
        rt = item.get("require_ticket", False)
        if not isinstance(rt, bool):
            v.fail("require_ticket must be true or false", where, "require_ticket")
        ap = item.get("approvals", 0)
        if not isinstance(ap, int) or isinstance(ap, bool) or ap < 0:
            v.fail("approvals must be a whole number >= 0", where, "approvals")
        ttl = _approval_ttl(item, where, v)
        ad = item.get("auto_deploy", False)
        if not isinstance(ad, bool):
            v.fail("auto_deploy must be true or false", where, "auto_deploy")
        fr = item.get("freeze", [])
        if isinstance(fr, str):
            fr = [fr]
        if not isinstance(fr, list) or not all(isinstance(s, str) for s in fr):
            v.fail("freeze must be a list of windows like \"Fri 18:00 - Mon 06:00 Europe/Berlin\"", where, "freeze")
        windows = []
        for s in fr:
            try:
                windows.append(FreezeWindow.parse(s))
            except ValueError as exc:
                v.fail(f"bad freeze window {s!r}: {exc}", where, "freeze")
        seen.add(name)
        envs.append(Environment(name=name, requires=requires, require_ticket=rt, approvals=ap, approval_ttl=ttl,
                                freeze=windows, auto_deploy=ad, description=item.get("description", "")))
    return envs


def _approval_ttl(item: dict, where: list, v: "_Validator"):
    """`approval_ttl`: how long a recorded approval stays valid, an age ("7d", "36h", seconds)."""
    ttl = item.get("approval_ttl", DEFAULT_APPROVAL_TTL)
    try:
        if age_seconds(ttl) <= 0:
            raise DurationError("it must be longer than 0")
    except DurationError as exc:
        v.fail(f"approval_ttl: {exc}", where, "approval_ttl")
    return ttl


_DEPLOY_TYPES = {"count": int, "batch_size": int, "max_unavailable": int, "strategy": str, "provider": str,
                 "health_timeout": (int, float, str), "pass_env": list}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_time(v: "_Validator", table: dict, where: list, key: str, *, age: bool = False) -> None:
    """A duration ("90s", "1h30m", or a number of seconds) or, with `age`, an age ("14d", "1y")."""
    if key not in table:
        return
    try:
        (age_seconds if age else seconds)(table[key])
    except DurationError as exc:
        v.fail(f"{'.'.join(map(str, where + [key]))}: {exc}", where, key)


def _deploy_tables(deploy, names: set[str], v: "_Validator") -> dict:
    if not isinstance(deploy, dict):
        v.fail("[deploy] must be a table of [deploy.<env>] tables", [], "deploy")
    for env_name, settings in deploy.items():
        if env_name not in names:
            v.fail(f"[deploy.{env_name}] names an unknown environment", ["deploy", env_name], None, names)
        if not isinstance(settings, dict):
            v.fail(f"[deploy.{env_name}] must be a table", ["deploy"], env_name)
        _check_deploy(env_name, settings, v)
    return deploy


def _check_deploy(env: str, settings: dict, v: "_Validator") -> None:
    for key, typ in _DEPLOY_TYPES.items():
        if key in settings and (not isinstance(settings[key], typ) or isinstance(settings[key], bool)):
            v.fail(f"deploy.{env}.{key} has the wrong type", ["deploy", env], key)
    if settings.get("strategy", "rolling") not in ("rolling", "blue-green"):
        v.fail(f"deploy.{env}.strategy must be \"rolling\" or \"blue-green\"", ["deploy", env], "strategy")
    _check_time(v, settings, ["deploy", env], "health_timeout")
    names = settings.get("pass_env", [])
    if not isinstance(names, list) or not all(isinstance(n, str) and _ENV_NAME.fullmatch(n) for n in names):
        v.fail(f"deploy.{env}.pass_env must be a list of environment variable names", ["deploy", env], "pass_env")
    check = settings.get("health_check")
    if isinstance(check, dict):
        for key in ("timeout", "interval"):
            _check_time(v, check, ["deploy", env, "health_check"], key)


def _check_retention(retention, v: "_Validator") -> None:
    """`max_age` of `[retention]` and `[retention.<env>]` is an age; the rest is read by prune."""
    if not isinstance(retention, dict):
        v.fail("[retention] must be a table", [], "retention")
    _check_time(v, retention, ["retention"], "max_age", age=True)
    for name, table in retention.items():
        if isinstance(table, dict):
            _check_time(v, table, ["retention", name], "max_age", age=True)


class _Validator:
    """Raises ConfigError with the key and the line it is on."""

    def __init__(self, path: Path | None, text: str):
        self.path, self.lines = path, text.splitlines()

    def fail(self, message: str, where: list, key: str | None, choices=None):
        line = self._line(where, key)
        loc = f"{self.path}:{line}" if line else str(self.path)
        hint = None
        if choices and key:
            close = closest(str(key), sorted(choices))
            hint = f"did you mean {close!r}?" if close else f"known keys: {', '.join(sorted(choices))}"
        raise ConfigError(f"{loc}: {message}", hint=hint)

    def _line(self, where: list, key: str | None) -> int | None:
        """Find the line of `key` inside the table named by `where` (['environments', 2])."""
        header_hits: list[int] = []
        tables = [w for w in where if isinstance(w, str)]
        index = next((w for w in where if isinstance(w, int)), None)
        current = None
        seen_array = -1
        start = 0
        if tables:
            want = ".".join(tables)
            for i, raw in enumerate(self.lines):
                s = raw.strip()
                m = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", s)
                if m:
                    current = m.group(1)
                    if current == want:
                        if s.startswith("[["):
                            seen_array += 1
                            if index is None or seen_array == index:
                                header_hits.append(i)
                        else:
                            header_hits.append(i)
            if not header_hits:
                return None
            start = header_hits[0]
            if key is None:
                return start + 1
        for i in range(start + (1 if tables else 0), len(self.lines)):
            s = self.lines[i].strip()
            if tables and s.startswith("["):
                break
            if not tables and s.startswith("["):
                if key and re.match(rf"^\[\[?\s*{re.escape(key)}\b", s):
                    return i + 1
                continue
            if key and re.match(rf"^\"?{re.escape(str(key))}\"?\s*=", s):
                return i + 1
        return start + 1 if tables else None
