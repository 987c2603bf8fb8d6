#!/usr/bin/env python3
"""Run every pyloop benchmark for a list of loops and merge the results.

Usage:
  python benchmarks/pyloop/run_all.py [--quick] [--out DIR]
      [--python PATH] [--pythonpath DIR]          (defaults for every loop)
      [--loop SPEC [--python PATH] [--pythonpath DIR]] ...

SPEC is LABEL or LABEL=DIR. LABEL names the column; the loop to run is
LABEL itself if it is one of asyncio, uvloop, rloop, pyloop, else the part
before the first "-" (pyloop-3.1.2 runs the loop "pyloop"). "=DIR" is short
for --pythonpath DIR. --python / --pythonpath given after a --loop apply to
that loop only; given before the first --loop they are the defaults. The
interpreter defaults to the one running this script. Without --loop, the
four loops asyncio, uvloop, rloop and pyloop are run.

Example (five builds of pyloop next to the reference loops):
  /tmp/bench-venv/bin/python benchmarks/pyloop/run_all.py \\
      --loop asyncio --loop uvloop --loop rloop \\
      --loop pyloop-baseline=build-baseline/python \\
      --loop pyloop-3.1.1=build-3.1.1/python ... \\
      --loop pyloop-native=build-native/python

Each (loop, script) pair runs in its own process with `--json`, with DIR put
first on PYTHONPATH; progress goes to stderr. The merged document (same
shape as one script's --json, results keyed by label, plus "loops" with each
label's interpreter, PYTHONPATH, build_info and run time) is written to
DIR/results.json; DIR/results.md holds one markdown table (rows: metrics,
columns: labels), which is also printed; DIR/phases.png has bar charts of
the key metrics (needs matplotlib; skipped with a notice without it): grey
bars are the reference loops, blue bars the pyloop builds (the legend says
so), the y axis is the median in the metric's unit, logarithmic where a
panel's bars span LOG_SPAN (50x) or more, or some are 0 and some not.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

SCRIPTS = ("bench_event_loop", "bench_scaling", "bench_wakeup", "bench_net",
           "bench_http", "bench_tls")
# The panels of phases.png, CHART_COLUMNS to a row.
KEY_METRICS = (
    ("callback_us", "lower is better"),
    ("burst_mcb_s", "higher is better"),
    ("timer_us", "lower is better"),
    ("xthread_p50_us", "lower is better"),
    ("idle_wakeups_per_s", "lower is better"),
    ("echo_proto_1k_rps", "higher is better"),
    ("echo_proto_1k_c64_rps", "higher is better"),
    ("http_asgi_rps", "higher is better"),
    ("http_aiohttp_rps", "higher is better"),
    ("https_aiohttp_rps", "higher is better"),
    ("https_asgi_close_rps", "higher is better"),
    ("tls_bulk_send_mb_s", "higher is better"),
)
CHART_COLUMNS = 3


class Spec(object):
    def __init__(self, label, python=None, pythonpath=None):
        self.label = label
        self.python = python
        self.pythonpath = pythonpath
        if label in common.LOOP_NAMES:
            self.loop = label
        else:
            self.loop = label.split("-", 1)[0]
        if self.loop not in common.LOOP_NAMES:
            raise ValueError("label %r: the loop must be one of %s, or a "
                             "label starting with one of them and '-'"
                             % (label, ", ".join(common.LOOP_NAMES)))


class Ordered(argparse.Action):
    """Keeps --loop/--python/--pythonpath in command-line order."""

    def __call__(self, parser, namespace, values, option_string=None):
        events = getattr(namespace, "events", None) or []
        events.append((self.dest, values))
        namespace.events = events


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loop", dest="loop", action=Ordered, metavar="SPEC")
    p.add_argument("--python", dest="python", action=Ordered, metavar="PATH")
    p.add_argument("--pythonpath", dest="pythonpath", action=Ordered,
                   metavar="DIR")
    p.add_argument("--out", default="bench-results",
                   help="output directory (default %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="pass --quick to every script (smoke-test sizes)")
    p.add_argument("--scripts", default=",".join(SCRIPTS),
                   help="comma-separated subset of %s" % ", ".join(SCRIPTS))
    p.add_argument("--timeout", type=float, default=400.0,
                   help="seconds allowed for one script and one loop "
                        "(default %(default)s)")
    p.set_defaults(events=[])
    args = p.parse_args(argv)

    default_python, default_path = None, None
    specs = []
    try:
        for dest, value in args.events:
            if dest == "loop":
                label, _, path = value.partition("=")
                specs.append(Spec(label, default_python,
                                  path or default_path))
            elif dest == "python":
                if specs:
                    specs[-1].python = value
                else:
                    default_python = value
            elif dest == "pythonpath":
                if specs:
                    specs[-1].pythonpath = value
                else:
                    default_path = value
    except ValueError as exc:
        p.error(str(exc))
    if not specs:
        specs = [Spec(n, default_python, default_path)
                 for n in common.LOOP_NAMES]
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        p.error("duplicate loop labels: %s" % ", ".join(labels))
    scripts = [s.strip() for s in args.scripts.split(",") if s.strip()]
    for s in scripts:
        if s not in SCRIPTS:
            p.error("unknown script %r" % s)
    return args, specs, scripts


def run_one(spec, script, quick, timeout):
    """Run one script for one loop; return (doc or None, error, seconds)."""
    python = spec.python or sys.executable
    cmd = [python, os.path.join(HERE, script + ".py"), "--loop", spec.loop,
           "--json", "--timeout", str(max(30.0, timeout - 10))]
    if quick:
        cmd.append("--quick")
    env = dict(os.environ)
    if spec.pythonpath:
        path = os.path.abspath(spec.pythonpath)
        env["PYTHONPATH"] = (path + os.pathsep + env["PYTHONPATH"]
                             if env.get("PYTHONPATH") else path)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env,
                            universal_newlines=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        return None, "timed out after %.0f s" % timeout, \
            time.perf_counter() - t0, err
    finally:
        kill_group(proc)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        return None, "exit status %d" % proc.returncode, elapsed, err
    try:
        return json.loads(out), None, elapsed, err
    except ValueError as exc:
        return None, "bad JSON: %s" % exc, elapsed, err


def kill_group(proc):
    """End the script's process group (bench_net's server and client too)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        pass


