"""`release.toml`: environments and their policies, the ledger URL, deploy defaults.

Looked up as `--config FILE`, `RELEASE_CONFIG`, or `release.toml` in the current folder or
the nearest folder above it that has one (like git). Relative paths in the file, and the
default state folder `state/`, resolve against the folder that holds it; `--state` and
`RELEASE_STATE` resolve against the current folder. Without a file the environments are
dev -> staging -> prod, each requiring the one before, and the ledger is SQLite at
`<state>/ledger.db`. A bad file is one message naming the key and its line (exit 2).
"""

from __future__ import annotations

import json
import os
import re
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

DEFAULT_APPROVAL_TTL = "7d"
_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


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
            if (sd, st) == (ed, et):
                raise ValueError("the window is empty: it ends when it starts")
            return cls(text=text, tz=tz, weekly=(sd, st, ed, et))
        try:
            start = datetime.strptime(a, "%Y-%m-%d %H:%M")
            end = datetime.strptime(b, "%Y-%m-%d %H:%M")
        except ValueError:
            raise ValueError("expected 'Fri 18:00 - Mon 06:00 Europe/Berlin' or "
                             "'2026-12-20 00:00 - 2027-01-04 06:00 Europe/Berlin'") from None
        if end <= start:
            raise ValueError("the window ends before it starts" if end < start else "the window is empty: "
                             "it ends when it starts")
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
    # where ledger_url came from, for messages: "--ledger", "RELEASE_LEDGER", "[ledger] url in FILE:LINE"
    ledger_source: str = "the default"

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


def make_state_dir(path: Path) -> None:
    """Make the state folder if it is missing, readable by its owner only (0700, whatever the
    umask): it holds the SQLite ledger, build logs, images and the servers' folders. An
    existing folder is left as it is."""
    try:
        Path(path).mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"the state folder {path} is a file", hint="check --state / RELEASE_STATE / "
                          "[state] dir") from None
    except OSError as exc:
        raise ConfigError(f"cannot make the state folder {path}: {exc.strerror}",
                          hint="check --state / RELEASE_STATE / [state] dir") from None


def load_config(path: str | None = None, *, state_dir: str | None = None,
                ledger_url: str | None = None, cwd: str | None = None,
                ledger_source: str = "--ledger") -> Config:
    """Read and check release.toml (or the defaults). `ledger_url` (from `ledger_source`:
    "--ledger" or "RELEASE_LEDGER") wins over the file's `[ledger] url`. Every key is checked
    against `SCHEMA` before anything runs: ConfigError (exit 2) naming the file, the line and
    the key. The ledger URL's scheme is not judged here: `releasemgr.ledger.db.check_url` is
    the one place that does, naming `Config.ledger_source`."""
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
        data, text = _read_toml(cfg_path)
    base = cfg_path.parent if cfg_path else cwd_path
    v = _Validator(cfg_path, text)
    envs = _environments(data.get("environments"), v)
    env_names = [e.name for e in envs]
    check_table(data, SCHEMA, [], v, names=env_names)

    state_cfg = data.get("state", {})
    state = cwd_path / state_dir if state_dir else base / state_cfg.get("dir", "state")

    url = ledger_url or data.get("ledger", {}).get("url")
    if ledger_url:
        source = ledger_source
    elif url:
        line = v.line(["ledger"], "url")
        source = f"[ledger] url in {cfg_path}" + (f":{line}" if line else "")
    else:
        source = "the default"
    if not url:
        url = f"sqlite:///{(state / 'ledger.db').resolve()}"
    elif url.startswith("sqlite:///") and not url.startswith("sqlite:////") and not ledger_url:
        rel = url[len("sqlite:///"):]
        if rel and rel != ":memory:" and "\0" not in rel:
            url = f"sqlite:///{(base / rel).resolve()}"  # relative to the config file, not the cwd
    return Config(path=cfg_path, state_dir=state, ledger_url=url, environments=envs, deploy=data.get("deploy", {}),
                  retention=data.get("retention", {}), raw=data, ledger_source=source)


