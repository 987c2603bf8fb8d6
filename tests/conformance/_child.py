"""Child process of the conformance harness: runs ONE module of CPython's
test.test_asyncio against ONE loop ("stock" or "pyloop") and reports.

Invoked by run.py as:

    python _child.py --module test_tasks --loop pyloop \
        --backend data_bridge.pyloop --progress FILE [--hang-dump SECONDS] \
        [--only TEST_ID ...] [--not-run TEST_ID ...]

--only (repeatable) runs just those tests of the module instead of all of
it: run.py's reruns of a failed test.  A TEST_ID is an id as either loop
reported it (the harness' binding class is renamed for this loop); the id of
a setUpClass/setUpModule error ("setUpClass (pkg.module.Class)") reruns
that class or module, whose outcome then carries the same id.

--not-run (repeatable) skips that test instead of running it (reported as
"skip"): run.py passes exclusions.py's NOT_RUN ids to the pyloop children,
excluded tests that would hang the module there.

The last line of stdout starting with MARKER carries a JSON object:

    {"module", "loop", "state": "ok", "counts": {passed, failed, errors,
     skipped}, "tests": {id: outcome}, "failures": {id: {outcome, tb}},
     "target_class", "target_loops", "other_loops": {type: n},
     "stray_selector_loops" (selector loops of another class than the one
     under test: tests that escaped the binding),
     "bound_tests", "ran_tests", "patched": [...], "policy_at_end", ...}

While running, one line per event is appended to the progress file
("start ID" / "end ID OUTCOME") so that the parent can attribute a crash or
a hang to a test and keep the partial counts.

How the loop is bound (loop == "pyloop"), all BEFORE the test module is
imported, so that module-level subclasses bind to our classes too:
  * asyncio.SelectorEventLoop, asyncio.unix_events.SelectorEventLoop and
    (3.13+) asyncio.EventLoop / asyncio.unix_events.EventLoop -> PyLoop.
    Tests that call asyncio.SelectorEventLoop() get our loop.
  * asyncio.DefaultEventLoopPolicy and asyncio.unix_events.
    DefaultEventLoopPolicy -> our EventLoopPolicy.  asyncio.events.
    _init_event_loop_policy() does `from . import DefaultEventLoopPolicy`
    at call time (3.9 .. 3.13), so after a test's
    asyncio.set_event_loop_policy(None) the lazily re-created default policy
    is ours again, and asyncio.new_event_loop(), asyncio.run(),
    asyncio.Runner and IsolatedAsyncioTestCase all create PyLoop.
  * asyncio.set_event_loop_policy(EventLoopPolicy()) right away.
Then, after import, the selector-specific bindings of the mixin suites
(KqueueEventLoopTests / EPollEventLoopTests / PollEventLoopTests /
SelectEventLoopTests in test_events, test_sendfile, test_sock_lowlevel) are
removed from the module and replaced by ONE subclass of the EPoll binding,
named <Prefix>EventLoopTests (PyLoopEventLoopTests / StockEventLoopTests),
whose create_event_loop() returns the loop under test.  The stock side gets
the same treatment (with asyncio.SelectorEventLoop()) so that both sides run
the same set of tests.

Every construction of the loop class under test is counted (its __init__ is
wrapped), and so is every other BaseEventLoop (e.g. test_utils.TestLoop), per
test, so the parent can tell whether the tests really ran on our loop.
"""

import argparse
import faulthandler
import functools
import importlib
import json
import os
import re
import sys
import time
import traceback
import unittest
import warnings

MARKER = "@@CONFORMANCE-RESULT@@ "

# Selector-specific bindings of the mixin suites, replaced by one binding.
SELECTOR_BINDING_RE = re.compile(r"^(Kqueue|EPoll|Poll|Select)EventLoopTests$")
TEMPLATE_ORDER = ("EPollEventLoopTests", "PollEventLoopTests",
                  "SelectEventLoopTests", "KqueueEventLoopTests")

PREFIX = {"stock": "Stock", "pyloop": "PyLoop"}
BINDING_IN_ID_RE = re.compile(r"\.(?:PyLoop|Stock)EventLoopTests\b")
# unittest's _ErrorHolder ids: "setUpClass (test.test_asyncio.test_x.Class)"
HOLDER_ID_RE = re.compile(r"^(?:setUpClass|tearDownClass|setUpModule|"
                          r"tearDownModule) \((.+)\)$")


class Counter:
    def __init__(self):
        self.target = 0
        self.other = {}
        self.stray = 0   # selector loops that are NOT the loop under test

    def other_total(self):
        return sum(self.other.values())


COUNTER = Counter()