def forward_stderr(label, script, err):
    for line in (err or "").splitlines():
        if line.strip():
            common.notice("    [%s %s] %s" % (label, script, line))


def build_cell(meta):
    bi = (meta or {}).get("build_info")
    if not bi:
        return "-"
    return "%s / %s / %s" % (bi.get("phase"), bi.get("batch_limit"),
                             bi.get("wait_strategy"))


def write_markdown(path, doc, labels):
    extra = [
        ("build (phase / batch / wait)", "",
         [build_cell(doc["loops"].get(lb)) for lb in labels]),
        ("run time (all scripts)", "s",
         [common.fmt_num(doc["loops"].get(lb, {}).get("elapsed_s"))
          for lb in labels]),
    ]
    table = common.markdown_table(doc["results"], labels, extra)
    with open(path, "w") as fh:
        fh.write("# pyloop benchmarks\n\n")
        m = doc["machine"]
        fh.write("Generated %s on %s (%s CPUs), Python %s%s. %s null = not "
                 "measurable for that loop, error = the measurement failed."
                 "\n\n"
                 % (doc["generated"], m.get("cpu_model", m.get("machine")),
                    m.get("cpu_count"), doc["python"],
                    ", --quick sizes" if doc.get("quick") else "",
                    common.P99_DEFINITION))
        fh.write(table + "\n")
    return table


# A key metric whose bars span at least this ratio (largest over smallest),
# or that has bars at 0 next to others, is drawn on a logarithmic axis
# (symmetric-log, linear near 0, when a bar is 0).
LOG_SPAN = 50.0
REFERENCE_COLOR, PYLOOP_COLOR = "#999999", "#4c72b0"