def _read_toml(path: Path) -> tuple[dict, str]:
    import tomllib

    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}", hint="fix the TOML syntax at that line") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(f"{path}: arrays or inline tables are nested too deeply to read",
                          hint="release.toml needs at most a few levels of nesting") from None


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
        check_table(item, ENVIRONMENT, where, v)
        name = item.get("name")
        if not isinstance(name, str) or not ENV_NAME_RE.match(name):
            v.fail("environments need a name of lower-case letters, digits, - or _", where, "name")
        if name == "latest" or re.fullmatch(r"v?\d+", name):
            v.fail(f"environment name {name!r} reads as a version in references (web@{name}); choose another",
                   where, "name")
        if name in seen:
            v.fail(f"environment {name!r} is defined twice", where, "name")
        requires = item.get("requires")
        if requires is not None and requires not in seen:
            v.fail(f"environment {name!r} requires {requires!r}, which is not defined before it",
                   where, "requires", seen)
        fr = item.get("freeze", [])
        windows = []
        for s in [fr] if isinstance(fr, str) else fr:
            try:
                windows.append(FreezeWindow.parse(s))
            except ValueError as exc:
                v.fail(f"bad freeze window {s!r}: {exc}", where, "freeze")
        seen.add(name)
        envs.append(Environment(name=name, requires=requires, require_ticket=item.get("require_ticket", False),
                                approvals=item.get("approvals", 0),
                                approval_ttl=item.get("approval_ttl", DEFAULT_APPROVAL_TTL), freeze=windows,
                                auto_deploy=item.get("auto_deploy", False), description=item.get("description", "")))
    return envs


# -- the schema ------------------------------------------------------------------------------
# Every key release.toml may hold, its type and its range, as data: `check_table` walks it.
# Reading it costs nothing at start-up (no pydantic: its import alone takes 0.13 s).

MAX_COUNT = 1000  # servers of one environment: `count`, `batch_size`, `max_unavailable`, --count
MAX_INT = 2 ** 63 - 1  # what the ledger can store (--limit, --keep, retention keep)
MAX_APPROVALS = 100


@dataclass(frozen=True)
class Rule:
    """One key's rule. `kind`: bool, int, str, strs (list of strings), command (a string or a
    list of strings), duration, age, env_names, str_map, windows, table; `what` says it in
    words ("a whole number from 1 to 1000"). A table lists its `keys`; `each` is the rule of
    the keys it does not list (an environment's name, e.g. `[deploy.<env>]`); `refused` is
    why a key may never be there."""

    kind: str
    what: str
    lo: int | None = None
    hi: int | None = None
    choices: tuple[str, ...] = ()
    keys: dict[str, "Rule"] | None = None
    each: "Rule | None" = None
    refused: str | None = None
    positive: bool = False  # a duration or age that must be longer than 0


def _int(lo: int, hi: int) -> Rule:
    return Rule("int", f"a whole number from {lo} to {hi}", lo=lo, hi=hi)


def _table(what: str, keys: dict[str, Rule], each: Rule | None = None) -> Rule:
    return Rule("table", what, keys=keys, each=each)


BOOL = Rule("bool", "true or false")
STR = Rule("str", "a string")
STRS = Rule("strs", "a list of strings")
COMMAND = Rule("command", 'a command: a string ("sh hook.sh") or a list of strings (["sh", "hook.sh"])')
DURATION = Rule("duration", 'a duration such as "90s" or "2m", or a number of seconds')
AGE = Rule("age", 'an age such as "36h", "14d" or "1y", or a number of seconds')
_CREDENTIALS = Rule("refused", "", refused="credentials never go in release.toml: they come from the standard AWS "
                                          "chain (environment, profile, instance role); see docs/aws.md")