def qualname(cls):
    return "%s.%s" % (cls.__module__, cls.__qualname__)


def install_counters(target):
    """Count constructions of `target` (and subclasses) and of any other
    BaseEventLoop."""
    from asyncio import base_events, selector_events

    orig_target_init = target.__init__

    @functools.wraps(orig_target_init)
    def target_init(self, *args, **kwargs):
        COUNTER.target += 1
        return orig_target_init(self, *args, **kwargs)

    notes = []
    try:
        target.__init__ = target_init
    except (TypeError, AttributeError) as exc:
        notes.append("could not wrap %s.__init__ (%s); counting via "
                     "BaseEventLoop.__init__" % (qualname(target), exc))
        target_init = None

    orig_base_init = base_events.BaseEventLoop.__init__

    @functools.wraps(orig_base_init)
    def base_init(self, *args, **kwargs):
        if isinstance(self, target):
            if target_init is None:
                COUNTER.target += 1
        else:
            name = qualname(type(self))
            COUNTER.other[name] = COUNTER.other.get(name, 0) + 1
            if isinstance(self, selector_events.BaseSelectorEventLoop):
                COUNTER.stray += 1
        return orig_base_init(self, *args, **kwargs)

    base_events.BaseEventLoop.__init__ = base_init
    return notes


def patch_asyncio(target, policy_cls):
    """Make `target` / `policy_cls` what asyncio hands out by default."""
    import asyncio
    import asyncio.events
    import asyncio.unix_events as ue

    stock_loop = ue.SelectorEventLoop
    # 3.14 renamed unix_events.DefaultEventLoopPolicy to
    # _DefaultEventLoopPolicy (what _init_event_loop_policy() imports now);
    # asyncio.DefaultEventLoopPolicy became a module __getattr__ that warns
    # and returns it. Only names really defined are rebound (vars(), not
    # getattr()), so that 3.14's deprecation warning stays as stock's.
    stock_policy = (vars(ue).get("DefaultEventLoopPolicy")
                    or vars(ue)["_DefaultEventLoopPolicy"])
    patched = []
    with warnings.catch_warnings():
        # 3.14+: the policy classes and calls are deprecated; the harness
        # itself must not trip over that (-W error in a test's run).
        warnings.simplefilter("ignore", DeprecationWarning)
        policy = policy_cls()
        for mod in (asyncio, ue):
            for attr, old, new in (("SelectorEventLoop", stock_loop, target),
                                   ("EventLoop", stock_loop, target),
                                   ("DefaultEventLoopPolicy", stock_policy,
                                    policy_cls),
                                   ("_DefaultEventLoopPolicy", stock_policy,
                                    policy_cls)):
                if vars(mod).get(attr) is old and old is not new:
                    setattr(mod, attr, new)
                    patched.append("%s.%s" % (mod.__name__, attr))
        asyncio.events._event_loop_policy = None
        getattr(asyncio.events, "_set_event_loop_policy",
                asyncio.set_event_loop_policy)(policy)
    return patched


def rebind_selector_classes(mod, prefix, factory):
    """Replace the selector-specific loop bindings of a mixin suite by one
    class bound to `factory`.  Returns a description of what was done."""
    found = {}
    for name, obj in list(vars(mod).items()):
        if (isinstance(obj, type) and issubclass(obj, unittest.TestCase)
                and SELECTOR_BINDING_RE.match(name)
                and "create_event_loop" in vars(obj)):
            found[name] = obj
    if not found:
        return None
    template = None
    for name in TEMPLATE_ORDER:
        if name in found:
            template = found[name]
            break
    for name in found:
        delattr(mod, name)

    def create_event_loop(self):
        return factory()

    new_name = prefix + "EventLoopTests"
    new_cls = type(new_name, (template,), {
        "create_event_loop": create_event_loop,
        "__module__": mod.__name__,
        "__qualname__": new_name,
        "__doc__": "conformance binding of %s (was %s)" % (
            ", ".join(c.__name__ for c in template.__bases__),
            template.__name__),
    })
    setattr(mod, new_name, new_cls)
    return {"replaced": sorted(found), "template": template.__name__,
            "class": new_name,
            "mixins": [b.__name__ for b in template.__bases__]}


def select_tests(mod, test_ids, loop):
    """A suite of just `test_ids` (see --only), loaded after the rebinding."""
    loader = unittest.defaultTestLoader
    suite = unittest.TestSuite()
    names = []
    for tid in test_ids:
        name = BINDING_IN_ID_RE.sub("." + PREFIX[loop] + "EventLoopTests", tid)
        holder = HOLDER_ID_RE.match(name)
        if holder:
            name = holder.group(1)
        if name not in names:
            names.append(name)
    for name in names:
        if name == mod.__name__:
            suite.addTests(loader.loadTestsFromModule(mod))
        elif name.startswith(mod.__name__ + "."):
            suite.addTests(loader.loadTestsFromName(
                name[len(mod.__name__) + 1:], mod))
        else:
            suite.addTests(loader.loadTestsFromName(name))
    return suite


