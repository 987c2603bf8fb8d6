"""Shared scaffolding for the data_bridge.pyloop Python test suite.

Every test body is written once, in a mixin class whose name starts with an
underscore (``class _CallbackOrder:``), and decorated with ``@both_loops``.
The decorator generates one ``unittest.TestCase`` per selected loop variant
in the mixin's module: ``CallbackOrder_asyncio`` and ``CallbackOrder_pyloop``.

Variants
    asyncio  ->  asyncio.SelectorEventLoop()
    pyloop   ->  data_bridge.pyloop.new_event_loop()

The environment variable PYLOOP_TEST_LOOPS (comma separated, default
"asyncio,pyloop") selects which variants are generated.  If "pyloop" is
selected and data_bridge.pyloop cannot be imported, every pyloop test FAILS
with the import error (it is never skipped).

Run:  python3 -m unittest discover -s tests/python -t tests/python -v

The intended behavioural differences between PyLoop and asyncio live in ONE
place: the class attributes of AsyncioTestCase / PyLoopTestCase below.
Tests consult those attributes instead of checking the variant name.
"""

import asyncio
import contextlib
import functools
import gc
import os
import sys
import traceback
import unittest

__all__ = [
    "TIMEOUT",
    "both_loops",
    "pyloop_only",
    "selected_loops",
    "pyloop_module",
]

# Hang guard for every wait.  Never used as a timing threshold: a test that
# reaches it has hung.
TIMEOUT = 10.0

ALL_LOOPS = ("asyncio", "pyloop")
PHASES = tuple(__import__("pathlib").Path(__file__).resolve().parents[2].joinpath("crates", "data-bridge-pyloop", "PHASES").read_text().split())  # the one list


def selected_loops():
    raw = os.environ.get("PYLOOP_TEST_LOOPS", "asyncio,pyloop")
    names = []
    for name in raw.split(","):
        name = name.strip().lower()
        if name and name not in names:
            names.append(name)
    unknown = [n for n in names if n not in ALL_LOOPS]
    if unknown:
        # Raised at import time: discovery reports it as a failed module.
        raise RuntimeError(
            "PYLOOP_TEST_LOOPS=%r names unknown loop variant(s) %r; "
            "known: %s" % (raw, unknown, ", ".join(ALL_LOOPS)))
    return tuple(names)


SELECTED = selected_loops()

# --------------------------------------------------------------------------
# Importing the package under test.  The error is kept and re-raised (as a
# test failure) by every pyloop test; it never turns into a skip.

_pyloop = None
_pyloop_error = None  # formatted traceback of the import failure

if "pyloop" in SELECTED:
    try:
        import data_bridge.pyloop as _pyloop  # noqa: E402
    except BaseException as exc:  # ImportError, or a crash in module init
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        _pyloop = None
        _pyloop_error = "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__))


def pyloop_module(testcase=None):
    """Return data_bridge.pyloop, or fail `testcase` with the import error."""
    if _pyloop is not None:
        return _pyloop
    msg = ("PYLOOP_TEST_LOOPS selects 'pyloop' but data_bridge.pyloop "
           "cannot be imported (check PYTHONPATH / the build):\n%s"
           % (_pyloop_error or "module was not imported"))
    if testcase is not None:
        testcase.fail(msg)
    raise ImportError(msg)


_build_info = None


def pyloop_build_info():
    global _build_info
    if _build_info is None:
        _build_info = dict(pyloop_module().build_info())
    return _build_info


class _StubLoop:
    """Just enough of a loop to build an asyncio.Handle for reference."""

    def __init__(self, debug):
        self._debug = debug

    def get_debug(self):
        return self._debug


def asyncio_shows_args_in_repr(debug=False):
    """Does this CPython's asyncio put callback arguments in Handle reprs?

    CPython 3.13 stopped showing arguments unless the loop is in debug mode;
    older versions always show them.  Probed, not version-sniffed, so patch
    releases that backport the change are handled too.
    """
    def probe():
        pass
    h = asyncio.Handle(probe, (12345,), _StubLoop(debug))
    return "12345" in repr(h)


# --------------------------------------------------------------------------
# The TestCase bases.