HEALTH_CHECK = _table("a table of health check settings", {
    "type": Rule("str", '"http", "tcp", "command", "process" or "ec2"',
                 choices=("http", "tcp", "command", "process", "ec2")),
    "path": STR, "expected_status": _int(100, 599), "body_contains": STR, "command": COMMAND,
    "timeout": DURATION, "interval": DURATION,
})
AWS_SETTINGS: dict[str, Rule] = {
    "region": STR, "instance_type": STR, "subnet_id": STR, "security_group_ids": STRS, "key_name": STR,
    "iam_instance_profile": STR, "user_data": STR, "tags": Rule("str_map", "a table of strings"),
    "port": _int(1, 65535), "auto_scaling_group": STR, "profile": STR, "custom_endpoint_ec2": STR,
    "access_key": _CREDENTIALS, "secret_key": _CREDENTIALS, "token": _CREDENTIALS,
}
DEPLOY_ENV = _table("a table of deploy settings", {
    "count": _int(1, MAX_COUNT), "batch_size": _int(1, MAX_COUNT), "max_unavailable": _int(0, MAX_COUNT),
    "strategy": Rule("str", '"rolling" or "blue-green"', choices=("rolling", "blue-green")),
    "provider": STR, "health_timeout": DURATION, "retire_old": BOOL,
    "pass_env": Rule("env_names", "a list of environment variable names"),
    "route_hook": COMMAND, "health_check": HEALTH_CHECK, **AWS_SETTINGS,
})
RETENTION_RULE = {"keep": _int(0, MAX_INT), "max_age": AGE}
ENVIRONMENT = _table("a table", {
    "name": STR, "requires": STR, "require_ticket": BOOL, "approvals": _int(0, MAX_APPROVALS),
    "approval_ttl": Rule("age", AGE.what, positive=True),
    "freeze": Rule("windows", 'a list of windows like "Fri 18:00 - Mon 06:00 Europe/Berlin"'),
    "auto_deploy": BOOL, "description": STR,
})
SCHEMA = _table("a table", {
    "state": _table("a table", {"dir": STR}),
    "ledger": _table("a table", {"url": STR}),
    "environments": Rule("checked", "one or more [[environments]] tables"),  # `_environments`
    "deploy": _table("a table of [deploy.<env>] tables", {}, each=DEPLOY_ENV),
    "retention": _table("a table", RETENTION_RULE, each=_table("a table with keep and/or max_age", RETENTION_RULE)),
    "routes": _table("a table", {"hook": COMMAND}),
    "aws": _table("a table", {"regions": STRS, **AWS_SETTINGS}),
})
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_table(table: dict, rule: Rule, where: list, v: "_Validator", names: list[str] | None = None) -> None:
    """Check `table` (at `where`) against a table `rule`: unknown keys with did-you-mean,
    then every value against its key's rule. Keys a table does not list are environment
    names when the rule has `each` (`names`: the environments defined)."""
    keys = rule.keys or {}
    for key, value in table.items():
        sub = keys.get(key)
        if sub is None and rule.each is not None and isinstance(value, dict):
            if names is not None and key not in names:
                known = f"; environments: {', '.join(names)}" if names else ""
                v.fail(f"[{'.'.join(map(str, where + [key]))}] names an unknown environment{known}",
                       where + [key], None, names)
            sub = rule.each
        if sub is None:
            inside = f" (settings go in a [{_table_name(where)[1:-1]}.<env>] table)" if rule.each and not keys else ""
            v.fail(f"unknown key {key!r} in {_table_name(where)}{inside}", where, key, keys)
        if sub.kind == "table":
            if not isinstance(value, dict):
                v.fail(f"{_label(where, key)} must be {sub.what}, not {_shown(value)}", where, key)
            check_table(value, sub, where + [key], v, names)
        elif sub.kind != "checked":
            problem = _problem(value, sub)
            if problem:
                v.fail(f"{_label(where, key)}{problem}", where, key, hint=_hint(value, sub))


