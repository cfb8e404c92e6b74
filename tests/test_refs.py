"""Properties of version references and of version numbering (hypothesis)."""

from __future__ import annotations

import itertools
import re

import pytest
import semver as semver_lib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from releasemgr.errors import Conflict, NotFound, ReleaseError, UsageError
from releasemgr.ledger.refs import Ref, parse_ref

# -- references -----------------------------------------------------------------------------

image_names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,40}\Z")
numbers = st.integers(min_value=1, max_value=999_999_999)
_ident = st.from_regex(r"\A[0-9A-Za-z-]{1,8}\Z")
semvers = st.builds(
    lambda ma, mi, pa, pre, build: f"{ma}.{mi}.{pa}" + (f"-{pre}" if pre else "") + (f"+{build}" if build else ""),
    st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10_000),
    st.one_of(st.none(), st.lists(_ident, min_size=1, max_size=3).map(".".join)),
    st.one_of(st.none(), st.lists(_ident, min_size=1, max_size=3).map(".".join)),
)
# environment names that cannot be read as anything else (see test_ambiguous_environment_names)
env_names = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,30}\Z").filter(
    lambda s: s != "latest" and not re.fullmatch(r"v?[0-9]+", s))

refs = st.one_of(
    st.builds(lambda i, n: Ref(i, "number", n), image_names, numbers),
    st.builds(lambda i, v: Ref(i, "semver", v), image_names, semvers),
    st.builds(lambda i, e: Ref(i, "env", e), image_names, env_names),
    st.builds(lambda i: Ref(i, "latest"), image_names),
)


@given(refs)
def test_parse_ref_round_trips_str(ref):
    assert parse_ref(str(ref)) == ref
    assert str(parse_ref(str(ref))) == str(ref)


@given(image_names, numbers)
def test_number_spellings_are_equivalent(image, n):
    assert parse_ref(f"{image}@{n}") == parse_ref(f"{image}@v{n}") == Ref(image, "number", n)


@given(image_names, semvers)
def test_semver_with_v_prefix(image, v):
    assert parse_ref(f"{image}@v{v}") == Ref(image, "semver", v)


@given(image_names)
def test_bare_image_means_latest(image):
    assert parse_ref(image) == Ref(image, "latest")
    assert parse_ref(f"  {image}  ") == Ref(image, "latest")


@given(st.text(max_size=80))
@settings(max_examples=500)
def test_any_text_parses_or_is_a_usage_error(text):
    try:
        ref = parse_ref(text)
    except (UsageError, NotFound) as exc:  # NotFound: a version number beyond nine digits
        assert exc.message
        return
    assert "@" not in ref.image
    assert parse_ref(str(ref)) == ref  # what parses prints back as the same reference


@given(st.text(alphabet="web@v0123456789.-+_latestprod ", max_size=30))
@settings(max_examples=500)
def test_near_miss_text_parses_or_is_a_usage_error(text):
    try:
        parse_ref(text)
    except (UsageError, NotFound):
        pass


@pytest.mark.parametrize("text", ["web@", "@v1", "web@v0", "web@0", "web@1.2", "web@Prod", "web@v1@v2",
                                  "-web@v1", "web@1.2.3.4", "", "we b@v1"])
def test_bad_references(text):
    with pytest.raises(UsageError):
        parse_ref(text)


# -- numbering and semantic versions against a real ledger ------------------------------

@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    from releasemgr.ledger.db import Ledger

    led = Ledger.open(f"sqlite:///{tmp_path_factory.mktemp('refs') / 'ledger.db'}", environments=["dev"], create=True)
    yield led
    led.close()


_image_ids = itertools.count()

ops = st.lists(
    st.one_of(
        st.tuples(st.just("bump"), st.sampled_from(["major", "minor", "patch"])),
        st.tuples(st.just("explicit"), st.builds(lambda a, b, c: f"{a}.{b}.{c}",
                                                  st.integers(0, 3), st.integers(0, 3), st.integers(0, 3))),
        st.tuples(st.just("none"), st.none()),
        st.tuples(st.just("bad"), st.sampled_from(["banana", "1.2", "1.0.0.0", "v-1"])),
    ),
    min_size=1, max_size=10,
)


