"""What every benchmark is given: the mode, the repetitions and the whole run's time budget."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from logs import LogCache


@dataclass
class Context:
    """What every benchmark needs: mode, repetitions, durations, work dir, logs, tools, budget."""

    quick: bool
    work: Path
    deadline: float
    runs: int = 5
    wrk_seconds: int = 10
    tools: dict[str, str | None] = field(default_factory=dict)
    logs: LogCache | None = None

    def remaining(self) -> float:
        """Seconds left in the whole run's time budget."""
        return self.deadline - time.monotonic()

    def keep_going(self, done: int, wanted: int, each: float) -> bool:
        """Whether to do another repetition: fewer than wanted, and time left for one more."""
        if done >= wanted:
            return False
        if done == 0:
            return True
        return self.remaining() > each * 1.5 + 60