def skip_not_run(suite, test_ids):
    """Makes every test of `suite` whose id is in `test_ids` skip itself
    (TestCase.run honours __unittest_skip__ on the method it looks up on the
    instance).  Returns the ids found."""
    found = []
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            found.extend(skip_not_run(test, test_ids))
        elif isinstance(test, unittest.TestCase) and test.id() in test_ids:
            def not_run():
                pass
            not_run.__unittest_skip__ = True
            not_run.__unittest_skip_why__ = (
                "conformance: not run on this loop (exclusions.py NOT_RUN)")
            setattr(test, test._testMethodName, not_run)
            found.append(test.id())
    return found


class Recorder(unittest.TextTestResult):
    """Records one outcome per test id plus loop counts per test."""

    ORDER = {"pass": 0, "skip": 0, "fail": 1, "error": 2}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes = {}
        self.tracebacks = {}
        self.bound = set()
        self.ran = set()
        self._snap = (COUNTER.target, COUNTER.other_total())
        self.progress = PROGRESS

    # -- helpers --
    def _log(self, line):
        if self.progress is not None:
            self.progress.write(line + "\n")
            self.progress.flush()

    def _set(self, test_id, outcome, err=None, test=None):
        prev = self.outcomes.get(test_id)
        if prev is None or self.ORDER[outcome] > self.ORDER[prev]:
            self.outcomes[test_id] = outcome
        if err is not None:
            try:
                text = self._exc_info_to_string(err, test)
            except Exception:  # pragma: no cover - paranoia
                text = "".join(traceback.format_exception(*err))
            old = self.tracebacks.get(test_id, "")
            self.tracebacks[test_id] = (old + text)[-4000:]

    # -- unittest protocol --
    def startTest(self, test):
        # Loops are attributed to a test if they were constructed since the
        # previous test stopped, not since startTest: IsolatedAsyncioTestCase
        # (3.10) creates its loop in run() before calling startTest, and
        # setUpClass also runs before it.
        if self._snap is None:
            self._snap = (COUNTER.target, COUNTER.other_total())
        self._log("start " + test.id())
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        tid = test.id()
        if self._snap is not None and COUNTER.target > self._snap[0]:
            self.bound.add(tid)
        self._snap = (COUNTER.target, COUNTER.other_total())
        outcome = self.outcomes.get(tid)
        if outcome is None:
            # e.g. a test whose subtests all passed and no addSuccess? never
            # happens in CPython, but do not lose the test.
            self.outcomes[tid] = outcome = "pass"
        if outcome != "skip":
            self.ran.add(tid)
        self._log("end %s %s" % (tid, outcome))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._set(test.id(), "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._set(test.id(), "fail", err, test)

    def addError(self, test, err):
        super().addError(test, err)
        tid = test.id()
        self._set(tid, "error", err, test)
        if isinstance(test, unittest.suite._ErrorHolder):
            # setUpClass / setUpModule / tearDown* errors have no
            # startTest/stopTest
            self._log("end %s error" % tid)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._set(test.id(), "skip")
        if isinstance(test, unittest.suite._ErrorHolder):
            self._log("end %s skip" % test.id())

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._set(test.id(), "pass")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._set(test.id(), "fail")
        self.tracebacks[test.id()] = "unexpected success"

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            outcome = ("fail" if issubclass(err[0], test.failureException)
                       else "error")
            self._set(test.id(), outcome, err, subtest)


PROGRESS = None


def counts_of(outcomes):
    c = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    key = {"pass": "passed", "fail": "failed", "error": "errors",
           "skip": "skipped"}
    for outcome in outcomes.values():
        c[key[outcome]] += 1
    return c


def emit(result):
    sys.stdout.flush()
    sys.stderr.flush()
    sys.stdout.write("\n" + MARKER + json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()


def main():
    global PROGRESS
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", required=True)
    ap.add_argument("--loop", choices=("stock", "pyloop"), required=True)
    ap.add_argument("--backend", default="data_bridge.pyloop")
    ap.add_argument("--progress")
    ap.add_argument("--hang-dump", type=float, default=0.0)
    ap.add_argument("--verbosity", type=int, default=2)
    ap.add_argument("--only", action="append", default=[], metavar="TEST_ID",
                    help="run just this test (repeatable)")
    ap.add_argument("--not-run", action="append", default=[],
                    metavar="TEST_ID",
                    help="skip this test instead of running it (repeatable)")
    args = ap.parse_args()

    faulthandler.enable(all_threads=True)
    if args.hang_dump > 0:
        faulthandler.dump_traceback_later(args.hang_dump, exit=False)
    if args.progress:
        PROGRESS = open(args.progress, "a", buffering=1)

    t0 = time.monotonic()
    result = {"module": args.module, "loop": args.loop, "state": "ok",
              "python": sys.version.split()[0], "notes": [],
              "counts": counts_of({}), "tests": {}, "failures": {},
              "target_loops": 0, "other_loops": {}, "bound_tests": 0,
              "ran_tests": 0, "patched": [], "rebound": None}

    import asyncio
    import asyncio.unix_events

    # -- choose the loop under test --
    if args.loop == "stock":
        target = asyncio.unix_events.SelectorEventLoop
        policy_cls = None
        factory = asyncio.unix_events.SelectorEventLoop
        result["backend"] = "asyncio"
    else:
        result["backend"] = args.backend
        try:
            backend = importlib.import_module(args.backend)
            target = backend.PyLoop
            policy_cls = backend.EventLoopPolicy
            factory = backend.new_event_loop
        except Exception:
            result["state"] = "import-error"
            result["error"] = traceback.format_exc()[-4000:]
            emit(result)
            os._exit(0)
        if not issubclass(target, asyncio.SelectorEventLoop):
            result["notes"].append("%s is not a subclass of "
                                   "asyncio.SelectorEventLoop" % qualname(target))
        # sanity: the factory and the policy hand out the class under test
        try:
            for what, make in (("new_event_loop()", factory),
                               ("EventLoopPolicy().new_event_loop()",
                                lambda: policy_cls().new_event_loop())):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    loop = make()
                try:
                    if not isinstance(loop, target):
                        result["notes"].append(
                            "%s returned %s, not %s" % (
                                what, qualname(type(loop)), qualname(target)))
                finally:
                    loop.close()
        except Exception:
            result["state"] = "sanity-error"
            result["error"] = traceback.format_exc()[-4000:]
            emit(result)
            os._exit(0)
    result["target_class"] = qualname(target)

    if policy_cls is not None:
        result["patched"] = patch_asyncio(target, policy_cls)
    result["notes"].extend(install_counters(target))

    # -- import the module (after patching) --
    modname = "test.test_asyncio." + args.module
    try:
        mod = importlib.import_module(modname)
    except unittest.SkipTest as exc:
        result["state"] = "ok"
        result["notes"].append("module skipped: %s" % exc)
        result["tests"] = {modname: "skip"}
        result["counts"] = counts_of(result["tests"])
        emit(result)
        os._exit(0)
    except Exception:
        result["state"] = "import-error"
        result["error"] = traceback.format_exc()[-4000:]
        emit(result)
        os._exit(0)

    result["rebound"] = rebind_selector_classes(mod, PREFIX[args.loop], factory)

    if args.only:
        result["only"] = args.only
        suite = select_tests(mod, args.only, args.loop)
    else:
        suite = unittest.defaultTestLoader.loadTestsFromModule(mod)
    if args.not_run:
        result["not_run"] = skip_not_run(suite, set(args.not_run))
    runner = unittest.TextTestRunner(stream=sys.stderr,
                                     verbosity=args.verbosity,
                                     resultclass=Recorder)
    res = runner.run(suite)

    import asyncio.events
    pol = asyncio.events._event_loop_policy
    result["policy_at_end"] = qualname(type(pol)) if pol is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        result["default_policy_at_end"] = qualname(
            asyncio.unix_events.__dict__.get("_DefaultEventLoopPolicy")
            or asyncio.DefaultEventLoopPolicy)
    result["tests"] = res.outcomes
    result["counts"] = counts_of(res.outcomes)
    result["failures"] = {
        tid: {"outcome": res.outcomes[tid],
              "tb": res.tracebacks.get(tid, "")}
        for tid in res.outcomes if res.outcomes[tid] in ("fail", "error")}
    result["target_loops"] = COUNTER.target
    result["other_loops"] = COUNTER.other
    result["stray_selector_loops"] = COUNTER.stray
    result["bound_tests"] = len(res.bound & res.ran)
    result["ran_tests"] = len(res.ran)
    result["duration"] = round(time.monotonic() - t0, 2)
    faulthandler.cancel_dump_traceback_later()
    emit(result)
    # Do not wait for leaked non-daemon threads or atexit hooks: the result
    # is out, and a hang at interpreter exit must not turn into a timeout.
    os._exit(0)


if __name__ == "__main__":
    main()
