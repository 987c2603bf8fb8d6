"""PyLoop's engine entered again from inside one of its callbacks, or used
after it is gone: refused, or safe; never a crash or a callback run twice.

PyLoop only: _run_once(), _close_core() and the bare engine type
data_bridge.pyloop._pyloop.Loop are PyLoop's own. Each scenario runs in a
child process, since on a broken engine it corrupts memory.
"""

import collections
import json
import os
import subprocess
import sys
import textwrap

import base

CHILD_PRELUDE = r'''
import asyncio, gc, json, sys, weakref
VARIANT = sys.argv[1]

def new_loop():
    if VARIANT == "pyloop":
        import data_bridge.pyloop
        return data_bridge.pyloop.new_event_loop()
    return asyncio.SelectorEventLoop()

def report(**result):
    print("RESULT " + json.dumps(result, sort_keys=True), flush=True)
'''


def _tail(text, lines=40):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join((text or "").splitlines()[-lines:])


def run_child(testcase, body, timeout=base.TIMEOUT):
    """Run CHILD_PRELUDE + body with the variant's loop; return (result of
    the last report(), CompletedProcess). A hang fails the test."""
    env = dict(os.environ)
    if testcase.LOOP_NAME == "pyloop":
        package = base.pyloop_module(testcase)
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(package.__file__))))
        env["PYTHONPATH"] = os.pathsep.join(
            [root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    source = CHILD_PRELUDE + textwrap.dedent(body)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", source, testcase.LOOP_NAME], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        hung = "child hung (hang guard %g s); stderr:\n%s" % (
            timeout, _tail(exc.stderr))
    else:
        hung = None
    if hung:
        testcase.fail(hung)
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
    return result, proc


def assert_child(testcase, result, proc, expected):
    status = proc.returncode
    if status < 0:
        status = "%d (killed by signal %d)" % (status, -status)
    msg = ("child exit status %s\nstdout:\n%s\nstderr:\n%s"
           % (status, _tail(proc.stdout), _tail(proc.stderr)))
    testcase.assertEqual(result, expected, msg)
    testcase.assertEqual(proc.returncode, 0, msg)


REENTER = r'''
loop = new_loop()
events = []
handles = []  # kept, so that a handle run twice is seen, not freed
def reenter():
    events.append("reenter")
    try:
        loop.%s()
        events.append("returned")
    except RuntimeError:
        events.append("refused")
handles.append(loop.call_soon(events.append, "before"))
handles.append(loop.call_soon(reenter))
for i in range(5):
    handles.append(loop.call_soon(events.append, "after-%%d" %% i))
handles.append(loop.call_soon(loop.stop))
loop.run_forever()
report(events=events)
if not loop.is_closed():
    loop.close()
'''


@base.pyloop_only
class _Reentrancy:

    def _reenter(self, method):
        result, proc = run_child(self, REENTER % method)
        assert_child(self, sorted(result or {}), proc, ["events"])
        events = collections.Counter(result["events"])
        outcome = [e for e in ("returned", "refused") if events.pop(e, 0)]
        self.assertEqual(len(outcome), 1, result["events"])
        expected = collections.Counter(
            ["before", "reenter"] + ["after-%d" % i for i in range(5)])
        self.assertEqual(events, expected,
                         "every other callback runs exactly once: %r"
                         % (result["events"],))

    def test_run_once_inside_callback_is_refused_or_safe(self):
        self._reenter("_run_once")

    def test_close_core_inside_callback_is_refused_or_safe(self):
        self._reenter("_close_core")

    def test_handle_run_after_engine_deallocated_does_not_crash(self):
        result, proc = run_child(self, r'''
            from data_bridge.pyloop import _pyloop
            engine = _pyloop.Loop()
            ran = []
            soon = engine.call_soon(ran.append, "soon")
            later = engine.call_later(3600, ran.append, "later")
            del engine
            gc.collect()
            outcomes = []
            for handle in (soon, later):
                try:
                    handle._run()
                    outcomes.append("returned")
                except Exception as exc:
                    outcomes.append(type(exc).__name__)
                handle.cancel()
            report(finished=True, outcomes=outcomes, ran=ran)
        ''')
        assert_child(self, (result or {}).get("finished"), proc, True)
