# -*- test-case-name: tests.test_memo -*-
"""A function's results remembered in bounded memory, for values that repeat line after line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Memo"]


class Memo:
    """
    Remember a function's results in bounded memory: for short keys until it holds C{entries},
    for long ones until they make C{long_bytes} (each time it then forgets them all), so that
    a value several counts ask for in one batch is worked out once.
    """

    def __init__(self, function: Callable[[Any], Any], entries: int = 20000,
                 longest: int = 300, long_bytes: int = 1 << 20) -> None:
        self.function = function
        self.entries = entries
        self.longest = longest
        self.long_bytes = long_bytes
        self.results: dict[Any, Any] = {}
        self.long: dict[Any, Any] = {}
        self.long_held = 0

    def __call__(self, key: Any) -> Any:
        """C{function(key)}, remembered."""
        result = self.results.get(key)
        if result is not None:
            return result
        if len(key) > self.longest:
            result = self.long.get(key)
            if result is None:
                if self.long_held + len(key) > self.long_bytes:
                    self.long.clear()
                    self.long_held = 0
                result = self.long[key] = self.function(key)
                self.long_held += len(key)
            return result
        result = self.function(key)
        if len(self.results) >= self.entries:
            self.results.clear()
        self.results[key] = result
        return result
