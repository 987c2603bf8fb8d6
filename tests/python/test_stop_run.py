"""stop(), run_forever(), run_until_complete(), close() state machine."""

import asyncio

import base


@base.both_loops
class _StopRun:

    def test_stop_inside_callback(self):
        ran = []
        self.loop.call_soon(ran.append, 1)
        self.loop.call_soon(self.loop.stop)
        self.assertFalse(self.loop.is_running())
        self.run_forever_guarded()
        self.assertFalse(self.loop.is_running())
        self.assertEqual(ran, [1])
        # Can be run again.
        self.loop.call_soon(ran.append, 2)
        self.loop.call_soon(self.loop.stop)
        self.run_forever_guarded()
        self.assertEqual(ran, [1, 2])

    def test_stop_from_timer(self):
        ran = []
        h = self.loop.call_later(0.001, self.loop.stop)
        self.loop.call_at(h.when() - 0.0005, ran.append, 1)
        self.run_forever_guarded()
        self.assertEqual(ran, [1])
        self.assertFalse(self.loop.is_running())

    def test_stop_before_run_forever(self):
        # run_forever() after stop() runs (at least) the callbacks already
        # queued, then returns.
        ran = []
        self.loop.stop()
        self.loop.call_soon(ran.append, 1)
        self.loop.call_soon(ran.append, 2)
        self.run_forever_guarded()
        self.assertEqual(ran[:2], [1, 2])
        self.assertFalse(self.loop.is_running())
        # The stop request was consumed: a new run needs a new stop.
        self.loop.call_soon(ran.append, 3)
        self.loop.call_soon(self.loop.stop)
        self.run_forever_guarded()
        self.assertEqual(ran, [1, 2, 3])

    def test_stop_before_run_forever_runs_exactly_one_iteration(self):
        self.require_asyncio_iteration_semantics()
        ran = []

        def first():
            ran.append("first")
            self.loop.call_soon(ran.append, "next iteration")

        self.loop.stop()
        self.loop.call_soon(first)
        self.run_forever_guarded()
        self.assertEqual(ran, ["first"])
        self.run_briefly()
        self.assertEqual(ran, ["first", "next iteration"])

    def test_stop_called_twice(self):
        ran = []
        self.loop.call_soon(self.loop.stop)
        self.loop.call_soon(self.loop.stop)
        self.run_forever_guarded()
        self.loop.call_soon(ran.append, 1)
        self.loop.call_soon(self.loop.stop)
        self.run_forever_guarded()
        self.assertEqual(ran, [1])

    def test_run_until_complete_while_running(self):
        fut = self.loop.create_future()
        caught = []

        def cb():
            try:
                self.loop.run_until_complete(fut)
            except RuntimeError as e:
                caught.append(str(e))
            fut.set_result("ok")

        self.loop.call_soon(cb)
        self.assertEqual(self.run_coro(fut), "ok")
        self.assertEqual(caught, ["This event loop is already running"])

    def test_run_forever_while_running(self):
        caught = []

        def cb():
            try:
                self.loop.run_forever()
            except RuntimeError as e:
                caught.append(str(e))
            self.loop.stop()

        self.loop.call_soon(cb)
        self.run_forever_guarded()
        self.assertEqual(caught, ["This event loop is already running"])

    def test_run_until_complete_result_and_exception(self):
        fut = self.loop.create_future()
        self.loop.call_soon(fut.set_result, 42)
        self.assertEqual(self.loop.run_until_complete(fut), 42)

        fut = self.loop.create_future()
        self.loop.call_soon(fut.set_exception, ValueError("boom"))
        with self.assertRaisesRegex(ValueError, "boom"):
            self.loop.run_until_complete(fut)

        async def coro(x):
            await asyncio.sleep(0)
            return x * 2

        self.assertEqual(self.loop.run_until_complete(coro(21)), 42)

    def test_run_until_complete_stopped_early(self):
        fut = self.loop.create_future()
        self.loop.call_soon(self.loop.stop)
        with self.assertRaisesRegex(RuntimeError,
                                    "Event loop stopped before Future "
                                    "completed"):
            self.loop.run_until_complete(fut)
        fut.cancel()

    def test_get_running_loop_inside_callbacks(self):
        seen = []

        def cb():
            seen.append(asyncio.get_running_loop())
            seen.append(self.loop.is_running())

        with self.assertRaises(RuntimeError):
            asyncio.get_running_loop()
        self.loop.call_soon(cb)
        self.loop.call_later(0, cb)
        fut = self.loop.create_future()
        self.loop.call_later(0.001, fut.set_result, None)
        self.run_coro(fut)
        self.assertEqual(seen, [self.loop, True, self.loop, True])
        with self.assertRaises(RuntimeError):
            asyncio.get_running_loop()

    def test_get_running_loop_inside_coroutine(self):
        async def main():
            return asyncio.get_running_loop(), asyncio.get_event_loop()

        running, current = self.run_coro(main())
        self.assertIs(running, self.loop)
        self.assertIs(current, self.loop)

    def test_other_loop_cannot_run_inside_running_loop(self):
        other = asyncio.SelectorEventLoop()
        caught = []

        def cb():
            try:
                other.run_until_complete(other.create_future())
            except RuntimeError as e:
                caught.append(str(e))
            self.loop.stop()

        try:
            self.loop.call_soon(cb)
            self.run_forever_guarded()
        finally:
            other.close()
        self.assertEqual(caught, ["Cannot run the event loop while another "
                                  "loop is running"])

    # ---- closed loops ----------------------------------------------------

    def test_run_closed_loop(self):
        self.loop.close()
        self.assertTrue(self.loop.is_closed())
        with self.assertRaisesRegex(RuntimeError, "^Event loop is closed$"):
            self.loop.run_forever()
        fut = self.loop.create_future()
        with self.assertRaisesRegex(RuntimeError, "^Event loop is closed$"):
            self.loop.run_until_complete(fut)

        async def coro():
            pass

        c = coro()
        try:
            with self.assertRaisesRegex(RuntimeError,
                                        "^Event loop is closed$"):
                self.loop.run_until_complete(c)
        finally:
            c.close()

    def test_schedule_on_closed_loop(self):
        self.loop.close()

        def cb():
            pass

        for name, call in [
                ("call_soon", lambda: self.loop.call_soon(cb)),
                ("call_later", lambda: self.loop.call_later(0, cb)),
                ("call_at", lambda: self.loop.call_at(self.loop.time(), cb)),
                ("call_soon_threadsafe",
                 lambda: self.loop.call_soon_threadsafe(cb))]:
            with self.subTest(name):
                with self.assertRaisesRegex(RuntimeError,
                                            "^Event loop is closed$"):
                    call()

    def test_close_twice(self):
        self.loop.close()
        self.loop.close()
        self.assertTrue(self.loop.is_closed())

    def test_close_with_pending_callbacks(self):
        ran = []
        self.loop.call_soon(ran.append, 1)
        self.loop.call_later(3600, ran.append, 2)
        self.loop.close()
        self.assertTrue(self.loop.is_closed())
        self.assertEqual(ran, [])

    def test_close_while_running(self):
        caught = []

        def cb():
            try:
                self.loop.close()
            except RuntimeError as e:
                caught.append(str(e))
            self.loop.stop()

        self.loop.call_soon(cb)
        self.run_forever_guarded()
        self.assertEqual(caught, ["Cannot close a running event loop"])
        self.assertFalse(self.loop.is_closed())
        # Still usable.
        self.run_briefly()

    def test_state_flags(self):
        states = []
        self.assertFalse(self.loop.is_running())
        self.assertFalse(self.loop.is_closed())
        self.loop.call_soon(lambda: states.append(
            (self.loop.is_running(), self.loop.is_closed())))
        self.run_briefly()
        self.assertEqual(states, [(True, False)])
        self.assertFalse(self.loop.is_running())
