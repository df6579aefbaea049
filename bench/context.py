"""What every benchmark is given: the mode, the repetitions and the whole run's time budget."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logs import LogCache


@dataclass
class Context:
    """What every benchmark needs: mode, runs, durations, work dir, logs, tools, budget, builds."""

    quick: bool
    work: Path
    deadline: float
    runs: int = 5
    wrk_seconds: int = 10
    tools: dict[str, str | None] = field(default_factory=dict)
    logs: LogCache | None = None
    made: dict[str, Any] = field(default_factory=dict)
    """What one benchmark built that others of the run reuse (the full history store)."""

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