class LoopTestCase(unittest.TestCase):
    """Common machinery; subclasses define LOOP_NAME and new_loop()."""

    LOOP_NAME = None

    # ---- Intended differences between the loops (the one place) ----------
    # call_later/call_at reject a NaN delay/when with ValueError.
    # (asyncio accepts NaN.)
    NAN_DELAY_REJECTED = None
    # Timers with exactly equal deadlines run in scheduling order.
    # (asyncio keeps its timers in a heapq, which is not stable: timers that
    # share one `when` run in heap order, not in scheduling order.)
    TIMER_TIES_FIFO = None
    # Handle.get_context() exists.  (asyncio added it in 3.12.)
    HANDLE_HAS_GET_CONTEXT = None
    # TLS is asyncio 3.11+'s sslproto (SSLProtocolState, the one issue 17
    # takes as the reference on every interpreter).  (3.10's asyncio has
    # the older one, _SSLPipe; PyLoop's C TLS follows 3.11's there too.)
    NEW_SSLPROTO = None
    # ----------------------------------------------------------------------

    def new_loop(self):
        raise NotImplementedError

    def phase(self):
        """The pyloop build phase, or None for the asyncio variant."""
        return None

    def require_asyncio_iteration_semantics(self):
        """Skip unless callbacks scheduled during an iteration are
        guaranteed to run in the next iteration (asyncio semantics)."""
        phase = self.phase()
        if phase is not None and phase != "native":
            self.skipTest(
                "pyloop phase %r batches callbacks differently from asyncio "
                "on purpose (baseline runs callbacks queued during an "
                "iteration in the same iteration, 3.1.x runs up to "
                "batch_limit per iteration including new ones); "
                "per-iteration semantics are only asserted in the "
                "'native' phase" % (phase,))

    # ---- lifecycle ---------------------------------------------------------

    def setUp(self):
        super().setUp()
        self._loop_errors = []
        self.loop = self.new_loop()
        self.loop.set_debug(False)
        self.loop.set_exception_handler(self._record_loop_error)
        asyncio.set_event_loop(self.loop)

    def tearDown(self):
        loop = self.loop
        leftovers = []
        try:
            if not loop.is_closed() and not loop.is_running():
                leftovers = self._cancel_leftover_tasks()
                if getattr(loop, "_default_executor", None) is not None:
                    loop.run_until_complete(asyncio.wait_for(
                        loop.shutdown_default_executor(), TIMEOUT))
                loop.close()
        finally:
            asyncio.set_event_loop(None)
        # Objects that report through the loop when collected ("Task was
        # destroyed but it is pending!", "exception was never retrieved")
        # are attributed to the test that leaked them.
        gc.collect()
        errors = self.take_loop_errors()
        super().tearDown()
        problems = []
        if leftovers:
            problems.append("tasks still pending at the end of the test:\n  "
                            + "\n  ".join(leftovers))
        if errors:
            problems.append("unexpected exception handler calls:\n"
                            + "\n".join(self._format_context(c)
                                        for c in errors))
        if problems:
            self.fail("\n".join(problems))

    def _cancel_leftover_tasks(self):
        loop = self.loop
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        if not pending:
            return []
        described = [repr(t) for t in pending]
        for t in pending:
            t.cancel()
        loop.run_until_complete(asyncio.wait_for(
            asyncio.gather(*pending, return_exceptions=True), TIMEOUT))
        return described

    # ---- exception handler bookkeeping -------------------------------------

    def _record_loop_error(self, loop, context):
        self._loop_errors.append(context)

    def take_loop_errors(self):
        """Return (and forget) the exception handler calls seen so far."""
        errors, self._loop_errors = self._loop_errors, []
        return errors

    @staticmethod
    def _format_context(context):
        lines = ["  message: %r" % (context.get("message"),)]
        for key, value in context.items():
            if key == "message":
                continue
            lines.append("  %s: %r" % (key, value))
        exc = context.get("exception")
        if exc is not None:
            lines.append("".join(traceback.format_exception(
                type(exc), exc, exc.__traceback__)))
        return "\n".join(lines)

    # ---- running helpers -------------------------------------------------

    def run_coro(self, coro, timeout=TIMEOUT):
        """run_until_complete with a hang guard."""
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    def run_forever_guarded(self, timeout=TIMEOUT):
        """run_forever until something calls loop.stop(); fail on a hang."""
        hung = []

        def guard():
            hung.append(True)
            self.loop.stop()

        h = self.loop.call_later(timeout, guard)
        try:
            self.loop.run_forever()
        finally:
            h.cancel()
        if hung:
            self.fail("loop did not stop within %g s (hang guard)"
                      % timeout)

    def run_briefly(self):
        """Run the loop until a callback queued now has run."""
        self.loop.call_soon(self.loop.stop)
        self.run_forever_guarded()

    def assertTimersRanInDeadlineOrder(self, ran, deadlines):
        """`ran` lists timer ids in execution order; `deadlines` maps id ->
        (when, scheduling index).  Deadlines must be non-decreasing; equal
        deadlines keep scheduling order where TIMER_TIES_FIFO."""
        self.assertCountEqual(ran, list(deadlines))
        whens = [deadlines[i][0] for i in ran]
        self.assertEqual(whens, sorted(whens),
                         "timers did not run in deadline order")
        if self.TIMER_TIES_FIFO:
            keys = [deadlines[i] for i in ran]
            self.assertEqual(keys, sorted(keys),
                             "timers with equal deadlines did not run in "
                             "scheduling order")


