#!/usr/bin/env python3
"""pyloop conformance harness: CPython's own asyncio test suite
(test.test_asyncio of the running interpreter) against data_bridge.pyloop
and against stock asyncio, one subprocess per module per loop.

    python tests/conformance/run.py                  # all modules, both loops
    python tests/conformance/run.py --quick          # the `make check` subset
    python tests/conformance/run.py --modules test_tasks,test_locks
    python tests/conformance/run.py --loops pyloop --json out.json
    python tests/conformance/run.py --list-modules

Children use sys.executable and inherit PYTHONPATH (made absolute), so the
interpreter under test is whatever runs this script.  For each module the
table shows passed/failed/errors/skipped on stock asyncio and on pyloop, how
many of the tests that ran on pyloop really constructed a PyLoop ("bound"),
and a status.  Every pyloop failure not listed in exclusions.py is then rerun
--reruns times (5) on BOTH loops, alone, and reported as solid (failed every
run) or flaky (failed some), with the counts on each loop.  It is UNEXPECTED
(counted) unless stock asyncio failed at least as large a share of its runs
(first run + reruns) as pyloop did; a failure flaky on pyloop only counts.
The run exits 1 iff there is an unexpected failure (or a module that timed
out, crashed, failed to import or was not bound to pyloop).  The last line
is "N passed, N failed" (pyloop passed in the first run, unexpected
failures): a flaky test is never a pass.

See _child.py for how the loop is bound.  Standard library only.
"""

import argparse
import concurrent.futures
import fnmatch
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = os.path.join(HERE, "_child.py")
MARKER = "@@CONFORMANCE-RESULT@@ "
REAL_BACKEND = "data_bridge.pyloop"
FAKE_BACKEND = "_fake_pyloop"

# Modules of test.test_asyncio that are not run against pyloop, with why.
NOT_APPLICABLE = {
    "test_base_events":
        "not applicable: they unit-test stock asyncio internals with mocks "
        "(BaseEventLoop)",
    "test_selector_events":
        "not applicable: they unit-test stock asyncio internals with mocks "
        "(BaseSelectorEventLoop, selector transports)",
    "test_proactor_events": "not applicable: Windows proactor loop",
    "test_windows_events": "not applicable: Windows only",
    "test_windows_utils": "not applicable: Windows only",
}

# Modules whose tests never construct a real event loop, not even on stock
# asyncio: they test loop-independent pieces with mocks, a bare
# BaseEventLoop() or test_utils.TestLoop (test_futures: TestLoop;
# test_pep492: bare BaseEventLoop; test_runners: mocked BaseEventLoop, until
# 3.13 added one asyncio.run(loop_factory=asyncio.EventLoop) test;
# test_queues: TestLoop until 3.10, IsolatedAsyncioTestCase from 3.11;
# test_protocols, test_transports: no loop at all).  Zero PyLoop
# constructions there is reported as "no loop", not "NOT BOUND".  When stock
# asyncio runs in the same invocation this is decided from its counts
# instead; this table (from the stock runs on 3.9 .. 3.13) is the fallback
# for --loops pyloop.  Value: last Python version where it holds, or None.
LOOPLESS = {
    "test_futures": None,
    "test_pep492": None,
    "test_protocols": None,
    "test_transports": None,
    "test_runners": (3, 12),
    "test_queues": (3, 10),
}


def is_loopless(module):
    if module not in LOOPLESS:
        return False
    upto = LOOPLESS[module]
    return upto is None or sys.version_info[:2] <= upto


# The subset run by `make check` (--quick): the loop-bound modules except
# the slow SSL ones (test_ssl, test_sslproto: ~15 s, mostly handshakes and
# timeouts) and test_subprocess (~15-20 s; test_events' SubprocessTestsMixin
# still covers subprocesses), minus test_futures, test_pep492,
# test_protocols and test_transports, which never construct a real loop.
# Modules missing on an interpreter are ignored.  About 25-40 s for both
# loops with --jobs 2 on the 2-core machine (full run: 40-100 s).
QUICK_MODULES = [
    "test_events",
    "test_tasks",
    "test_locks",
    "test_queues",
    "test_streams",
    "test_server",
    "test_sock_lowlevel",
    "test_sendfile",
    "test_unix_events",
    "test_buffered_proto",
    "test_context",
    "test_futures2",
    "test_runners",
    "test_taskgroups",
    "test_timeouts",
    "test_waitfor",
    "test_threads",
    "test_eager_task_factory",
    "test_staggered",
]

