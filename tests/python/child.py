"""Running a test body in a child process, on the variant's loop.

For the tests whose failure would be a crash, a hang or a leak of the test
process itself (tests/python/test_trust_*.py): the body runs after PRELUDE,
which defines new_loop() for the variant, report(**result), whose last
call the parent reads back, and outcome(call), what a call raised.
"""

import inspect
import json
import os
import subprocess
import sys
import textwrap

import base


def outcome(call):
    """None, or "Type: message" of what call() raised."""
    try:
        call()
        return None
    except Exception as exc:
        return "%s: %s" % (type(exc).__name__, exc)


PRELUDE = r'''
import asyncio, gc, json, sys, weakref
VARIANT = sys.argv[1]

def new_loop():
    if VARIANT == "pyloop":
        import data_bridge.pyloop
        return data_bridge.pyloop.new_event_loop()
    return asyncio.SelectorEventLoop()

def report(**result):
    print("RESULT " + json.dumps(result, sort_keys=True), flush=True)

''' + inspect.getsource(outcome)  # the one outcome(), here and in the child


def tail(text, lines=40):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join((text or "").splitlines()[-lines:])


def run_child(testcase, body, timeout=base.TIMEOUT, prelude=PRELUDE):
    """Run prelude + body with the variant's loop; return (result of the
    last report(), CompletedProcess). A hang fails the test."""
    env = dict(os.environ)
    if testcase.LOOP_NAME == "pyloop":
        package = base.pyloop_module(testcase)
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(package.__file__))))
        env["PYTHONPATH"] = os.pathsep.join(
            [root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    source = prelude + textwrap.dedent(body)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", source, testcase.LOOP_NAME], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        hung = "child hung (hang guard %g s); stderr:\n%s" % (
            timeout, tail(exc.stderr))
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
           % (status, tail(proc.stdout), tail(proc.stderr)))
    testcase.assertEqual(result, expected, msg)
    testcase.assertEqual(proc.returncode, 0, msg)