def write_chart(path, doc, labels):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except Exception as exc:
        common.notice("skipped %s: %s" % (os.path.basename(path), exc))
        return False
    width = max(12.0, 3 * (0.55 * len(labels) + 1.2))
    notes, marked = common.metric_notes(doc["results"], labels)
    # A hatched bar carries a note; the notes are part of those numbers.
    charted = {name for name, _ in KEY_METRICS}
    footer = "\n".join(textwrap.fill("[%d] %s" % (n, note), 160)
                       for n, note, places in notes
                       if any(m in charted for m, _ in places))
    footer_in = 0.15 * (footer.count("\n") + 1) + 0.1 if footer else 0.0
    nrows = -(-len(KEY_METRICS) // CHART_COLUMNS)
    height = 4.3 * nrows + footer_in
    fig, axes = plt.subplots(nrows, CHART_COLUMNS, squeeze=False,
                             figsize=(width, height))
    for ax in list(axes.flat)[len(KEY_METRICS):]:
        ax.set_visible(False)
    colors = [PYLOOP_COLOR if doc["loops"].get(lb, {}).get("loop") == "pyloop"
              else REFERENCE_COLOR for lb in labels]
    for ax, (name, hint) in zip(axes.flat, KEY_METRICS):
        vals, unit = [], ""
        for lb in labels:
            m = doc["results"].get(lb, {}).get(name) or {}
            unit = unit or m.get("unit", "")
            vals.append(m.get("median"))
        xs = range(len(labels))
        bars = ax.bar(xs, [v or 0 for v in vals], color=colors)
        present = [v for v in vals if v is not None]
        positive = [v for v in present if v > 0]
        top = max(present or [1]) or 1
        scale = "linear"
        if positive and len(positive) < len(present):
            scale = "symlog"
        elif positive and max(positive) / min(positive) >= LOG_SPAN:
            scale = "log"
        for x, v, lb, bar in zip(xs, vals, labels, bars):
            mark = marked.get((name, lb))
            if mark:
                bar.set_hatch("//")
            y = (v or 0) * 1.05 if scale != "linear" else (v or 0) + top * 0.01
            cell = (doc["results"].get(lb, {}).get(name) or {}).get("cell")
            ax.text(x, y, ((cell or "n/a") if v is None else common.fmt_num(v)) + (" [%d]" % mark if mark else ""),
                    ha="center", va="bottom", fontsize=8)
        ax.set_title("%s (%s)" % (name, hint), fontsize=10)
        ax.set_xticks(list(xs))
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_xlabel("loop", fontsize=8)
        if scale == "linear":
            ax.set_ylim(0, top * 1.15)
            ax.set_ylabel("median, %s" % unit, fontsize=8)
        else:
            if scale == "symlog":
                ax.set_yscale("symlog", linthresh=min([1.0] + positive))
            else:
                ax.set_yscale("log")
            ax.set_ylim(top=top * 3)
            ax.set_ylabel("median, %s (log scale)" % unit, fontsize=8)
    fig.suptitle("data_bridge.pyloop phases vs reference loops (median)")
    fig.legend(handles=[Patch(color=REFERENCE_COLOR, label="reference loops (asyncio, uvloop, rloop)"),
                        Patch(color=PYLOOP_COLOR, label="pyloop builds (one per phase)")],
               loc="upper right", fontsize=9, frameon=False)
    if footer:
        fig.text(0.01, 0.005, footer, fontsize=7, va="bottom", ha="left")
    fig.tight_layout(rect=(0, footer_in / height, 1, 1 - 0.45 / height))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv=None):
    args, specs, scripts = parse_args(argv)
    out_dir = args.out
    os.makedirs(out_dir, exist_ok=True)
    doc = {"machine": None, "python": None, "generated": common.now_iso(),
           "script": "run_all", "quick": bool(args.quick), "results": {},
           "loops": {}, "skipped": {}}
    total = len(specs) * len(scripts)
    step = 0
    t_all = time.perf_counter()
    for spec in specs:
        info = {"loop": spec.loop,
                "python_executable": spec.python or sys.executable,
                "pythonpath": (os.path.abspath(spec.pythonpath)
                               if spec.pythonpath else None),
                "scripts": {}, "errors": {}}
        results = {}
        label_t0 = time.perf_counter()
        for script in scripts:
            step += 1
            common.notice("[%d/%d] %s: %s ..." % (step, total, spec.label,
                                                  script))
            sdoc, error, elapsed, err = run_one(spec, script, args.quick,
                                                args.timeout)
            info["scripts"][script] = round(elapsed, 2)
            if sdoc is None:
                forward_stderr(spec.label, script, err)
                info["errors"][script] = error
                common.notice("    %s failed: %s (%.1f s)"
                              % (script, error, elapsed))
                continue
            forward_stderr(spec.label, script, err)
            doc["machine"] = doc["machine"] or sdoc.get("machine")
            doc["python"] = doc["python"] or sdoc.get("python")
            info.setdefault("python", sdoc.get("python"))
            if spec.loop in (sdoc.get("skipped") or {}):
                reason = sdoc["skipped"][spec.loop]
                doc["skipped"][spec.label] = reason
                common.notice("    skipped %s: %s" % (spec.label, reason))
                step += len(scripts) - scripts.index(script) - 1
                break
            results.update(sdoc["results"].get(spec.loop, {}))
            meta = dict(sdoc.get("loops", {}).get(spec.loop, {}))
            stats = meta.pop("stats", None)
            meta.pop("elapsed_s", None)
            meta.pop("loop", None)
            for k, v in meta.items():
                info.setdefault(k, v)
            if stats:
                info.setdefault("stats", {})[script] = stats
            common.notice("    done in %.1f s" % elapsed)
        info["elapsed_s"] = round(time.perf_counter() - label_t0, 2)
        if not info["errors"]:
            del info["errors"]
        if spec.label in doc["skipped"]:
            continue
        doc["results"][spec.label] = results
        doc["loops"][spec.label] = info
        common.notice("%s: all scripts in %.1f s" % (spec.label,
                                                     info["elapsed_s"]))

    doc["machine"] = doc["machine"] or common.machine_info()
    doc["python"] = doc["python"] or common.platform.python_version()
    doc["elapsed_s"] = round(time.perf_counter() - t_all, 2)
    labels = list(doc["results"])
    with open(os.path.join(out_dir, "results.json"), "w") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")
    table = write_markdown(os.path.join(out_dir, "results.md"), doc, labels)
    charted = bool(labels) and write_chart(
        os.path.join(out_dir, "phases.png"), doc, labels)
    print(table)
    common.notice("wrote %s/results.json, results.md%s in %.1f s"
                  % (out_dir, ", phases.png" if charted else "",
                     doc["elapsed_s"]))
    failed = [lb for lb, i in doc["loops"].items() if i.get("errors")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