@given(ops)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_numbers_and_semvers(ledger, sequence):
    """Numbers are 1, 2, 3 ... with no gap and no reuse, whatever fails in between; a bump
    is strictly above every semver the image has (explicit ones included)."""
    from releasemgr.release import lifecycle

    image = f"img{next(_image_ids)}"
    numbers_seen: list[int] = []
    semvers_seen: list[semver_lib.Version] = []
    for i, (kind, arg) in enumerate(sequence):
        art = [lifecycle.ArtifactSpec("aws", "us-east-1", f"ami-{i}")]
        try:
            if kind == "bump":
                doc = lifecycle.register(ledger, image, art, actor="prop", bump=arg)
            elif kind in ("explicit", "bad"):
                doc = lifecycle.register(ledger, image, art, actor="prop", semver=arg)
            else:
                doc = lifecycle.register(ledger, image, art, actor="prop")
        except ReleaseError as exc:
            if kind == "bad":
                assert isinstance(exc, UsageError) and "not a semantic version" in exc.message
            else:
                assert kind == "explicit" and isinstance(exc, Conflict), exc
                assert semver_lib.Version.parse(arg) in semvers_seen
            continue
        assert kind != "bad"
        numbers_seen.append(doc["number"])
        assert doc["version"] == f"v{doc['number']}"
        if kind == "bump":
            new = semver_lib.Version.parse(doc["semver"])
            top = max(semvers_seen, default=semver_lib.Version(0, 0, 0))
            assert new > top
            assert new == getattr(top, f"bump_{arg}")()
            semvers_seen.append(new)
        elif kind == "explicit":
            assert doc["semver"] == arg
            assert semver_lib.Version.parse(arg) not in semvers_seen
            semvers_seen.append(semver_lib.Version.parse(arg))
        else:
            assert doc["semver"] is None
    assert numbers_seen == list(range(1, len(numbers_seen) + 1))


@given(st.lists(st.sampled_from(["major", "minor", "patch"]), min_size=1, max_size=8))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_bumps_strictly_increase(ledger, bumps):
    from releasemgr.release import lifecycle

    image = f"bump{next(_image_ids)}"
    prev = semver_lib.Version(0, 0, 0)
    for i, b in enumerate(bumps):
        doc = lifecycle.register(ledger, image, [lifecycle.ArtifactSpec("local", "", f"sha256:{i}")],
                                 actor="prop", bump=b)
        cur = semver_lib.Version.parse(doc["semver"])
        assert cur > prev
        if b == "major":
            assert (cur.major, cur.minor, cur.patch) == (prev.major + 1, 0, 0)
        elif b == "minor":
            assert (cur.major, cur.minor, cur.patch) == (prev.major, prev.minor + 1, 0)
        else:
            assert (cur.major, cur.minor, cur.patch) == (prev.major, prev.minor, prev.patch + 1)
        prev = cur


def test_bump_after_explicit_continues_from_the_highest(cli):
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1", "--version", "2.3.0")
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-2", "--version", "1.9.9")
    assert cli.json("register", "web", "--artifact", "aws:us-east-1:ami-3", "--bump", "patch")["semver"] == "2.3.1"
    assert cli.json("register", "web", "--artifact", "aws:us-east-1:ami-4", "--bump", "minor")["semver"] == "2.4.0"
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-5", "--version", "3.0.0-rc.1")
    assert cli.json("register", "web", "--artifact", "aws:us-east-1:ami-6", "--bump", "major")["semver"] == "4.0.0"
    # refused registrations consume no number
    assert cli("register", "web", "--artifact", "aws:us-east-1:ami-x", "--version", "2.3.0").code == 2
    assert cli("register", "web", "--artifact", "aws:us-east-1:ami-x", "--version", "nope").code == 2
    assert cli("register", "web", "--artifact", "aws:us-east-1:ami-x", "--version", "1.0.0", "--bump",
               "patch").code == 2
    assert cli.json("register", "web", "--artifact", "aws:us-east-1:ami-7")["version"] == "v7"
    assert [v["number"] for v in cli.json("versions", "web")["versions"]] == [7, 6, 5, 4, 3, 2, 1]
    # every spelling of a reference finds the same version
    for ref in ("web@v3", "web@3", "web@2.3.1", "web@v2.3.1"):
        assert cli.json("show", ref)["version"] == "v3"
    assert cli.json("show", "web")["version"] == "v7"
    assert cli.json("show", "web@latest")["version"] == "v7"


def test_ambiguous_environment_names():
    """An environment whose name reads as a version (`v2`, `7`, `latest`) can never be named in a
    reference: `web@v2` is version 2. Such names are accepted by release.toml today (see
    tests/test_config.py::test_environment_names_that_read_as_versions_are_refused)."""
    assert parse_ref("web@v2").kind == "number"
    assert parse_ref("web@7").kind == "number"
    assert parse_ref("web@latest").kind == "latest"
    assert parse_ref("web@prod").kind == "env"


@pytest.mark.parametrize("tail", ["v1000000000", "1000000000", "v99999999999999999999", "v" + "9" * 5000,
                                  "v0001000000000"])
def test_version_numbers_beyond_the_ledger_are_not_found_not_environments(tail):
    """All digits is a version number, never an environment: beyond nine digits no such version
    can exist, so it is not found (exit 4) without asking the ledger."""
    with pytest.raises(NotFound, match=r"^no version v[1-9][0-9]{9,} of web$"):
        parse_ref(f"web@{tail}")
    assert parse_ref("web@v999999999") == Ref("web", "number", 999_999_999)
    assert parse_ref("web@v000000001") == Ref("web", "number", 1)
