"""Callbacks run in the contextvars.Context captured at scheduling time."""

import asyncio
import contextvars
import threading

import base

VAR = contextvars.ContextVar("pyloop_test_var", default="default")


@base.both_loops
class _Contexts:

    def _schedulers(self):
        loop = self.loop
        return {
            "call_soon": lambda cb, **kw: loop.call_soon(cb, **kw),
            "call_soon_threadsafe":
                lambda cb, **kw: loop.call_soon_threadsafe(cb, **kw),
            "call_later": lambda cb, **kw: loop.call_later(0, cb, **kw),
            "call_at": lambda cb, **kw: loop.call_at(loop.time(), cb, **kw),
        }

    def _run_all(self, n):
        loop = self.loop
        done = loop.create_future()
        self._pending = n
        self._done = done
        loop.run_until_complete(asyncio.wait_for(done, base.TIMEOUT))

    def _tick(self):
        self._pending -= 1
        if self._pending == 0:
            self._done.set_result(None)

    def test_captures_context_at_scheduling_time(self):
        for name, schedule in self._schedulers().items():
            with self.subTest(name):
                seen = []

                def cb():
                    seen.append(VAR.get())
                    self._tick()

                ctx = contextvars.copy_context()

                def do_schedule():
                    VAR.set("scheduled")
                    schedule(cb)
                    VAR.set("changed after scheduling")

                ctx.run(do_schedule)
                self.assertEqual(VAR.get(), "default")
                self._run_all(1)
                self.assertEqual(seen, ["scheduled"])
                self.assertEqual(ctx[VAR], "changed after scheduling")

    def test_explicit_context(self):
        for name, schedule in self._schedulers().items():
            with self.subTest(name):
                ctx = contextvars.Context()
                seen = []

                def cb():
                    seen.append(VAR.get())
                    VAR.set("set by " + name)
                    self._tick()

                ctx.run(VAR.set, "explicit")
                schedule(cb, context=ctx)
                self._run_all(1)
                self.assertEqual(seen, ["explicit"])
                # The callback ran *in* ctx, so its set() is visible there...
                self.assertEqual(ctx[VAR], "set by " + name)
                # ...and not in the caller's context.
                self.assertEqual(VAR.get(), "default")

    def test_set_in_callback_does_not_leak(self):
        for name, schedule in self._schedulers().items():
            with self.subTest(name):
                seen = []

                def setter():
                    VAR.set("leaked?")
                    seen.append(("setter", VAR.get()))
                    self._tick()

                def reader():
                    seen.append(("reader", VAR.get()))
                    self._tick()

                schedule(setter)
                schedule(reader)
                self._run_all(2)
                self.assertEqual(seen, [("setter", "leaked?"),
                                        ("reader", "default")])
                self.assertEqual(VAR.get(), "default")

    def test_same_context_shared_by_callbacks_passed_it(self):
        ctx = contextvars.copy_context()
        seen = []

        def first():
            VAR.set("from first")

        def second():
            seen.append(VAR.get())

        self.loop.call_soon(first, context=ctx)
        self.loop.call_soon(second, context=ctx)
        self.run_briefly()
        self.assertEqual(seen, ["from first"])

    def test_context_from_other_thread(self):
        seen = []
        errors = []

        def cb():
            seen.append(VAR.get())
            self.loop.stop()

        def thread_main():
            try:
                VAR.set("thread value")
                self.loop.call_soon_threadsafe(cb)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        # Run the thread from a loop callback so the loop is running.
        def start():
            t = threading.Thread(target=thread_main)
            t.start()
            threads.append(t)

        threads = []
        self.loop.call_soon(start)
        self.run_forever_guarded()
        for t in threads:
            t.join(base.TIMEOUT)
        self.assertEqual(errors, [])
        self.assertEqual(seen, ["thread value"])

    def test_get_context(self):
        if not self.HANDLE_HAS_GET_CONTEXT:
            self.skipTest("asyncio.Handle.get_context() is new in "
                          "Python 3.12")
        ctx = contextvars.Context()
        for name, schedule in self._schedulers().items():
            with self.subTest(name):
                h = schedule(lambda: None, context=ctx)
                self.assertIs(h.get_context(), ctx)
                h.cancel()
                self.assertIs(h.get_context(), ctx)

                # Implicit: a copy of the current context at scheduling time.
                outer = contextvars.copy_context()

                def do_schedule():
                    VAR.set("implicit")
                    return schedule(lambda: None)

                h = outer.run(do_schedule)
                got = h.get_context()
                self.assertIsInstance(got, contextvars.Context)
                self.assertIsNot(got, outer)
                self.assertEqual(got[VAR], "implicit")
                h.cancel()
        self.run_briefly()
