"""The step runner: cleanup of every step that ran, in reverse order, on every path."""

from __future__ import annotations

import threading

import pytest

from releasemgr.pipeline.runner import Outcome, Runner, Step, StepFailed


class Ctx:
    def __init__(self, on_error="cleanup"):
        self.cancel_event = threading.Event()
        self.on_error = on_error
        self.said: list[str] = []
        self.trace: list[str] = []

    def say(self, text):
        self.said.append(text)


class Rec(Step):
    def __init__(self, name, fail=None, cancel=False, cleanup_fails=False):
        self.name, self.fail, self.cancel, self.cleanup_fails = name, fail, cancel, cleanup_fails

    def run(self, ctx):
        ctx.trace.append(f"run {self.name}")
        if self.cancel:
            ctx.cancel_event.set()
        if self.fail == "step":
            raise StepFailed(f"{self.name} broke")
        if self.fail == "exception":
            raise RuntimeError("a bug")

    def cleanup(self, ctx):
        ctx.trace.append(f"cleanup {self.name}")
        if self.cleanup_fails:
            raise OSError("resource busy")

    def leftovers(self, ctx):
        return [f"thing of {self.name}"]


def run(steps, **kw):
    ctx = Ctx(**kw)
    return Runner(steps).run(ctx), ctx


def test_success_runs_all_then_cleans_up_in_reverse():
    res, ctx = run([Rec("a"), Rec("b")])
    assert res.outcome is Outcome.SUCCEEDED
    assert ctx.trace == ["run a", "run b", "cleanup b", "cleanup a"]
    assert ctx.outcome is Outcome.SUCCEEDED


@pytest.mark.parametrize("kind", ["step", "exception"])
def test_failure_stops_and_cleans_up_what_ran(kind):
    res, ctx = run([Rec("a"), Rec("b", fail=kind), Rec("c")])
    assert res.outcome is Outcome.FAILED
    assert ctx.trace == ["run a", "run b", "cleanup b", "cleanup a"]
    if kind == "step":
        assert "b broke" in res.error
    else:
        assert "RuntimeError" in res.error


def test_cancel_during_a_step():
    res, ctx = run([Rec("a"), Rec("b", cancel=True), Rec("c")])
    assert res.outcome is Outcome.CANCELLED
    assert ctx.trace == ["run a", "run b", "cleanup b", "cleanup a"]


def test_cancel_before_start_runs_nothing():
    ctx = Ctx()
    ctx.cancel_event.set()
    res = Runner([Rec("a")]).run(ctx)
    assert res.outcome is Outcome.CANCELLED and ctx.trace == []


def test_failing_cleanup_is_reported_and_the_others_still_run():
    res, ctx = run([Rec("a"), Rec("b", cleanup_fails=True), Rec("c", fail="step")])
    assert ctx.trace == ["run a", "run b", "run c", "cleanup c", "cleanup b", "cleanup a"]
    assert res.cleanup_failures == ["cleanup of b failed: resource busy"]
    assert any("resource busy" in s for s in ctx.said)


def test_abort_keeps_everything_and_says_what():
    res, ctx = run([Rec("a"), Rec("b", fail="step")], on_error="abort")
    assert res.outcome is Outcome.FAILED
    assert ctx.trace == ["run a", "run b"]
    assert "  thing of b" in ctx.said and "  thing of a" in ctx.said


class Leaves(Step):
    """A cleanup that could not undo everything: it reports, it does not raise."""

    name = "leaves"

    def run(self, ctx):
        ctx.trace.append("run leaves")

    def cleanup(self, ctx):
        ctx.trace.append("cleanup leaves")
        return ["key pair k1 in us-east-1 (AccessDenied)"]


def test_cleanup_reports_are_collected_and_said():
    res, ctx = run([Rec("a"), Leaves(), Rec("c", fail="step")])
    assert ctx.trace == ["run a", "run leaves", "run c", "cleanup c", "cleanup leaves", "cleanup a"]
    assert res.cleanup_failures == ["key pair k1 in us-east-1 (AccessDenied)"]
    assert res.cleaned == ["c", "a"]
    assert "Could not remove key pair k1 in us-east-1 (AccessDenied): delete it by hand" in ctx.said