# Long modules first so that --jobs packs well.
SLOW_FIRST = ["test_events", "test_tasks", "test_subprocess", "test_sendfile",
              "test_streams", "test_ssl", "test_sslproto", "test_futures",
              "test_unix_events", "test_sock_lowlevel", "test_locks",
              "test_queues", "test_waitfor", "test_server"]

CANON_RE = re.compile(r"\.(?:PyLoop|Stock)(EventLoopTests)\b")


def canon(test_id):
    """Map the harness' own per-loop binding class names to one name so that
    pyloop and stock ids can be compared."""
    return CANON_RE.sub(r".\1", test_id)


def discover_modules():
    spec = importlib.util.find_spec("test.test_asyncio")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("conformance: test.test_asyncio is not importable from %s"
                 % sys.executable)
    names = set()
    for loc in spec.submodule_search_locations:
        for fn in os.listdir(loc):
            if fn.startswith("test_") and fn.endswith(".py"):
                names.add(fn[:-3])
    return sorted(names)


def load_exclusions(path):
    """(EXCLUSIONS, NOT_RUN) of exclusions.py; every NOT_RUN id is in the
    first too."""
    if not os.path.exists(path):
        return {}, {}
    spec = importlib.util.spec_from_file_location("_conformance_exclusions",
                                                  path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    excl = dict(getattr(mod, "EXCLUSIONS", {}))
    not_run = dict(getattr(mod, "NOT_RUN", {}))
    for name, table in (("EXCLUSIONS", excl), ("NOT_RUN", not_run)):
        for key, reason in table.items():
            if not isinstance(key, str) or not isinstance(reason, str):
                sys.exit("conformance: %s: %s must map str -> str "
                         "(bad entry %r)" % (path, name, key))
    excl.update(not_run)
    return excl, not_run


def excluded(test_id, exclusions):
    if test_id in exclusions:
        return exclusions[test_id]
    for pat, reason in exclusions.items():
        if any(ch in pat for ch in "*?[") and fnmatch.fnmatchcase(test_id,
                                                                  pat):
            return reason
    return None


def child_env():
    env = dict(os.environ)
    pp = env.get("PYTHONPATH")
    if pp:
        env["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(p) if p else os.getcwd() for p in pp.split(os.pathsep))
    return env


# --------------------------------------------------------------------------
# running one child

def parse_progress(path):
    """(outcomes, last started test without an end) from a progress file."""
    outcomes, started = {}, None
    try:
        with open(path, errors="replace") as fh:
            for line in fh:
                parts = line.rstrip("\n").split(" ")
                if parts[0] == "start" and len(parts) >= 2:
                    started = parts[1]
                elif parts[0] == "end" and len(parts) >= 3:
                    outcomes[" ".join(parts[1:-1])] = parts[-1]
                    if " ".join(parts[1:-1]) == started:
                        started = None
    except OSError:
        pass
    return outcomes, started


def counts_of(outcomes):
    c = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    key = {"pass": "passed", "fail": "failed", "error": "errors",
           "skip": "skipped"}
    for o in outcomes.values():
        if o in key:
            c[key[o]] += 1
    return c


FAULT_TIMEOUT_RE = re.compile(r"(^|\.\.\. )Timeout \(\d+:\d\d:\d\d(\.\d+)?\)!")


def fault_excerpt(path, n=25):
    """The faulthandler report (crash, or the dump a hang triggers shortly
    before the timeout) from a child's stderr, else its last lines."""
    try:
        with open(path, errors="replace") as fh:
            lines = fh.readlines()
    except OSError:
        return ""
    for i in range(len(lines) - 1, -1, -1):
        if ("Fatal Python error" in lines[i]
                or FAULT_TIMEOUT_RE.search(lines[i])):
            head = lines[i].split(" ... ")[-1]
            blocks = [j for j in range(i, len(lines))
                      if lines[j].startswith(("Current thread", "Thread 0x"))]
            cur = [j for j in blocks if lines[j].startswith("Current thread")]
            # A crash names the "Current thread"; a timeout dump lists all
            # threads newest first, so the main thread is the last block.
            j = cur[0] if cur else (blocks[-1] if blocks else None)
            if j is None:
                return "".join(lines[i:i + n])
            return "".join([head] + lines[j:j + n])
    return "".join(lines[-n:])


def tail(path, n=30):
    try:
        with open(path, errors="replace") as fh:
            return "".join(fh.readlines()[-n:])
    except OSError:
        return ""


def run_child(module, loop, backend, timeout, workdir, log_dir, procs,
              stop_event, only=None, attempt=None, not_run=()):
    tag = "%s.%s" % (module, loop)
    if attempt is not None:
        tag += ".rerun%d" % attempt
    cwd = tempfile.mkdtemp(prefix=tag + ".", dir=workdir)
    out_path = os.path.join(cwd, "stdout.txt")
    err_path = os.path.join(cwd, "stderr.txt")
    progress = os.path.join(cwd, "progress.txt")
    cmd = [sys.executable, CHILD, "--module", module, "--loop", loop,
           "--backend", backend, "--progress", progress,
           "--hang-dump", str(max(timeout - 10, timeout * 0.9))]
    for test_id in only or ():
        cmd += ["--only", test_id]
    for test_id in not_run:
        if loop == "pyloop" and test_id.startswith(
                "test.test_asyncio.%s." % module):
            cmd += ["--not-run", test_id]
    t0 = time.monotonic()
    timed_out = False
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        if stop_event.is_set():
            return {"module": module, "loop": loop, "state": "interrupted",
                    "counts": counts_of({}), "tests": {}, "failures": {}}
        proc = subprocess.Popen(cmd, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, cwd=cwd,
                                env=child_env(), start_new_session=True)
        procs[proc.pid] = proc
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(proc)
        finally:
            procs.pop(proc.pid, None)
        # The child's own subprocesses may outlive it: end its group.
        kill_group(proc, quiet=True)
    duration = round(time.monotonic() - t0, 2)

    result = None
    with open(out_path, errors="replace") as fh:
        for line in fh:
            if line.startswith(MARKER):
                try:
                    result = json.loads(line[len(MARKER):])
                except ValueError:
                    pass
    if result is None:
        outcomes, last = parse_progress(progress)
        rc = proc.returncode
        if timed_out:
            state = "timeout"
        elif rc is not None and rc < 0:
            try:
                state = "crash " + signal.Signals(-rc).name
            except ValueError:
                state = "crash signal %d" % -rc
        else:
            state = "crash rc=%s" % rc
        failures = {tid: {"outcome": o, "tb": ""}
                    for tid, o in outcomes.items() if o in ("fail", "error")}
        result = {"module": module, "loop": loop, "state": state,
                  "counts": counts_of(outcomes), "tests": outcomes,
                  "failures": failures, "last_test": last,
                  "stderr_tail": fault_excerpt(err_path)}
    else:
        if timed_out:
            result.setdefault("notes", []).append(
                "reported results but hung at exit")
        if result.get("state") != "ok":
            result["stderr_tail"] = tail(err_path, 40)
    result["wall"] = duration
    result["returncode"] = proc.returncode
    if log_dir:
        os.makedirs(log_dir, exist_ok=True)
        for src, suffix in ((out_path, "stdout"), (err_path, "stderr"),
                            (progress, "progress")):
            if os.path.exists(src):
                shutil.copy(src, os.path.join(log_dir,
                                              "%s.%s.txt" % (tag, suffix)))
    shutil.rmtree(cwd, ignore_errors=True)
    return result


def kill_group(proc, quiet=False):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if not quiet:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass


# --------------------------------------------------------------------------
# analysis

def analyse(module, stock, py, exclusions, not_run=()):
    """Classify the pyloop failures of one module (and list the NOT_RUN
    tests it skipped as excluded)."""
    info = {"unexpected": [], "excluded": [], "also_stock": [],
            "stale_exclusions": [], "status": "ok", "problems": []}
    if py is None:
        if stock is not None and stock.get("state") != "ok":
            info["status"] = stock["state"].upper() + " (stock)"
        return info
    stock_tests = {}
    if stock is not None:
        stock_tests = {canon(t): o for t, o in stock.get("tests", {}).items()}
    for tid, fail in sorted(py.get("failures", {}).items()):
        reason = excluded(tid, exclusions)
        entry = {"id": tid, "outcome": fail.get("outcome"),
                 "tb": fail.get("tb", "")}
        if reason is not None:
            entry["reason"] = reason
            info["excluded"].append(entry)
        elif stock_tests.get(canon(tid)) in ("fail", "error"):
            info["also_stock"].append(entry)
        else:
            info["unexpected"].append(entry)
    for tid, outcome in sorted(py.get("tests", {}).items()):
        if outcome == "pass" and excluded(tid, exclusions) is not None:
            info["stale_exclusions"].append(tid)
        elif outcome == "skip" and tid in not_run:
            info["excluded"].append({"id": tid, "outcome": "not run",
                                     "reason": "not run: " + not_run[tid]})

    state = py.get("state", "ok")
    if state != "ok":
        same_on_stock = stock is not None and stock.get("state") == state
        entry = {"id": "%s:<%s>" % (module, state), "outcome": "error",
                 "tb": py.get("error") or py.get("stderr_tail", "")}
        entry["head"] = True   # faulthandler dumps list innermost first
        if py.get("last_test"):
            entry["summary"] = "%s while running %s" % (state,
                                                        py["last_test"])
        elif py.get("error"):
            entry["summary"] = last_line(py["error"])
        else:
            entry["summary"] = state
        if (state.startswith(("timeout", "crash")) and py.get("last_test")):
            # the test that was running: what the reruns repeat
            entry["rerun_id"] = py["last_test"]
        (info["also_stock"] if same_on_stock else info["unexpected"]).append(
            entry)
        info["problems"].append(state)
        info["status"] = state.upper()
        if py.get("last_test"):
            info["status"] += " in " + py["last_test"].rsplit(".", 2)[-2] \
                + "." + py["last_test"].rsplit(".", 1)[-1]
        return info

    ran = py.get("ran_tests", 0)
    if ran and not py.get("target_loops"):
        if stock is not None and stock.get("state") == "ok":
            loopless = not stock.get("target_loops")
        else:
            loopless = is_loopless(module)
        if loopless:
            info["status"] = "ok (no loop)"
        else:
            info["unexpected"].append({
                "id": "%s:<not bound>" % module, "outcome": "error",
                "tb": "%d tests ran but no %s was constructed (other loops: %s)"
                      % (ran, py.get("target_class"), py.get("other_loops"))})
            info["problems"].append("not bound")
            info["status"] = "NOT BOUND"
            return info
    for note in py.get("notes", []):
        if "not a subclass" in note or "returned" in note:
            info["problems"].append(note)
    stray = py.get("stray_selector_loops", 0)
    if stray:
        info["problems"].append(
            "%d selector loop(s) of another class than %s were constructed "
            "(tests that escaped the binding): %s" % (
                stray, py.get("target_class"), py.get("other_loops")))
    info["stray"] = stray
    info["base_status"] = info["status"]
    set_status(info)
    return info


def set_status(info):
    """The status of a module that finished, from its failure lists (again
    after the reruns have sorted them)."""
    flaky = sum(1 for e in info["unexpected"]
                if e.get("rerun", {}).get("pyloop_kind") == "flaky")
    if info["unexpected"]:
        info["status"] = "FAIL %d" % len(info["unexpected"])
        if flaky:
            info["status"] += " (%d flaky)" % flaky
        return
    info["status"] = info["base_status"]
    if info["status"] == "ok":
        extra = []
        if info["stray"]:
            extra.append("%d stray stock loops" % info["stray"])
        if info["excluded"]:
            extra.append("%d excluded" % len(info["excluded"]))
        if info["also_stock"]:
            extra.append("%d fail on stock too" % len(info["also_stock"]))
        if extra:
            info["status"] = "ok (%s)" % ", ".join(extra)


# --------------------------------------------------------------------------
# reruns: is a pyloop failure solid or flaky, and does stock do the same?

HOLDER_ID_RE = re.compile(r"^(?:setUpClass|tearDownClass|setUpModule|"
                          r"tearDownModule) \(.+\)$")


def rerun_outcome(result, test_id):
    """"fail", "pass" or None (did not run: skipped, or not found) for one
    test in one rerun child's result."""
    outcome = {canon(t): o for t, o in result.get("tests", {}).items()}.get(
        canon(test_id))
    if outcome in ("fail", "error"):
        return "fail"
    if outcome == "pass":
        return "pass"
    if outcome is None and result.get("state") != "ok":
        return "fail"   # the child crashed or hung before or while running it
    if outcome is None and HOLDER_ID_RE.match(test_id):
        return "pass"   # the class's (module's) set-up went through this time
    return None


def tally(first, reruns, missing_is_failure):
    """(failed, runs) over the first run's outcome and the reruns'."""
    failed = runs = 0
    for outcome in [first] + reruns:
        if outcome is None and missing_is_failure:
            outcome = "fail"
        if outcome in ("fail", "error"):
            failed += 1
            runs += 1
        elif outcome == "pass":
            runs += 1
    return failed, runs


def kind(failed, runs):
    if runs == 0:
        return "not run"
    if failed == 0:
        return "passes"
    return "solid" if failed == runs else "flaky"


def judge(entry, stock_first, py_reruns, stock_reruns):
    """Counts and verdict of one rerun pyloop failure (stored in entry).

    Each loop's count covers the first run and the reruns.  On pyloop a rerun
    that did not report the test counts as a failure (never as a pass); on
    stock it is left out.  The failure is shared with stock asyncio, and not
    counted, iff stock failed at least as large a share of its runs as pyloop
    did; otherwise it counts, flaky or solid."""
    py_failed, py_runs = tally("fail", py_reruns, True)
    st_failed, st_runs = tally(stock_first, stock_reruns, False)
    shared = st_failed > 0 and st_failed * py_runs >= py_failed * st_runs
    entry["rerun"] = {
        "pyloop": py_reruns, "stock": stock_reruns, "stock_first": stock_first,
        "pyloop_failed": py_failed, "pyloop_runs": py_runs,
        "stock_failed": st_failed, "stock_runs": st_runs,
        "pyloop_kind": kind(py_failed, py_runs),
        "stock_kind": kind(st_failed, st_runs),
        "shared": shared,
    }
    return shared


def rerun_summary(entry):
    r = entry.get("rerun")
    if not r:
        return ""
    return "%s on pyloop (%d/%d failed), %s on stock (%d/%d failed)" % (
        r["pyloop_kind"], r["pyloop_failed"], r["pyloop_runs"],
        r["stock_kind"], r["stock_failed"], r["stock_runs"])


def run_reruns(analyses, results, count, backend, timeout, workdir, log_dir,
               procs, stop_event, jobs):
    """Reruns every rerunnable pyloop failure `count` times on both loops,
    one child per module per loop per attempt (all of the module's failed
    tests in it), then moves each failure to "unexpected" or "also_stock"
    by judge().  Returns the rerun entries."""
    wanted = {}
    for module, info in analyses.items():
        for entry in info["unexpected"] + info["also_stock"]:
            test_id = entry.get("rerun_id", entry["id"])
            if entry["id"].endswith(">") and "rerun_id" not in entry:
                continue    # import error, sanity error, not bound
            wanted.setdefault(module, []).append((entry, test_id))
    if not wanted or count <= 0:
        return []
    children = [(m, lp, attempt) for m in wanted
                for attempt in range(1, count + 1) for lp in ("pyloop", "stock")]
    print("\nrerunning %d pyloop failure(s) %d times on each loop (%d children)"
          % (sum(len(v) for v in wanted.values()), count, len(children)))
    sys.stdout.flush()
    outcomes = {}
    ex = concurrent.futures.ThreadPoolExecutor(max(1, jobs))
    try:
        futs = {ex.submit(run_child, m, lp, backend, timeout, workdir,
                          log_dir, procs, stop_event,
                          only=[t for _, t in wanted[m]], attempt=attempt):
                (m, lp, attempt) for m, lp, attempt in children}
        for fut in concurrent.futures.as_completed(futs):
            m, lp, attempt = futs[fut]
            r = fut.result()
            got = [rerun_outcome(r, t) for _, t in wanted[m]]
            outcomes[(m, lp, attempt)] = got
            print("  rerun %-24s %-6s #%d %s%s" % (
                m, lp, attempt, " ".join(o or "-" for o in got),
                "" if r.get("state") == "ok" else "  (%s)" % r.get("state")))
            sys.stdout.flush()
        ex.shutdown(wait=True)
    except BaseException:
        stop_event.set()
        ex.shutdown(wait=False, cancel_futures=True)
        for proc in list(procs.values()):
            kill_group(proc, quiet=True)
        raise
    rerun = []
    for m, tests in wanted.items():
        info = analyses[m]
        stock = results.get((m, "stock"))
        stock_tests = {}
        if stock is not None:
            stock_tests = {canon(t): o for t, o in stock.get("tests", {}).items()}
        info["unexpected"] = [e for e in info["unexpected"]
                              if all(e is not x for x, _ in tests)]
        info["also_stock"] = [e for e in info["also_stock"]
                              if all(e is not x for x, _ in tests)]
        for i, (entry, test_id) in enumerate(tests):
            first = stock_tests.get(canon(test_id))
            if first not in ("pass", "fail", "error"):
                first = None
            shared = judge(
                entry, first,
                [outcomes[(m, "pyloop", a)][i] for a in range(1, count + 1)],
                [outcomes[(m, "stock", a)][i] for a in range(1, count + 1)])
            entry["rerun_module"] = m
            (info["also_stock"] if shared else info["unexpected"]).append(entry)
            rerun.append(entry)
        if "base_status" in info:
            set_status(info)
    return rerun


def fmt_counts(r):
    if r is None:
        return "-"
    c = r.get("counts") or {}
    s = "%d/%d/%d/%d" % (c.get("passed", 0), c.get("failed", 0),
                         c.get("errors", 0), c.get("skipped", 0))
    if r.get("state", "ok") != "ok":
        s += "!"
    return s


def last_line(tb):
    lines = [ln for ln in (tb or "").strip().splitlines() if ln.strip()]
    return lines[-1].strip()[:200] if lines else ""


# --------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Run CPython's test.test_asyncio against pyloop and "
                    "stock asyncio.")
    ap.add_argument("--loops", default="stock,pyloop",
                    help="comma list of: stock, pyloop (default both)")
    ap.add_argument("--modules", default="",
                    help="comma list of test_asyncio modules (default all)")
    ap.add_argument("--quick", action="store_true",
                    help="run the fast subset used by `make check`")
    ap.add_argument("--jobs", "-j", type=int, default=2,
                    help="parallel children (default 2)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds per module per loop (default 300, "
                         "120 with --quick)")
    ap.add_argument("--reruns", type=int, default=5, metavar="N",
                    help="rerun each pyloop failure N times on each loop to "
                         "tell flaky from solid (default 5, 0 = off)")
    ap.add_argument("--rerun-timeout", type=float, default=None, metavar="S",
                    help="seconds per rerun child (default 60, 30 with "
                         "--quick, never more than --timeout)")
    ap.add_argument("--list-modules", action="store_true",
                    help="list the modules and how each is treated, and exit")
    ap.add_argument("--json", metavar="FILE", help="write all results here")
    ap.add_argument("--log-dir", metavar="DIR",
                    help="keep every child's stdout/stderr/progress here")
    ap.add_argument("--exclusions", default=os.path.join(HERE, "exclusions.py"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--show-traceback", type=int, default=15, metavar="N",
                    help="print the last N lines of each unexpected failure's "
                         "traceback (default 15, 0 = only the last line)")
    # Development aid: bind the pyloop side to a trivial subclass of
    # asyncio.SelectorEventLoop (_fake_pyloop.py) instead of the real package.
    ap.add_argument("--fake-pyloop", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--pyloop-module", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.timeout is None:
        args.timeout = 120.0 if args.quick else 300.0
    if args.rerun_timeout is None:
        args.rerun_timeout = 30.0 if args.quick else 60.0
    args.rerun_timeout = min(args.rerun_timeout, args.timeout)
    if args.reruns < 0:
        ap.error("--reruns must be 0 or more")
    loops = [x.strip() for x in args.loops.split(",") if x.strip()]
    for x in loops:
        if x not in ("stock", "pyloop"):
            ap.error("--loops: unknown loop %r" % x)
    backend = args.pyloop_module or (FAKE_BACKEND if args.fake_pyloop
                                     else REAL_BACKEND)

    available = discover_modules()
    if args.list_modules:
        for m in available:
            if m in NOT_APPLICABLE:
                how = NOT_APPLICABLE[m]
            else:
                how = "run" + (" (quick)" if m in QUICK_MODULES else "") + \
                      (" (no loop)" if is_loopless(m) else "")
            print("%-26s %s" % (m, how))
        return 0

    if args.modules:
        wanted = []
        for m in args.modules.split(","):
            m = m.strip()
            if not m:
                continue
            if not m.startswith("test_"):
                m = "test_" + m
            if m not in available:
                ap.error("module %s does not exist in this Python's "
                         "test.test_asyncio" % m)
            wanted.append(m)
    elif args.quick:
        wanted = [m for m in QUICK_MODULES if m in available]
    else:
        wanted = list(available)
    runnable = [m for m in wanted if m not in NOT_APPLICABLE]

    exclusions, not_run = load_exclusions(args.exclusions)

    print("conformance: Python %s (%s)" % (sys.version.split()[0],
                                           sys.executable))
    print("conformance: loops=%s pyloop=%s jobs=%d timeout=%ds modules=%d%s "
          "reruns=%d" % (
              ",".join(loops), backend, args.jobs, args.timeout, len(runnable),
              " (quick)" if args.quick and not args.modules else "",
              args.reruns))
    sys.stdout.flush()

    if "pyloop" in loops:
        # Fail fast, with one clear message, when the package is missing.
        probe = subprocess.run(
            [sys.executable, "-c",
             "import sys; sys.path.insert(0, %r); import importlib; "
             "m = importlib.import_module(%r); "
             "print(m.PyLoop.__module__ + '.' + m.PyLoop.__qualname__)"
             % (HERE, backend)],
            env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=120)
        if probe.returncode != 0:
            print(probe.stderr.rstrip())
            print("conformance: cannot import %s with %s (PYTHONPATH=%s)"
                  % (backend, sys.executable, os.environ.get("PYTHONPATH", "")))
            print("0 passed, 1 failed")
            return 2
        print("conformance: pyloop class %s" % probe.stdout.strip())

    order = sorted(runnable, key=lambda m: (SLOW_FIRST.index(m)
                                            if m in SLOW_FIRST else 99, m))
    jobs = [(m, lp) for m in order for lp in loops]
    results = {}
    workdir = tempfile.mkdtemp(prefix="pyloop-conformance.")
    procs = {}
    stop_event = threading.Event()
    t_start = time.monotonic()
    ex = concurrent.futures.ThreadPoolExecutor(max(1, args.jobs))
    try:
        futs = {ex.submit(run_child, m, lp, backend, args.timeout, workdir,
                          args.log_dir, procs, stop_event,
                          not_run=not_run): (m, lp)
                for m, lp in jobs}
        for fut in concurrent.futures.as_completed(futs):
            m, lp = futs[fut]
            r = fut.result()
            results[(m, lp)] = r
            print("  done %-24s %-6s %-14s %6.1fs %s" % (
                m, lp, fmt_counts(r), r.get("wall", 0),
                "" if r.get("state") == "ok" else r.get("state")))
            sys.stdout.flush()
        ex.shutdown(wait=True)
    except BaseException:
        # Ctrl-C (or a harness bug): end the children we started, by id.
        stop_event.set()
        ex.shutdown(wait=False, cancel_futures=True)
        for proc in list(procs.values()):
            kill_group(proc, quiet=True)
        shutil.rmtree(workdir, ignore_errors=True)
        raise

    analyses = {}
    for m in wanted:
        if m not in NOT_APPLICABLE:
            analyses[m] = analyse(m, results.get((m, "stock")),
                                  results.get((m, "pyloop")), exclusions,
                                  not_run)
    # A pyloop failure is never taken at its word, nor forgiven by one stock
    # failure: it is rerun on both loops (children of their own, like the
    # first run) and judged on the counts.
    try:
        reruns = run_reruns(analyses, results, args.reruns, backend,
                            args.rerun_timeout, workdir, args.log_dir, procs,
                            stop_event, args.jobs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - t_start

    # ---------------------------------------------------------------- report
    width = max([len(m) for m in wanted] + [10])
    print()
    print("%-*s  %-22s  %-22s  %-9s  %s" % (width, "module", "stock: P/F/E/S",
                                           "pyloop: P/F/E/S", "bound",
                                           "status"))
    tot = {lp: {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
           for lp in ("stock", "pyloop")}
    for m in wanted:
        if m in NOT_APPLICABLE:
            print("%-*s  %s" % (width, m, NOT_APPLICABLE[m]))
            continue
        st = results.get((m, "stock"))
        py = results.get((m, "pyloop"))
        for lp, r in (("stock", st), ("pyloop", py)):
            if r is not None:
                for k in tot[lp]:
                    tot[lp][k] += (r.get("counts") or {}).get(k, 0)
        a = analyses[m]
        bound = "-"
        if py is not None and py.get("state") == "ok":
            bound = "%d/%d" % (py.get("bound_tests", 0), py.get("ran_tests", 0))
        status = a["status"]
        if py is None and st is not None and st.get("state") == "ok":
            status = "ok (stock only)"
        print("%-*s  %-22s  %-22s  %-9s  %s" % (
            width, m, "stock: " + fmt_counts(st), "pyloop: " + fmt_counts(py),
            bound, status))
    print("%-*s  %-22s  %-22s" % (
        width, "TOTAL",
        "stock: " + fmt_counts({"counts": tot["stock"]}) if "stock" in loops
        else "stock: -",
        "pyloop: " + fmt_counts({"counts": tot["pyloop"]}) if "pyloop" in loops
        else "pyloop: -"))
    print("(P/F/E/S = passed/failed/errors/skipped; '!' = module did not "
          "finish, partial counts; bound = tests that constructed a %s / "
          "tests run)" % ("PyLoop" if "pyloop" in loops else "loop"))

    unexpected = [e for a in analyses.values() for e in a["unexpected"]]
    also_stock = [e for a in analyses.values() for e in a["also_stock"]]
    excl = [e for a in analyses.values() for e in a["excluded"]]
    stale = [t for a in analyses.values() for t in a["stale_exclusions"]]
    problems = [(m, p) for m, a in analyses.items() for p in a["problems"]]

    if "pyloop" in loops and "stock" not in loops:
        print("\nnote: stock asyncio did not run the modules; a pyloop failure "
              "is compared with stock in its reruns only (with --reruns 0, "
              "every pyloop failure not in exclusions.py counts)")
    if excl:
        print("\nexcluded pyloop failures (exclusions.py): %d" % len(excl))
        for e in excl:
            print("  %s  [%s]" % (e["id"], e["reason"]))
    if stale:
        print("\nstale exclusions (excluded but passed on pyloop): %d"
              % len(stale))
        for t in stale:
            print("  " + t)
    if reruns:
        solid = sum(1 for e in reruns if e["rerun"]["pyloop_kind"] == "solid")
        shared = sum(1 for e in reruns if e["rerun"]["shared"])
        print("\nreruns: %d pyloop failure(s), each rerun %d times on each loop "
              "(counts include the first run): %d solid, %d flaky; %d counted, "
              "%d shared with stock asyncio (stock failed at least as often: "
              "not counted)" % (len(reruns), args.reruns, solid,
                                len(reruns) - solid, len(reruns) - shared,
                                shared))
        for e in reruns:
            r = e["rerun"]
            print("  %-6s %-7s %s" % (r["pyloop_kind"],
                                      "shared" if r["shared"] else "counted",
                                      e.get("rerun_id", e["id"])))
            print("                 pyloop %d/%d failed, stock %d/%d failed "
                  "(%s on stock)" % (r["pyloop_failed"], r["pyloop_runs"],
                                     r["stock_failed"], r["stock_runs"],
                                     r["stock_kind"]))
    if also_stock:
        print("\nfailing on pyloop AND on stock asyncio (not counted): %d"
              % len(also_stock))
        for e in also_stock:
            print("  %s (%s): %s" % (e["id"], e["outcome"],
                                     rerun_summary(e) or e.get("summary")
                                     or last_line(e["tb"])))
    # stock-only failures, for information
    stock_fail = []
    for m in wanted:
        st = results.get((m, "stock"))
        if st is None:
            continue
        if st.get("state") != "ok":
            stock_fail.append("%s:<%s>" % (m, st.get("state")))
        stock_fail.extend(sorted(st.get("failures", {})))
    if stock_fail:
        print("\nfailing on stock asyncio: %d" % len(stock_fail))
        for t in stock_fail:
            print("  " + t)
    warnings = [(m, p) for m, p in problems
                if not p.startswith(("timeout", "crash", "not bound",
                                     "import-error", "sanity-error"))]
    if warnings:
        print("\nwarnings:")
        for m, p in warnings:
            print("  %s: %s" % (m, p))
    if unexpected:
        print("\nUNEXPECTED pyloop failures: %d" % len(unexpected))
        for e in unexpected:
            print("  %s (%s): %s" % (e["id"], e["outcome"],
                                     e.get("summary") or last_line(e["tb"])))
            if e.get("rerun"):
                print("      " + rerun_summary(e))
        if args.show_traceback > 0:
            print()
            for e in unexpected:
                lines = (e["tb"] or "").rstrip().splitlines()
                if not lines:
                    continue
                print("---- %s" % e["id"])
                if e.get("head"):
                    lines = lines[:args.show_traceback]
                else:
                    lines = lines[-args.show_traceback:]
                for ln in lines:
                    print("    " + ln)

    print("\nconformance: %.1fs wall for %d children (%s)%s" % (
        elapsed, len(jobs), ", ".join(loops),
        " + %d rerun children" % (2 * args.reruns * len(
            {e.get("rerun_module") for e in reruns})) if reruns else ""))

    if args.json:
        doc = {
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "backend": backend,
            "loops": loops,
            "modules": wanted,
            "not_applicable": {m: NOT_APPLICABLE[m] for m in wanted
                               if m in NOT_APPLICABLE},
            "elapsed": round(elapsed, 2),
            "totals": tot,
            "results": {"%s/%s" % k: v for k, v in results.items()},
            "analysis": analyses,
            "unexpected": [e["id"] for e in unexpected],
            "reruns": {"count": args.reruns,
                       "tests": {e.get("rerun_id", e["id"]): e["rerun"]
                                 for e in reruns}},
        }
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=1, sort_keys=True)
        print("conformance: wrote %s" % args.json)

    if "pyloop" in loops:
        print("%d passed, %d failed" % (tot["pyloop"]["passed"],
                                        len(unexpected)))
        return 1 if unexpected else 0
    # stock only: informational
    print("stock: %d passed, %d failed" % (
        tot["stock"]["passed"],
        tot["stock"]["failed"] + tot["stock"]["errors"]))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nconformance: interrupted", file=sys.stderr)
        sys.exit(130)
