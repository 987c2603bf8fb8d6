"""What CPython 3.14 asks of a loop, held to the running asyncio.

- call_soon_threadsafe's handle: where asyncio.events has _ThreadSafeHandle
  (3.14), a cancel() or cancelled() from another thread waits while the
  callback runs; elsewhere it returns at once. PyLoop follows the running
  asyncio, so each version's differential test compares like with like.
- create_task(coro, **kwargs) passes every keyword through (eager_start
  included) where asyncio's BaseEventLoop.create_task takes **kwargs.
- asyncio.get_event_loop() inside a running loop (in a coroutine and in a
  callback), and `python -m asyncio ps`/`pstree` (3.14's task
  introspection of another process) against a process running the loop.
- No deprecated asyncio API on the loop's own paths (3.14 deprecated
  asyncio.iscoroutinefunction, which debug mode's callback check called).
"""

import asyncio
import inspect
import os
import subprocess
import sys
import unittest
import warnings

import base
import child

THREADSAFE_HANDLE = hasattr(asyncio.events, "_ThreadSafeHandle")

# The threadsafe handle scenarios run in a child: a cancel() that waits on
# the wrong thing hangs, and a hang must fail the test, not the suite.
THREADSAFE_PRELUDE = child.PRELUDE + r'''
import threading
WAITS = hasattr(asyncio.events, "_ThreadSafeHandle")
GUARD = 10.0

def run_with_thread(loop, target):
    errors = []
    def guarded():
        try:
            target()
        except BaseException as exc:
            errors.append(repr(exc))
            loop.call_soon_threadsafe(loop.stop)
    loop.call_later(GUARD, loop.stop)  # hang guard
    thread = threading.Thread(target=guarded, daemon=True)
    loop.call_soon(thread.start)
    loop.run_forever()
    thread.join(GUARD)
    return errors
'''


@base.both_loops
class _ThreadSafeHandle:

    def run_scenario(self, body):
        result, proc = child.run_child(self, body, timeout=3 * base.TIMEOUT,
                                       prelude=THREADSAFE_PRELUDE)
        status = "child exit status %s\nstderr:\n%s" % (
            proc.returncode, child.tail(proc.stderr))
        self.assertEqual(proc.returncode, 0, status)
        self.assertIsNotNone(result, status)
        return result

    def test_repr_names_the_class(self):
        # asyncio's repr starts with the class name: "_ThreadSafeHandle"
        # where asyncio has it, "Handle" before; call_soon's stays "Handle".
        loop = self.loop
        handle = loop.call_soon_threadsafe(lambda: None)
        plain = loop.call_soon(lambda: None)
        self.run_briefly()
        self.assertEqual(repr(handle).split()[0],
                         "<_ThreadSafeHandle" if THREADSAFE_HANDLE else "<Handle")
        self.assertEqual(repr(plain).split()[0], "<Handle")

    @unittest.skipUnless(THREADSAFE_HANDLE, "this asyncio has no events._ThreadSafeHandle (3.14 has)")
    def test_isinstance_of_asyncios_class(self):
        # CPython's test_events asserts it from another thread, before that
        # thread stops the loop: False there hangs the test.
        handle = self.loop.call_soon_threadsafe(lambda: None)
        self.run_briefly()
        self.assertIsInstance(handle, asyncio.events._ThreadSafeHandle)
        self.assertIsInstance(handle, asyncio.Handle)

    def test_cancel_from_other_thread_while_running(self):
        # 3.14: the other thread's cancel() returns only once the callback
        # has returned (and then marks the handle cancelled). Before: at
        # once. The callback waits for cancel() to return: briefly where it
        # must not (a regression returns at once and is seen), up to the
        # hang guard where it must.
        result = self.run_scenario(r'''
            loop = new_loop()
            started, cancel_returned = threading.Event(), threading.Event()
            seen = {}
            def callback():
                started.set()
                seen["cancel_returned_while_running"] = cancel_returned.wait(0.5 if WAITS else GUARD)
                seen["callback_finished"] = True
            def thread():
                handle = loop.call_soon_threadsafe(callback)
                started.wait(GUARD)
                handle.cancel()
                cancel_returned.set()
                seen["finished_when_cancel_returned"] = seen.get("callback_finished", False)
                seen["cancelled"] = handle.cancelled()
                loop.call_soon_threadsafe(loop.stop)
            seen["errors"] = run_with_thread(loop, thread)
            loop.close()
            report(**seen)
        ''')
        self.assertEqual(result, {
            "cancel_returned_while_running": not THREADSAFE_HANDLE,
            "callback_finished": True,
            "finished_when_cancel_returned": THREADSAFE_HANDLE,
            "cancelled": True,
            "errors": [],
        })

    def test_cancelled_from_other_thread_while_running(self):
        # 3.14: cancelled() waits too, and then says False (it ran).
        result = self.run_scenario(r'''
            loop = new_loop()
            started, asked = threading.Event(), threading.Event()
            seen = {}
            def callback():
                started.set()
                seen["answered_while_running"] = asked.wait(0.5 if WAITS else GUARD)
            def thread():
                handle = loop.call_soon_threadsafe(callback)
                started.wait(GUARD)
                seen["cancelled"] = handle.cancelled()
                asked.set()
                loop.call_soon_threadsafe(loop.stop)
            seen["errors"] = run_with_thread(loop, thread)
            loop.close()
            report(**seen)
        ''')
        self.assertEqual(result, {
            "answered_while_running": not THREADSAFE_HANDLE,
            "cancelled": False,
            "errors": [],
        })

    def test_cancel_from_the_callback_itself(self):
        # The callback's own thread gets through (asyncio's lock is an
        # RLock): cancel() marks it, the callback runs to its end.
        result = self.run_scenario(r'''
            loop = new_loop()
            seen = {}
            handles = []
            def callback():
                handles[0].cancel()
                seen["cancelled_inside"] = handles[0].cancelled()
                seen["finished"] = True
                loop.stop()
            handles.append(loop.call_soon_threadsafe(callback))
            loop.call_later(GUARD, loop.stop)
            loop.run_forever()
            seen["cancelled_after"] = handles[0].cancelled()
            loop.close()
            report(**seen)
        ''')
        self.assertEqual(result, {"cancelled_inside": True, "finished": True,
                                  "cancelled_after": True})

    def test_cancel_from_other_thread_before_it_runs(self):
        # Cancelled before the loop gets to it: it never runs.
        result = self.run_scenario(r'''
            loop = new_loop()
            release = threading.Event()
            seen = {"ran": False}
            def callback():
                seen["ran"] = True
            def thread():
                handle = loop.call_soon_threadsafe(callback)
                handle.cancel()
                seen["cancelled"] = handle.cancelled()
                release.set()
                loop.call_soon_threadsafe(loop.stop)
            # The loop is held in a callback, queued before the thread
            # starts (so before its callback), until the thread has cancelled.
            loop.call_soon(lambda: loop.call_soon(release.wait, GUARD))
            seen["errors"] = run_with_thread(loop, thread)
            loop.close()
            report(**seen)
        ''')
        self.assertEqual(result, {"ran": False, "cancelled": True, "errors": []})

    def test_callback_exception_reaches_the_handler(self):
        # The locked run reports as Handle._run does, with the handle.
        loop = self.loop
        errors = []
        loop.set_exception_handler(lambda loop, context: errors.append(context))

        def boom():
            raise ZeroDivisionError

        handle = loop.call_soon_threadsafe(boom)
        self.run_briefly()
        self.assertEqual(len(errors), 1)
        self.assertIsInstance(errors[0]["exception"], ZeroDivisionError)
        self.assertIs(errors[0]["handle"], handle)
        self.assertFalse(handle.cancelled())


