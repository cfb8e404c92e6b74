"""The step runner: steps run in order; the cleanup of every step that ran runs in reverse
order on success, failure and cancel (the shape of Packer's multistep.BasicRunner).

The cleanup contract, which every step follows:

- `cleanup(ctx)` must not assume the whole sequence completed (a step may have failed half
  way through its own `run`): it undoes exactly what its step recorded having made.
- It is best effort and does not raise. What it could not undo it *returns*, one line per
  thing the operator must delete by hand ("key pair release_ab12cd34_web in us-east-1
  (AccessDenied: ...)"); an empty list means nothing was left behind.
- The runner says every report and collects them in `RunResult.cleanup_failures`, so the
  build's output tells the user. A cleanup that raises anyway is a bug; the runner reports
  it the same way rather than skipping the cleanups after it.
- With `--on-error=abort` nothing is cleaned up: the runner lists each step's
  `leftovers(ctx)` instead.
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

    def cleanup(self, ctx) -> list[str]:
        """Undo what `run` made; return what could not be undone (to delete by hand). Never raises."""
        return []

    def leftovers(self, ctx) -> list[str]:
        """What `run` made and `cleanup` would remove (listed, not removed, with --on-error=abort)."""
        return []


@dataclass
class RunResult:
    outcome: Outcome
    error: str | None = None
    ran: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    cleanup_failures: list[str] = field(default_factory=list)  # what to delete by hand


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
            ctx.outcome = result.outcome  # cleanups may act on it (e.g. delete a half-made image)
            keep = result.outcome is not Outcome.SUCCEEDED and ctx.on_error == "abort"
            if keep:
                ctx.say("Keeping what the build created (--on-error=abort); remove it by hand when done:")
                for step in reversed(ran):
                    for item in step.leftovers(ctx):
                        ctx.say(f"  {item}")
            else:
                for step in reversed(ran):
                    self._cleanup(step, ctx, result)
        return result

    @staticmethod
    def _cleanup(step: Step, ctx, result: RunResult) -> None:
        try:
            manual = list(step.cleanup(ctx) or [])
        except Exception as exc:  # a cleanup that breaks the contract must not skip the others
            msg = f"cleanup of {step.name} failed: {exc}"
            result.cleanup_failures.append(msg)
            ctx.say(msg)
            return
        if not manual:
            result.cleaned.append(step.name)
        for item in manual:
            result.cleanup_failures.append(item)
            ctx.say(f"Could not remove {item}: delete it by hand")