class AsyncioTestCase(LoopTestCase):
    LOOP_NAME = "asyncio"

    NAN_DELAY_REJECTED = False
    TIMER_TIES_FIFO = False
    HANDLE_HAS_GET_CONTEXT = sys.version_info >= (3, 12)
    NEW_SSLPROTO = hasattr(asyncio.sslproto, "SSLProtocolState")
    # A signal landing just before the selector's wait can go unnoticed
    # until the next event (no wakeup fd unless add_signal_handler set one).
    ONE_SIGNAL_WAKES_BLOCKED_WAIT = False

    def new_loop(self):
        return asyncio.SelectorEventLoop()


class PyLoopTestCase(LoopTestCase):
    LOOP_NAME = "pyloop"

    NAN_DELAY_REJECTED = True
    TIMER_TIES_FIFO = True
    HANDLE_HAS_GET_CONTEXT = True
    ONE_SIGNAL_WAKES_BLOCKED_WAIT = True
    # the C TLS types, on every interpreter once they are complete
    NEW_SSLPROTO = _pyloop is not None and hasattr(_pyloop._pyloop, "SSLProtocol")

    def setUp(self):
        # Fail (not skip, not error) with the import error.
        self.pyloop = pyloop_module(self)
        super().setUp()
        self.assertIsInstance(self.loop, self.pyloop.PyLoop)

    def new_loop(self):
        return self.pyloop.new_event_loop()

    def phase(self):
        return pyloop_build_info()["phase"]


_BASES = {"asyncio": AsyncioTestCase, "pyloop": PyLoopTestCase}


def both_loops(mixin=None, *, loops=ALL_LOOPS):
    """Class decorator: generate `<Name>_<variant>` TestCases from mixin.

    The mixin is returned unchanged; as it is not a TestCase, discovery
    only collects the generated classes.
    """
    def decorate(mixin):
        if isinstance(mixin, type) and issubclass(mixin, unittest.TestCase):
            raise TypeError("%s must be a plain mixin, not a TestCase"
                            % mixin.__name__)
        module = sys.modules[mixin.__module__]
        stem = mixin.__name__.lstrip("_")
        for variant in loops:
            if variant not in SELECTED:
                continue
            name = "%s_%s" % (stem, variant)
            cls = type(name, (mixin, _BASES[variant]), {
                "__module__": mixin.__module__,
                "__qualname__": name,
                "__doc__": mixin.__doc__,
            })
            if hasattr(module, name):
                raise RuntimeError("duplicate generated test class %s" % name)
            setattr(module, name, cls)
        return mixin

    if mixin is not None:
        return decorate(mixin)
    return decorate


pyloop_only = functools.partial(both_loops, loops=("pyloop",))


@contextlib.contextmanager
def tempdir():
    import shutil
    import tempfile
    path = tempfile.mkdtemp(prefix="pyloop-test-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def next_round():
    """Yield to the loop so that it looks at I/O and timers before resuming.

    For a coroutine that waits for something in a loop (`while not done:
    await next_round()`). `asyncio.sleep(0)` is not enough in every build:
    the baseline phase drains its queue until it is empty, new callbacks
    included, so a coroutine that only sleep(0)s keeps one iteration going
    forever and the loop never polls. A timer that is due at once ends the
    drain in every build and blocks in none."""
    await asyncio.sleep(1e-9)