@base.both_loops
class _NoDeprecatedAsyncioCalls:

    def test_debug_mode_callback_checks_do_not_warn(self):
        # 3.14 deprecated asyncio.iscoroutinefunction; the loop's own
        # debug-mode check of a callback must not call it (asyncio's uses
        # the private _iscoroutinefunction).
        loop = self.loop
        loop.set_debug(True)
        ran = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loop.call_soon(ran.append, 1)
            loop.call_soon_threadsafe(ran.append, 2)
            loop.call_later(0, ran.append, 3)
            self.run_coro(asyncio.sleep(0))
            self.run_briefly()
        self.assertEqual(sorted(ran), [1, 2, 3])
        self.assertEqual([str(w.message) for w in caught
                          if issubclass(w.category, DeprecationWarning)], [])


def create_task_takes_kwargs():
    parameters = inspect.signature(asyncio.BaseEventLoop.create_task).parameters
    return any(p.kind is p.VAR_KEYWORD for p in parameters.values())


@base.both_loops
class _CreateTaskKeywords:

    def setUp(self):
        if not create_task_takes_kwargs():
            self.skipTest("this asyncio's create_task takes no **kwargs "
                          "(3.13.3+ and 3.14 do)")
        super().setUp()

    def test_eager_start_runs_to_the_first_suspension(self):
        loop = self.loop
        steps = []

        async def main():
            async def coro():
                steps.append("started")
                await asyncio.sleep(0)
                steps.append("resumed")
                return 7

            task = loop.create_task(coro(), eager_start=True, name="eager")
            steps.append("create_task returned")
            self.assertEqual(task.get_name(), "eager")
            return await task

        self.assertEqual(self.run_coro(main()), 7)
        self.assertEqual(steps, ["started", "create_task returned", "resumed"])

    def test_task_factory_gets_every_keyword(self):
        # What reaches the factory is what stock asyncio's create_task hands
        # it: 3.14 passes name= through, 3.13.3+ keeps it and calls
        # set_name() on the factory's task. Either way eager_start= gets
        # there and the task has the name.
        def run(loop):
            seen = []

            def factory(loop, coro, **kwargs):
                seen.append(sorted(kwargs))
                return asyncio.Task(coro, loop=loop, **kwargs)

            loop.set_task_factory(factory)

            async def nothing():
                return 1

            async def main():
                task = loop.create_task(nothing(), name="n", eager_start=False)
                return await task, task.get_name()

            self.assertEqual(loop.run_until_complete(asyncio.wait_for(main(), base.TIMEOUT)), (1, "n"))
            return seen

        stock = asyncio.SelectorEventLoop()
        try:
            expected = run(stock)
        finally:
            stock.close()
        self.assertIn("eager_start", expected[-1])
        self.assertEqual(run(self.loop), expected)