def _problem(value, rule: Rule) -> str | None:
    """Why `value` breaks `rule`, to follow the key's name (" must be ...", ": ..."), or None."""
    kind = rule.kind
    bad = f" must be {rule.what}, not {_shown(value)}"
    if kind == "refused":
        return f" is not allowed: {rule.refused}"
    if kind == "bool":
        return None if isinstance(value, bool) else bad
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool) or not rule.lo <= value <= rule.hi:
            return bad
        return None
    if kind == "str":
        if not isinstance(value, str):
            return bad
        if rule.choices and value not in rule.choices:
            return bad
        return _nul(value)
    if kind in ("strs", "command", "windows"):
        if kind != "strs" and isinstance(value, str):
            return _nul(value) or (" must not be empty" if kind == "command" and not value.strip() else None)
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            return bad
        if kind == "command" and not value:
            return " must not be an empty list"
        return next((p for p in map(_nul, value) if p), None)
    if kind == "env_names":
        if not isinstance(value, list) or not all(isinstance(s, str) and _ENV_VAR.match(s) for s in value):
            return bad
        return None
    if kind == "str_map":
        if not isinstance(value, dict) or not all(isinstance(s, str) for s in value.values()):
            return bad
        return next((p for p in map(_nul, [*value, *value.values()]) if p), None)
    if kind in ("duration", "age"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return bad
        try:
            secs = (age_seconds if kind == "age" else seconds)(value)
        except DurationError as exc:
            return f": {exc}"  # a whole sentence already: '"forever" is not an age: use ...'
        if rule.positive and not secs:
            return " must be longer than 0"
        return None
    raise AssertionError(f"no such rule kind {kind!r}")  # pragma: no cover - the schema is data of this module


def _nul(text: str) -> str | None:
    return " must not contain a NUL character (\\u0000)" if "\0" in text else None


def _hint(value, rule: Rule) -> str | None:
    if rule.kind == "bool" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return f"write {value.strip().lower()} without quotes: \"{value}\" is a string"
    if rule.kind == "int" and isinstance(value, str) and value.strip().isdigit():
        return f"write {value.strip()} without quotes: \"{value}\" is a string"
    if rule.kind == "str" and rule.choices and isinstance(value, str):
        close = closest(value, rule.choices)
        return f"did you mean {close!r}?" if close else None
    return None


def _shown(value) -> str:
    """How a wrong value is named in a message: its TOML type, and short values themselves."""
    if isinstance(value, bool):
        return "the boolean " + str(value).lower()
    if isinstance(value, (int, float)):
        text = repr(value)
        return f"the number {text if len(text) <= 24 else text[:20] + '...'}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return "the string " + json.dumps(text)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"  # dates and times


def _label(where: list, key) -> str:
    """`deploy.prod.count`; a key of an [[environments]] entry is named by itself."""
    if any(isinstance(w, int) for w in where):
        return str(key)
    return ".".join(map(str, where + [key]))


def _table_name(where: list) -> str:
    if not where:
        return "release.toml"
    if any(isinstance(w, int) for w in where):
        return f"[[{'.'.join(w for w in where if isinstance(w, str))}]]"
    return f"[{'.'.join(map(str, where))}]"


class _Validator:
    """Raises ConfigError with the key and the line it is on."""

    def __init__(self, path: Path | None, text: str):
        self.path, self.lines = path, text.splitlines()

    def fail(self, message: str, where: list, key: str | None, choices=None, *, hint: str | None = None):
        line = self.line(where, key)
        loc = f"{self.path}:{line}" if line else str(self.path)
        if choices and key and hint is None:
            close = closest(str(key), sorted(choices))
            hint = f"did you mean {close!r}?" if close else f"known keys: {', '.join(sorted(choices))}"
        elif choices and key is None and where and hint is None:
            close = closest(str(where[-1]), sorted(choices))
            hint = f"did you mean {close!r}?" if close else None
        raise ConfigError(f"{loc}: {message}", hint=hint)

    def line(self, where: list, key: str | None) -> int | None:
        """The line of `key` inside the table named by `where` (['environments', 2]); for a
        table written inline (`health_check = { ... }`), the line of the key that holds it."""
        found = self._line(where, key)
        if found is None and where and not isinstance(where[-1], int) and len(where) > 1:
            return self.line(where[:-1], where[-1])
        return found

    def _line(self, where: list, key: str | None) -> int | None:
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
                    current = re.sub(r"\s*\.\s*", ".", m.group(1)).replace('"', "")
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
            if key and re.match(rf"^[\"']?{re.escape(str(key))}[\"']?\s*[=.]", s):
                return i + 1
        return start + 1 if tables else None
