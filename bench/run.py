"""Run weblog's benchmarks beside the tools its users would otherwise pick; write BENCHMARKS.md."""

from __future__ import annotations

import argparse
import importlib
import re
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

import tools
from context import Context
from logs import LogCache
from machine import REPO, commit, machine
from report import Section, Verdict, table

BENCHMARKS = {
    "ingest": "1. Ingest",
    "serving": "2. Serving",
    "scale": "3. Scale",
    "fanout": "4. Live fan-out",
    "sustained": "5. Sustained",
    "article": "6. The article's design as a baseline",
    "backfill": "7. Backfill",
    "during": "8. During the backfill",
    "queries": "9. Queries on the full store",
    "restart": "10. Restart with a full store",
    "liveingest": "11. Live ingest with the store on",
    "footprint": "12. Store size and memory",
    "syslog": "13. Syslog intake",
}
MODULES = {"syslog": "syslogintake"}
"""The benchmarks whose module is named otherwise (bench/syslog.py would hide the standard
library's syslog module from everything the run imports)."""
ANALYSIS_PLACEHOLDER = "_To be written by the maintainer._"


def load_average() -> str:
    """The machine's 1-minute load average, from /proc/loadavg."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: --quick, --only, --budget, --output."""
    parser = argparse.ArgumentParser(prog="./run.sh bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="a short smoke run: fewer repetitions, shorter loads, smaller logs")
    parser.add_argument("--only", metavar="NAME[,NAME]", default="",
                        help=f"run only these benchmarks, of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                        help="time budget for the whole run; repetitions are cut to fit "
                             "(default 3000 s, 900 s with --quick)")
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md",
                        help="where to write the report (default BENCHMARKS.md in the repo)")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (use: {', '.join(BENCHMARKS)})")
    args.names = names or list(BENCHMARKS)
    return args


def failed_section(name: str, error: BaseException) -> Section:
    """A section for a benchmark that raised: the error, and its targets not measured."""
    section = Section(name, BENCHMARKS[name])
    section.notes.append(f"**Failed**: {type(error).__name__}: {error}")
    section.verdicts.append(Verdict(name, "(all of this benchmark's targets)", "—", None,
                                    "the benchmark failed"))
    return section


def previous_analysis(path: Path) -> str:
    """The Analysis section of an existing report, if someone filled it in."""
    try:
        text = path.read_text()
    except OSError:
        return ""
    found = re.search(r"^## Analysis\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    if found is None or ANALYSIS_PLACEHOLDER in found.group(1):
        return ""
    return found.group(1).strip()


def report(args: argparse.Namespace, sections: list[Section], found: dict[str, str | None],
           logs: LogCache, seconds: float, facts: list[tuple[str, str]]) -> str:
    """The whole BENCHMARKS.md text; C{facts} are the machine and commit as the run began."""
    out = ["# weblog benchmarks", ""]
    mode = "quick smoke run (`--quick`): short loads, few repetitions; not figures to quote" \
        if args.quick else "full run"
    if args.names != list(BENCHMARKS):
        mode += f"; only {', '.join(args.names)}"
    out += [f"Written by `./run.sh bench` ({mode}) in {seconds / 60:.1f} minutes. Each figure is "
            "the median of five runs unless `n=` says otherwise, with its min and max: "
            "\"median (min–max)\". The machine is shared and noisy; the server, the load "
            "generator and the peers all run on its two cores.", ""]
    rows = [[label, value] for label, value in facts]
    now = commit()
    if now != dict(facts)["commit"]:
        rows.append(["commit at the end", f"{now} (the tree changed during the run)"])
    rows += [["GoAccess", found.get("goaccess") or "not installed"],
             ["wrk", found.get("wrk") or "not installed"],
             ["rsyslog", found.get("rsyslog") or "not installed"]]
    out += ["## Machine", ""] + table(["", ""], rows) + [""]
    skipped = tools.skipped(found, args.names)
    if skipped:
        out += ["## Skipped", "", "These figures need a tool this machine lacks; "
                f"`{tools.install(tools.missing(found, args.names))}`, as root, installs "
                "what is missing.", ""]
        out += table(["benchmark", "skipped", "why"],
                     [[BENCHMARKS[name], what, why] for name, what, why in skipped]) + [""]
    out += ["## Logs", "", f"- Sample: {logs.origin}."]
    out += [f"- `{name}`: {story}" for name, story in logs.stories.items()]
    out += [f"- {note}" for note in tools.notes(found)]
    out += ["- Logs are built in a temporary directory under /tmp and deleted at the end.", ""]
    out += ["## Targets", ""]
    out += table(["benchmark", "target", "measured", "verdict"],
                 [[BENCHMARKS[v.benchmark], v.target, v.measured, v.word()]
                  for section in sections for v in section.verdicts]) + [""]
    for section in sections:
        out.append(section.markdown())
    analysis = previous_analysis(args.output) or ANALYSIS_PLACEHOLDER
    out += ["## Analysis", "", analysis, ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks, print each section and the targets, write the report."""
    args = parse_args(argv)
    budget = args.budget if args.budget is not None else (900.0 if args.quick else 3000.0)
    began = time.monotonic()
    found = tools.versions()
    for name, what, why in tools.skipped(found, args.names):
        print(f"bench: {BENCHMARKS[name]}: skipping {what}: {why}", flush=True)
    if tools.missing(found, args.names):
        print(f"bench: `{tools.install(tools.missing(found, args.names))}`, as root, installs "
              "what is missing", flush=True)
    facts = machine()
    work = Path(tempfile.mkdtemp(prefix="weblog-bench-", dir="/tmp"))
    ctx = Context(quick=args.quick, work=work, deadline=began + budget,
                  runs=2 if args.quick else 5, wrk_seconds=3 if args.quick else 10, tools=found)
    sections: list[Section] = []
    try:
        ctx.logs = LogCache(work)
        print(f"bench: {'quick' if args.quick else 'full'} run of {', '.join(args.names)}; "
              f"budget {budget / 60:.0f} min; work dir {work}", flush=True)
        for name in args.names:
            print(f"\nbench: {BENCHMARKS[name]} ...", flush=True)
            start = time.monotonic()
            load = load_average()
            try:
                section = importlib.import_module(MODULES.get(name, name)).run(ctx)
            except KeyboardInterrupt:
                raise
            except Exception as error:
                traceback.print_exc()
                section = failed_section(name, error)
            section.seconds = time.monotonic() - start
            section.notes.append(f"Machine load average (1 min) before and after: {load} → "
                                 f"{load_average()} (others' work on the shared machine "
                                 f"shows here).")
            sections.append(section)
            print(section.markdown(), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert ctx.logs is not None
    seconds = time.monotonic() - began
    text = report(args, sections, found, ctx.logs, seconds, facts)
    args.output.write_text(text)
    print("## Targets\n")
    print("\n".join(table(["benchmark", "target", "measured", "verdict"],
                          [[BENCHMARKS[v.benchmark], v.target, v.measured, v.word()]
                           for section in sections for v in section.verdicts])))
    print(f"\nbench: done in {seconds / 60:.1f} min; wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
