#!/usr/bin/env python3
"""Rewrites the "Measured" table of each docs/phases/<phase>.md from a run.

Usage: python phase_tables.py RESULTS_JSON DOCS_PHASES_DIR

Each page keeps its prose; only the markdown table that starts with
"| metric |" is replaced, by the metrics below for pyloop-<phase>, asyncio
and uvloop, formatted as results.md formats them. The prose numbers are the
writer's job (they are read off the same run).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

METRICS = ("callback_us", "burst_mcb_s", "timer_lateness_us", "xthread_p50_us",
           "xthread_p99_us", "idle_wakeup_us", "call_soon_ns", "idle_wakeups_per_s",
           "echo_proto_1k_rps")
# The phases: crates/data-bridge-pyloop/PHASES, the one list.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                       "crates", "data-bridge-pyloop", "PHASES")) as _phases:
    PHASES = tuple(_phases.read().split())


def table_for(results, phase):
    columns = ["pyloop-" + phase, "asyncio", "uvloop"]
    subset = {c: {m: (results.get(c) or {}).get(m) for m in METRICS
                  if m in (results.get(c) or {})} for c in columns}
    return common.markdown_table(subset, columns)


def replace_table(text, table):
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("| metric |"))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join(lines[:start] + table.split("\n") + lines[end:])


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1]) as fh:
        results = json.load(fh)["results"]
    for phase in PHASES:
        path = os.path.join(argv[2], phase + ".md")
        with open(path) as fh:
            text = fh.read()
        with open(path, "w") as fh:
            fh.write(replace_table(text, table_for(results, phase)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
