"""Exceptions raised by callbacks."""

import asyncio
import logging

import base


class _Boom(Exception):
    pass


@base.both_loops
class _CallbackExceptions:

    def _check_context(self, context, exc_type, handle):
        self.assertIn("message", context)
        self.assertTrue(context["message"].startswith("Exception in callback"),
                        context["message"])
        self.assertIsInstance(context["exception"], exc_type)
        self.assertIn("handle", context)
        self.assertIs(context["handle"], handle)

    def test_exception_in_call_soon_goes_to_handler(self):
        ran = []

        def bad():
            raise _Boom("call_soon")

        self.loop.call_soon(ran.append, 1)
        h = self.loop.call_soon(bad)
        self.loop.call_soon(ran.append, 2)
        self.run_briefly()
        self.assertEqual(ran, [1, 2])
        errors = self.take_loop_errors()
        self.assertEqual(len(errors), 1)
        self._check_context(errors[0], _Boom, h)
        self.assertEqual(str(errors[0]["exception"]), "call_soon")
        # The loop keeps working.
        self.run_briefly()

    def test_exception_in_timer_goes_to_handler(self):
        ran = []

        def bad(arg):
            raise _Boom(arg)

        h = self.loop.call_later(0, bad, "timer")
        fut = self.loop.create_future()
        self.loop.call_at(h.when() + 0.001, fut.set_result, "after")
        self.assertEqual(self.run_coro(fut), "after")
        errors = self.take_loop_errors()
        self.assertEqual(len(errors), 1)
        self._check_context(errors[0], _Boom, h)
        self.assertEqual(ran, [])

    def test_many_exceptions_loop_keeps_running(self):
        count = [0]

        def bad(i):
            count[0] += 1
            raise _Boom(i)

        for i in range(100):
            self.loop.call_soon(bad, i)
        fut = self.loop.create_future()
        self.loop.call_soon(fut.set_result, "done")
        self.assertEqual(self.run_coro(fut), "done")
        self.assertEqual(count[0], 100)
        errors = self.take_loop_errors()
        self.assertEqual([e["exception"].args[0] for e in errors],
                         list(range(100)))

    def test_default_exception_handler_logs(self):
        self.loop.set_exception_handler(None)
        self.assertIsNone(self.loop.get_exception_handler())

        def bad():
            raise _Boom("logged")

        with self.assertLogs("asyncio", logging.ERROR) as cm:
            self.loop.call_soon(bad)
            self.run_briefly()
        text = "\n".join(cm.output)
        self.assertIn("Exception in callback", text)
        self.assertIn("_Boom: logged", text)

    def test_exception_handler_that_raises(self):
        def handler(loop, context):
            raise RuntimeError("handler failed")

        self.loop.set_exception_handler(handler)
        self.assertIs(self.loop.get_exception_handler(), handler)
        ran = []

        def bad():
            raise _Boom()

        with self.assertLogs("asyncio", logging.ERROR) as cm:
            self.loop.call_soon(bad)
            self.loop.call_soon(ran.append, "after")
            self.run_briefly()
        self.assertEqual(ran, ["after"])
        self.assertIn("Unhandled error in exception handler",
                      "\n".join(cm.output))

    def test_call_exception_handler_direct(self):
        self.loop.call_exception_handler({"message": "custom"})
        self.assertEqual(self.take_loop_errors(), [{"message": "custom"}])

    # ---- KeyboardInterrupt / SystemExit --------------------------------

    def _raise_and_resume(self, exc_type, schedule_raiser):
        ran = []

        def raiser():
            ran.append("raiser")
            raise exc_type("stop it")

        self.loop.call_soon(ran.append, "before")
        schedule_raiser(raiser)
        self.loop.call_soon(ran.append, "after1")
        self.loop.call_soon(ran.append, "after2")
        fut = self.loop.create_future()
        self.loop.call_soon(lambda: ran.append("fut") or fut.set_result(1))
        with self.assertRaises(exc_type):
            self.loop.run_until_complete(fut)
        self.assertFalse(self.loop.is_running())
        self.assertFalse(self.loop.is_closed())
        self.assertEqual(ran[:2], ["before", "raiser"])
        # The loop is usable; callbacks queued after the raising one run on
        # the next run, in order.
        result = self.run_coro(fut)
        self.assertEqual(result, 1)
        self.assertEqual(ran, ["before", "raiser", "after1", "after2", "fut"])
        self.assertEqual(self.take_loop_errors(), [])
        self.run_briefly()

    def test_keyboard_interrupt_from_call_soon(self):
        self._raise_and_resume(KeyboardInterrupt, self.loop.call_soon)

    def test_system_exit_from_call_soon(self):
        self._raise_and_resume(SystemExit, self.loop.call_soon)

    def test_keyboard_interrupt_from_timer(self):
        loop = self.loop
        ran = []

        def raiser():
            ran.append("raiser")
            raise KeyboardInterrupt

        h = loop.call_later(0, raiser)
        loop.call_at(h.when() + 0.001, ran.append, "after")
        loop.call_at(h.when() + 0.002, loop.stop)
        with self.assertRaises(KeyboardInterrupt):
            loop.run_forever()
        self.assertFalse(loop.is_running())
        self.assertEqual(ran, ["raiser"])
        self.run_forever_guarded()
        self.assertEqual(ran, ["raiser", "after"])

    def test_system_exit_from_run_forever(self):
        ran = []

        def raiser():
            raise SystemExit(3)

        self.loop.call_soon(raiser)
        self.loop.call_soon(ran.append, "after")
        self.loop.call_soon(self.loop.stop)
        with self.assertRaises(SystemExit) as cm:
            self.loop.run_forever()
        self.assertEqual(cm.exception.code, 3)
        self.assertFalse(self.loop.is_running())
        self.run_forever_guarded()
        self.assertEqual(ran, ["after"])
        # asyncio.get_running_loop() was reset when the exception escaped.
        with self.assertRaises(RuntimeError):
            asyncio.get_running_loop()

    def test_keyboard_interrupt_in_task(self):
        async def main():
            await asyncio.sleep(0)
            raise KeyboardInterrupt

        with self.assertRaises(KeyboardInterrupt):
            self.loop.run_until_complete(main())
        self.run_briefly()
