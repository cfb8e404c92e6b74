"""`releasemgr.ledger.urls` reads, shows and connects with a ledger URL exactly as SQLAlchemy
does (it replaces `make_url`, `render_as_string` and the psycopg dialect's connect arguments
on every command's path, where SQLAlchemy is no longer imported): held to SQLAlchemy itself on
hand-picked and generated URLs."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import make_url

from releasemgr.ledger import urls
from releasemgr.ledger.db import normalise_url, safe_url

FUZZ = settings(deadline=None, database=None, max_examples=400, suppress_health_check=list(HealthCheck))

CASES = [
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://u:s3cret@db.internal/release",
    "postgresql+psycopg://u:p%40ss%2Fw:rd@h/db?sslmode=require&application_name=x y",
    "postgresql+psycopg://u@[::1]:5433/db",
    "postgresql+psycopg://u@/db?host=/var/run/postgresql",
    "postgresql+psycopg://u@/db?host=h1:5432&host=h2:5433",
    "postgresql+psycopg://u@/db?host=h1,h2&port=5432,5433",
    "postgresql+psycopg://u@/db?host=h1:5432",
    "postgresql+psycopg://u@/db?host=h1,h2",
    "postgresql+psycopg://u@/db?host=h1:1&port=2",
    "postgresql+psycopg://u@/db?host=h1,h2,h3&port=1,2",
    "postgresql+psycopg://u@h/db?port=x",
    "postgresql+psycopg://u@h:port/db",
    "postgresql+psycopg://u@h:/db",
    "postgresql+psycopg://u@h:+5_0/db",
    "postgresql+psycopg://",
    "postgresql+psycopg://h/d%C3%A9b?b=2&a=1&a=0",
    "sqlite:////abs/path/ledger.db",
    "sqlite:///state/led ger%.db",
    "mysql://u:p@h/db",
    "garbage",
    "://",
    "postgres://u@h:port/db",
]


def _sa(fn, *args):
    """(value, None) or (None, the error's message) of SQLAlchemy's answer."""
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001 - the message is the comparison
        return None, str(exc)


def _ours(fn, *args):
    try:
        return fn(*args), None
    except ValueError as exc:
        return None, str(exc)


def _sa_parse(url):
    u = make_url(url)
    return (u.drivername, u.username, u.password, u.host, u.port, u.database, dict(u.query))


def _our_parse(url):
    u = urls.parse(url)
    return (u.drivername, u.username, u.password, u.host, u.port, u.database, u.query)


def _sa_connect_args(url):
    return PGDialect_psycopg().create_connect_args(make_url(url))[1] or {}


def _our_connect_args(url):
    return urls.pg_connect_args(urls.parse(url))


def _check(url: str) -> None:
    sa, sa_err = _sa(_sa_parse, url)
    ours, our_err = _ours(_our_parse, url)
    assert (ours, our_err is None) == (sa, sa_err is None), url
    if sa_err is None:
        assert urls.render(urls.parse(url)) == make_url(url).render_as_string(hide_password=True), url
        assert urls.render(urls.parse(url), hide_password=False) == make_url(url).render_as_string(False), url
        if url.startswith("postgresql+psycopg://"):
            sa_args, sa_err = _sa(_sa_connect_args, url)
            our_args, our_err = _ours(_our_connect_args, url)
            sa_args = {k: v for k, v in (sa_args or {}).items() if k != "context"}  # the adapters map: psycopg's own
            assert (our_args or {}, our_err) == (sa_args, sa_err), url
    else:
        assert our_err == sa_err, url


@pytest.mark.parametrize("url", CASES)
def test_known_urls_read_as_sqlalchemy_reads_them(url):
    _check(url)


url_text = st.tuples(
    st.sampled_from(["postgresql+psycopg://", "sqlite:///", "mysql://", "", "postgresql+psycopg:/"]),
    st.text(alphabet="abz019:/@?&=,.%[]+ _-é", max_size=40),
).map("".join)


@FUZZ
@given(url=url_text)
@example(url="postgresql+psycopg://u:@h/db")
@example(url="postgresql+psycopg://:p@h/db")
@example(url="postgresql+psycopg://[::1/db")
def test_generated_urls_read_as_sqlalchemy_reads_them(url):
    _check(url)


@pytest.mark.parametrize("url, shown", [
    ("postgresql://alice:s3cret@db/release", "postgresql+psycopg://alice:***@db/release"),
    ("postgres://alice:s3cret@db:5433/release?sslmode=require",
     "postgresql+psycopg://alice:***@db:5433/release?sslmode=require"),
    ("mysql://u:pw@h:port/db", "mysql://u:***@h:port/db"),  # not a URL SQLAlchemy reads: masked by hand
])
def test_safe_url_hides_the_password(url, shown):
    assert safe_url(normalise_url(url)) == shown