@base.both_loops
class _EagerTaskFactory:

    def setUp(self):
        if not hasattr(asyncio, "eager_task_factory"):
            self.skipTest("asyncio.eager_task_factory is new in 3.12")
        super().setUp()

    def test_eager_task_factory_starts_the_task_in_create_task(self):
        loop = self.loop
        loop.set_task_factory(asyncio.eager_task_factory)
        steps = []

        async def done_at_once():
            steps.append("ran")
            return "done"

        async def main():
            task = loop.create_task(done_at_once())
            steps.append("create_task returned, done=%s" % task.done())
            return await task

        self.assertEqual(self.run_coro(main()), "done")
        self.assertEqual(steps, ["ran", "create_task returned, done=True"])


@base.both_loops
class _GetEventLoop:

    def test_inside_a_running_loop(self):
        loop = self.loop

        async def main():
            return asyncio.get_event_loop(), asyncio.get_running_loop()

        got, running = self.run_coro(main())
        self.assertIs(got, loop)
        self.assertIs(running, loop)

    def test_from_a_callback(self):
        loop = self.loop
        fut = loop.create_future()
        loop.call_soon(lambda: fut.set_result(asyncio.get_event_loop()))
        self.assertIs(self.run_coro(fut), loop)


PS_CHILD = r'''
import asyncio, sys
VARIANT = sys.argv[1]

def new_loop():
    if VARIANT == "pyloop":
        import data_bridge.pyloop
        return data_bridge.pyloop.new_event_loop()
    return asyncio.SelectorEventLoop()

async def leaf(event):
    await event.wait()

async def branch(event):
    async with asyncio.TaskGroup() as group:
        group.create_task(leaf(event), name="leaf-1")
        group.create_task(leaf(event), name="leaf-2")

async def main():
    event = asyncio.Event()
    task = asyncio.create_task(branch(event), name="branch")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    event.set()
    await task

loop = new_loop()
try:
    loop.run_until_complete(main())
finally:
    loop.close()
'''


@base.both_loops
class _TaskIntrospection:

    def setUp(self):
        if sys.version_info < (3, 14):
            self.skipTest("python -m asyncio ps/pstree is new in 3.14")
        try:
            from asyncio import tools  # noqa: F401
            import _remote_debugging  # noqa: F401
        except ImportError as exc:
            self.skipTest("no remote task introspection here: %s" % exc)
        super().setUp()

    def introspect(self, command):
        env = dict(os.environ)
        if self.LOOP_NAME == "pyloop":
            package = base.pyloop_module(self)
            root = os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.abspath(package.__file__))))
            env["PYTHONPATH"] = os.pathsep.join(
                [root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        proc = subprocess.Popen([sys.executable, "-c", PS_CHILD, self.LOOP_NAME],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env,
                                universal_newlines=True)
        try:
            self.assertEqual(proc.stdout.readline(), "READY\n")
            tool = subprocess.run([sys.executable, "-m", "asyncio", command, str(proc.pid)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True, timeout=base.TIMEOUT)
        finally:
            proc.stdin.write("\n")
            proc.stdin.flush()
            out, err = proc.communicate(timeout=base.TIMEOUT)
        self.assertEqual(proc.returncode, 0, err)
        if tool.returncode != 0 and "permission" in (tool.stderr or "").lower():
            self.skipTest("no permission to read another process: %s"
                          % tool.stderr.strip().splitlines()[-1])
        self.assertEqual(tool.returncode, 0, tool.stderr)
        return tool.stdout

    def test_ps_lists_the_tasks(self):
        out = self.introspect("ps")
        for name in ("branch", "leaf-1", "leaf-2"):
            self.assertIn(name, out)

    def test_pstree_shows_who_awaits_whom(self):
        out = self.introspect("pstree")
        self.assertIn("branch", out)
        lines = out.splitlines()
        branch = next(i for i, line in enumerate(lines) if "branch" in line)
        leaves = [i for i, line in enumerate(lines) if "leaf-" in line]
        self.assertEqual(len(leaves), 2, out)
        self.assertTrue(all(i > branch for i in leaves), out)


if __name__ == "__main__":
    unittest.main()
