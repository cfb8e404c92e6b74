"""The build use case's parts (release/build/), called directly: the overall outcome, the
heartbeat on a real ledger, SIGINT/SIGTERM as a cancel, version tags through the providers.

Real-process counterparts: tests/test_build.py (a whole build, a cancelled build, a failing
post-processor), tests/test_build_ssh.py (null builds), tests/test_aws_build.py (AMI tags)."""

from __future__ import annotations

import signal
import threading
import time
from types import SimpleNamespace

import pytest

from releasemgr.ledger.repo import builds
from releasemgr.pipeline.context import Artifact
from releasemgr.pipeline.runner import Outcome
from releasemgr.providers import base
from releasemgr.providers.registry import provider
from releasemgr.release.build import liveness, record
from releasemgr.release.build.inputs import BuildInputs, BuildRequest
from releasemgr.release.build.result import SourceResult, errors_of, overall_outcome


def result(outcome: Outcome, error: str | None = None) -> SourceResult:
    return SourceResult("local.web", outcome, error)


@pytest.mark.parametrize("outcomes, cancelled, expected", [
    ([Outcome.SUCCEEDED, Outcome.SUCCEEDED], False, Outcome.SUCCEEDED),
    ([Outcome.SUCCEEDED, Outcome.FAILED], False, Outcome.FAILED),
    ([Outcome.FAILED, Outcome.CANCELLED], False, Outcome.CANCELLED),
    ([Outcome.SUCCEEDED], True, Outcome.CANCELLED),
    ([], False, Outcome.SUCCEEDED),
])
def test_overall_outcome_cancel_beats_failure_beats_success(outcomes, cancelled, expected):
    assert overall_outcome([result(o) for o in outcomes], cancelled) is expected


def test_errors_name_the_sources_that_did_not_succeed():
    results = [SourceResult("local.a", Outcome.FAILED, "boom"), SourceResult("local.b", Outcome.SUCCEEDED),
               SourceResult("local.c", Outcome.CANCELLED, "cancelled")]
    assert errors_of(results) == ["local.a: boom", "local.c: cancelled"]


def test_only_the_null_provider_builds_without_an_artifact():
    assert [p for p in ("local", "aws", "null") if not provider(p).makes_artifacts] == ["null"]


class _Log:
    def __init__(self):
        self.lines: list[str] = []

    def line(self, source, text, **kw):
        self.lines.append(text)


class _Refusing(base.Provider):
    name = "refusing"

    def tag_version(self, artifacts, version):
        raise RuntimeError(f"no tags for {[a.id for a in artifacts]}")


class _Recording(base.Provider):
    name = "recording"

    def __init__(self):
        self.tagged: list[tuple[list[str], str]] = []

    def tag_version(self, artifacts, version):
        self.tagged.append(([a.id for a in artifacts], version))


def test_each_provider_tags_its_own_artifacts_and_a_refusal_is_only_reported(monkeypatch):
    recording = _Recording()
    known = {"recording": recording, "refusing": _Refusing(), "local": provider("local")}
    monkeypatch.setattr(record, "provider", known.get)
    results = [SourceResult("a.x", Outcome.SUCCEEDED, artifacts=[Artifact("a", "recording", "r-1"),
                                                                 Artifact("b", "refusing", "f-1")]),
               SourceResult("a.y", Outcome.SUCCEEDED, artifacts=[Artifact("a", "recording", "r-2"),
                                                                 Artifact("docker", "docker", "sha256:d"),
                                                                 Artifact("local", "local", "sha256:l")])]
    log = _Log()
    record.tag_version(results, "v3", log)
    assert recording.tagged == [(["r-1", "r-2"], "v3")]
    assert log.lines == ["Could not tag the refusing artifacts with release:version=v3: no tags for ['f-1']"]


def _started_build(ledger, tmp_path) -> BuildInputs:
    inputs = BuildInputs(template=None, build=None, image="web", selected=[SimpleNamespace(display_name="local.web")],
                         configs={}, provisioners={}, build_id="b-1", digest="sha256:0", commit=None, dirty=None,
                         variables={}, secrets=[])
    record.start(ledger, inputs, BuildRequest(path=str(tmp_path / "web.pkr.hcl"), actor="alice"),
                 tmp_path / "b-1.log")
    return inputs


def test_the_heartbeat_beats_while_the_build_runs_and_stops_after(ledger, tmp_path, monkeypatch):
    _started_build(ledger, tmp_path)
    monkeypatch.setattr(liveness, "now_iso", lambda: "2030-01-01T00:00:00Z")
    with liveness.Heartbeat(ledger, "b-1", interval=0.05) as hb:
        deadline = time.time() + 10
        while time.time() < deadline:
            with ledger.connect() as conn:
                if builds.get(conn, "b-1").heartbeat_at.startswith("2030"):
                    break
            time.sleep(0.05)
    with ledger.connect() as conn:
        assert builds.get(conn, "b-1").heartbeat_at.startswith("2030")
    assert hb.stop.is_set()


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signal handlers can only be installed by the main thread")
def test_a_signal_cancels_once_and_the_old_handlers_come_back():
    cancel, seen = threading.Event(), []
    before = signal.getsignal(signal.SIGTERM)
    with liveness.Signals(cancel, seen.append):
        signal.raise_signal(signal.SIGTERM)  # to this thread: its handler has run when the call returns
        signal.raise_signal(signal.SIGINT)
    assert cancel.is_set() and seen == ["SIGTERM"]
    assert signal.getsignal(signal.SIGTERM) is before


def test_signals_off_the_main_thread_install_nothing():
    before = signal.getsignal(signal.SIGTERM)
    inside = []

    def run():
        with liveness.Signals(threading.Event(), print):
            inside.append(signal.getsignal(signal.SIGTERM))

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert inside == [before]
