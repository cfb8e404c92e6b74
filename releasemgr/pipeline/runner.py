"""The step runner: steps run in order; the cleanup of every step that ran runs in reverse
order on success, failure and cancel (the shape of Packer's multistep.BasicRunner).

A step's `cleanup` must not assume the whole sequence completed and must never raise; when
it cannot undo something it says what to remove by hand (`ctx.say_manual`).
"""

from __future__ import annotations

import abc
import enum
import threading
from dataclasses import dataclass, field


class Outcome(str, enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepFailed(Exception):
    """A step could not do its work; the message says what and why."""


class Cancelled(Exception):
    """The build was cancelled (Ctrl-C, SIGTERM) while a step ran."""


class Step(abc.ABC):
    name: str = "step"

    @abc.abstractmethod
    def run(self, ctx) -> None: ...

    def cleanup(self, ctx) -> None:  # noqa: B027 - most steps have nothing to undo
        pass


@dataclass
class RunResult:
    outcome: Outcome
    error: str | None = None
    ran: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    cleanup_failures: list[str] = field(default_factory=list)


class Runner:
    """Run `steps` against `ctx`. `ctx` needs `cancel_event` (threading.Event), `say(text)`,
    `on_error` ("cleanup" | "abort" | "run-cleanup-provisioner")."""

    def __init__(self, steps: list[Step]):
        self.steps = steps

    def run(self, ctx) -> RunResult:
        result = RunResult(Outcome.SUCCEEDED)
        ran: list[Step] = []
        cancel: threading.Event = ctx.cancel_event
        try:
            for step in self.steps:
                if cancel.is_set():
                    raise Cancelled()
                ran.append(step)  # its cleanup runs even if run() fails half way
                result.ran.append(step.name)
                step.run(ctx)
                if cancel.is_set():
                    raise Cancelled()
        except Cancelled:
            result.outcome = Outcome.CANCELLED
            result.error = "cancelled"
        except StepFailed as exc:
            result.outcome = Outcome.FAILED
            result.error = str(exc)
        except Exception as exc:  # a bug in a step must not skip the cleanup
            result.outcome = Outcome.CANCELLED if cancel.is_set() else Outcome.FAILED
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            try:
                ctx.outcome = result.outcome  # cleanups may act on it (e.g. delete a half-made image)
            except AttributeError:
                pass
            keep = result.outcome is not Outcome.SUCCEEDED and getattr(ctx, "on_error", "cleanup") == "abort"
            if keep:
                ctx.say("Keeping what the build created (--on-error=abort); remove it by hand when done:")
                for step in reversed(ran):
                    describe = getattr(step, "leftovers", None)
                    for item in (describe(ctx) if describe else []):
                        ctx.say(f"  {item}")
            else:
                for step in reversed(ran):
                    try:
                        step.cleanup(ctx)
                        result.cleaned.append(step.name)
                    except Exception as exc:  # cleanup is best effort and never raises
                        msg = f"cleanup of {step.name} failed: {exc}"
                        result.cleanup_failures.append(msg)
                        ctx.say(msg)
        return result
