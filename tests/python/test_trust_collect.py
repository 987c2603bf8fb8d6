"""A PyLoop dropped without close() is collected, like asyncio's loops.

asyncio's BaseEventLoop.__del__ warns "unclosed event loop" (ResourceWarning)
and closes the loop, releasing its self-pipe and selector fds. A loop the C
engine keeps alive through a reference cycle the GC cannot see would keep its
fds forever. The loops are made in a child process so that a leak does not
spend this process's fds.
"""

import json
import os
import subprocess
import sys
import textwrap
import unittest

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


@base.both_loops
class _UnclosedLoopCollected:

    LOOPS = 100

    def setUp(self):
        if not os.path.isdir("/proc/self/fd"):
            raise unittest.SkipTest("counts open fds through /proc/self/fd")
        super().setUp()

    def test_dropped_loops_are_collected_warned_and_release_their_fds(self):
        result, proc = run_child(self, r'''
            import os, warnings
            def open_fds():
                return len(os.listdir("/proc/self/fd"))
            # Whatever the first loop sets up lazily stays out of the count.
            warm = new_loop()
            warm.close()
            del warm
            gc.collect()
            before = open_fds()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                refs = []
                # One collection, in allocation order: an automatic one in
                # the middle can finalize an asyncio loop's self-pipe
                # sockets before the loop, and its __del__ then fails to
                # close it (stock asyncio, not what is tested here).
                gc.disable()
                try:
                    for _ in range(%d):
                        loop = new_loop()
                        refs.append(weakref.ref(loop))
                        del loop
                finally:
                    gc.enable()
                gc.collect()
            report(alive=sum(ref() is not None for ref in refs),
                   unclosed_warnings=sum(
                       1 for w in caught
                       if issubclass(w.category, ResourceWarning)
                       and "unclosed event loop" in str(w.message)),
                   fds_leaked=open_fds() - before)
        ''' % self.LOOPS)
        assert_child(self, result, proc,
                     {"alive": 0, "unclosed_warnings": self.LOOPS,
                      "fds_leaked": 0})
