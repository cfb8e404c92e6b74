"""Ledger URLs read as SQLAlchemy reads them, without importing SQLAlchemy.

Every command judges its ledger URL (`db.check_url`) and may show it (`db.safe_url`), and on
PostgreSQL connects with psycopg directly (`db.Ledger`), so this is on every command's path:
SQLAlchemy costs ~0.15 s to import and is loaded only for migrations. `parse` is
`sqlalchemy.engine.make_url` (2.x: the same pattern, unquoting, query and port rules, so the
same URLs fail with the same messages), `render` is `URL.render_as_string`, and
`pg_connect_args` is what SQLAlchemy's psycopg dialect hands `psycopg.connect()`
(`create_connect_args`, multiple hosts included); `tests/test_ledger_urls.py` holds each of
them to SQLAlchemy's on generated URLs.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import parse_qsl, quote, quote_plus, unquote

_URL = (  # compiled on first use (re's cache): a SQLite command never needs it
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """
)


class Url(NamedTuple):
    drivername: str
    username: str | None
    password: str | None
    host: str | None
    port: int | None
    database: str | None
    query: dict  # name -> value, or a tuple of values for a name given more than once


def parse(url: str) -> Url:
    """The parts of `url`; ValueError as SQLAlchemy's `make_url` fails (no `scheme://`, a port
    that is not a number)."""
    m = re.match(_URL, url, re.X)
    if m is None:
        raise ValueError("Could not parse SQLAlchemy URL from given URL string")
    c = m.groupdict()
    query: dict = {}
    if c["query"] is not None:
        for key, value in parse_qsl(c["query"]):
            query[key] = (*_as_tuple(query[key]), value) if key in query else value
    username, password, database = (None if c[k] is None else unquote(c[k])
                                    for k in ("username", "password", "database"))
    port = None if c["port"] is None else int(c["port"])  # ValueError: "invalid literal for int() ..."
    return Url(c["name"], username, password, c["ipv4host"] or c["ipv6host"], port, database, query)


def _as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def render(u: Url, hide_password: bool = True) -> str:
    """The URL as text, its password as `***` (SQLAlchemy's `render_as_string`)."""
    s = u.drivername + "://"
    if u.username is not None:
        s += quote(u.username, safe=" +")
        if u.password is not None:
            s += ":" + ("***" if hide_password else quote(u.password, safe=" +"))
        s += "@"
    if u.host is not None:
        s += f"[{u.host}]" if ":" in u.host else u.host
    if u.port is not None:
        s += ":" + str(u.port)
    if u.database is not None:
        s += "/" + quote(u.database, safe=" +/")
    if u.query:
        s += "?" + "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k in sorted(u.query) for v in _as_tuple(u.query[k]))
    return s


def pg_connect_args(u: Url) -> dict:
    """The keyword arguments of `psycopg.connect()` for a PostgreSQL URL, as SQLAlchemy's psycopg
    dialect makes them: host, port, user, password and dbname when given, then the query's
    options as they are, with `?host=h1:p1&host=h2:p2` / `?host=h1,h2&port=p1,p2` joined into
    libpq's comma lists. ValueError for hosts and ports that do not pair up."""
    args = {key: value for key, value in (("host", u.host), ("dbname", u.database), ("user", u.username),
                                          ("password", u.password), ("port", u.port)) if value}
    hosts, ports = _hosts_and_ports(u.query)
    args.update(u.query)
    if hosts:
        args["host"] = ",".join(hosts)
        comma_ports = ",".join(str(p) if p else "" for p in ports)
        if comma_ports:
            args["port"] = comma_ports
    return args


def _hosts_and_ports(query: dict):
    """SQLAlchemy's `PGDialect._split_multihost_from_url`."""
    hosts = ports_str = None
    integrated = False
    host = query.get("host")
    if isinstance(host, tuple):
        integrated = True
        hosts, ports_str = zip(*[t.split(":") if ":" in t else (t, None) for t in host])
    elif isinstance(host, str):
        hosts = tuple(host.split(","))
        if "port" not in query and len(hosts) == 1 and ":" in hosts[0]:
            m = re.match(r"^([a-zA-Z0-9\-\.]*)(?:\:(\d*))?$", hosts[0])
            if m:
                integrated = True
                hosts, ports_str = (m.group(1),), ((m.group(2),) if m.group(2) else (None,))
    if "port" in query:
        if integrated:
            raise ValueError("Can't mix 'multihost' formats together; use \"host=h1,h2,h3&port=p1,p2,p3\" or "
                             "\"host=h1:p1&host=h2:p2&host=h3:p3\" separately")
        port = query["port"]
        ports_str = port if isinstance(port, tuple) else tuple(port.split(","))
    ports = None
    if ports_str:
        try:
            ports = tuple(int(x) if x else None for x in ports_str)
        except ValueError:
            raise ValueError(f"Received non-integer port arguments: {ports_str}") from None
    if ports and ((not hosts and len(ports) > 1)
                  or (hosts and len(hosts) != len(ports) and (len(hosts) > 1 or len(ports) > 1))):
        raise ValueError("number of hosts and ports don't match")
    if hosts is not None and ports is None:
        ports = tuple(None for _ in hosts)
    return hosts, ports
