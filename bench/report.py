"""The report's pieces: figures over runs, targets and their verdicts, Markdown sections."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass
class Figure:
    """A measured quantity over several runs: median, min and max."""

    values: list[float]

    @property
    def median(self) -> float:
        """The median of the runs."""
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        """The smallest run."""
        return min(self.values)

    @property
    def high(self) -> float:
        """The largest run."""
        return max(self.values)

    @property
    def n(self) -> int:
        """How many runs."""
        return len(self.values)

    def show(self, unit: str = "", digits: int | None = None, scale: float = 1.0) -> str:
        """'median (min–max) unit', with the number of runs when it is not five."""
        values = [value * scale for value in self.values]
        med, low, high = statistics.median(values), min(values), max(values)
        text = f"{num(med, digits)}{unit}"
        if len(values) > 1:
            text += f" ({num(low, digits)}–{num(high, digits)})"
        if len(values) != 5:
            text += f" n={len(values)}"
        return text


def num(value: float, digits: int | None = None) -> str:
    """A number with sensible precision: thousands separated, three significant digits."""
    if digits is not None:
        return f"{value:,.{digits}f}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


@dataclass
class Verdict:
    """One target of the issue: what was asked, what was measured, whether it is met."""

    benchmark: str
    target: str
    measured: str
    met: bool | None
    gap: str = ""

    def word(self) -> str:
        """MET, NOT MET (with the gap) or not measured."""
        if self.met is None:
            return f"not measured{': ' + self.gap if self.gap else ''}"
        if self.met:
            return "MET"
        return f"NOT MET ({self.gap})" if self.gap else "NOT MET"


def at_least(benchmark: str, target: str, value: float | None, wanted: float,
             measured: str) -> Verdict:
    """A target that the value must reach: the gap says how many times more it needs."""
    if value is None:
        return Verdict(benchmark, target, measured, None)
    if value >= wanted:
        return Verdict(benchmark, target, measured, True)
    gap = f"needs {times(wanted / value)} more" if value > 0 else "nothing measured"
    return Verdict(benchmark, target, measured, False, gap)


def at_most(benchmark: str, target: str, value: float | None, limit: float,
            measured: str) -> Verdict:
    """A target that the value must stay under: the gap says how many times over it is."""
    if value is None:
        return Verdict(benchmark, target, measured, None)
    if value <= limit:
        return Verdict(benchmark, target, measured, True)
    return Verdict(benchmark, target, measured, False, f"{times(value / limit)} over")


def times(ratio: float) -> str:
    """A ratio as '1.34x', with a third decimal when two would show 1.00x."""
    return f"{ratio:.3f}x" if ratio < 1.01 else f"{ratio:.2f}x"


@dataclass
class Section:
    """One benchmark's results: a table, notes, and its verdicts."""

    name: str
    title: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    seconds: float = 0.0

    def markdown(self) -> str:
        """The section as Markdown: heading, table, targets, notes."""
        out = [f"## {self.title}", ""]
        if self.rows:
            out += table(self.headers, self.rows) + [""]
        if self.verdicts:
            out += table(["target", "measured", "verdict"],
                         [[v.target, v.measured, v.word()] for v in self.verdicts]) + [""]
        for note in self.notes:
            out.append(f"- {note}")
        if self.notes:
            out.append("")
        out.append(f"_Took {self.seconds:.0f} s._")
        out.append("")
        return "\n".join(out)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table's lines."""
    def cell(text: str) -> str:
        """A cell's text with pipes escaped and on one line."""
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines
