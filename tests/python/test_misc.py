"""Executors, async generators, tasks and task factories."""

import asyncio
import contextvars
import sys
import threading

import base

VAR = contextvars.ContextVar("pyloop_misc_var", default="default")


@base.both_loops
class _Misc:

    # ---- executors -------------------------------------------------------

    def test_run_in_executor(self):
        loop = self.loop
        main_thread = threading.get_ident()

        def work(a, b):
            return a + b, threading.get_ident()

        async def main():
            results = await asyncio.gather(
                *[loop.run_in_executor(None, work, i, i) for i in range(20)])
            return results

        results = self.run_coro(main())
        self.assertEqual([r[0] for r in results], [2 * i for i in range(20)])
        self.assertTrue(all(r[1] != main_thread for r in results))

    def test_run_in_executor_exception(self):
        def work():
            raise KeyError("from thread")

        async def main():
            with self.assertRaises(KeyError):
                await self.loop.run_in_executor(None, work)

        self.run_coro(main())

    def test_run_in_custom_executor(self):
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            self.assertEqual(
                self.run_coro(self.loop.run_in_executor(ex, sum, [1, 2, 3])),
                6)

    def test_shutdown_default_executor(self):
        loop = self.loop
        self.assertEqual(self.run_coro(
            loop.run_in_executor(None, lambda: "x")), "x")
        self.run_coro(loop.shutdown_default_executor())
        with self.assertRaisesRegex(RuntimeError,
                                    "Executor shutdown has been called"):
            loop.run_in_executor(None, lambda: None)

    def test_to_thread(self):
        async def main():
            return await asyncio.to_thread(lambda: VAR.get())

        ctx = contextvars.copy_context()
        ctx.run(VAR.set, "propagated")
        task_result = ctx.run(self.loop.create_task, main())
        self.assertEqual(self.run_coro(task_result), "propagated")

    # ---- async generators ------------------------------------------------

    def test_shutdown_asyncgens(self):
        events = []

        async def agen():
            try:
                events.append("started")
                yield 1
                yield 2
            finally:
                events.append("finalized")

        gen = agen()

        async def step():
            return await gen.__anext__()

        self.assertEqual(self.run_coro(step()), 1)
        self.assertEqual(events, ["started"])
        self.run_coro(self.loop.shutdown_asyncgens())
        self.assertEqual(events, ["started", "finalized"])
        del gen

    def test_asyncgen_finalized_by_gc_hook(self):
        events = []
        finalized = self.loop.create_future()

        async def agen():
            try:
                yield 1
                yield 2
            finally:
                events.append("finalized")
                finalized.set_result(None)

        async def main():
            g = agen()
            self.assertEqual(await g.__anext__(), 1)
            del g  # the loop's finalizer hook schedules aclose()
            await finalized

        self.run_coro(main())
        self.assertEqual(events, ["finalized"])

    # ---- tasks -----------------------------------------------------------

    def test_create_task_with_name(self):
        async def coro():
            await asyncio.sleep(0)
            return asyncio.current_task().get_name()

        task = self.loop.create_task(coro(), name="my-task")
        self.assertEqual(task.get_name(), "my-task")
        self.assertEqual(self.run_coro(task), "my-task")

    def test_create_task_with_context(self):
        if sys.version_info < (3, 11):
            self.skipTest("create_task(context=...) is new in Python 3.11")
        ctx = contextvars.copy_context()
        ctx.run(VAR.set, "task context")

        async def coro():
            value = VAR.get()
            VAR.set("changed in task")
            return value

        task = self.loop.create_task(coro(), context=ctx)
        self.assertEqual(self.run_coro(task), "task context")
        self.assertEqual(ctx[VAR], "changed in task")
        self.assertEqual(VAR.get(), "default")

    def test_set_task_factory(self):
        loop = self.loop
        created = []

        def factory(loop_, coro, **kwargs):
            self.assertIs(loop_, loop)
            task = asyncio.Task(coro, loop=loop_, **kwargs)
            created.append(task)
            return task

        self.assertIsNone(loop.get_task_factory())
        loop.set_task_factory(factory)
        self.assertIs(loop.get_task_factory(), factory)
        try:
            async def child():
                return "child"

            async def main():
                return await asyncio.gather(child(), child())

            self.assertEqual(self.run_coro(main()), ["child", "child"])
            # run_until_complete's task (via wait_for), main, 2 children.
            self.assertGreaterEqual(len(created), 3)
            with self.assertRaises(TypeError):
                loop.set_task_factory(1)
        finally:
            loop.set_task_factory(None)
        self.assertIsNone(loop.get_task_factory())

    def test_sleep_and_gather(self):
        async def worker(i, out):
            await asyncio.sleep(0.001 * (i % 3))
            out.append(i)
            return i

        async def main():
            out = []
            res = await asyncio.gather(*[worker(i, out) for i in range(30)])
            return res, out

        res, out = self.run_coro(main())
        self.assertEqual(res, list(range(30)))
        self.assertCountEqual(out, range(30))

    def test_cancel_task_and_wait_for_timeout(self):
        async def forever():
            await asyncio.Event().wait()

        async def main():
            task = asyncio.ensure_future(forever())
            await asyncio.sleep(0)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(forever(), 0.001)

        self.run_coro(main())

    def test_future_callbacks(self):
        loop = self.loop
        fut = loop.create_future()
        got = []
        fut.add_done_callback(lambda f: got.append(f.result()))
        loop.call_soon(fut.set_result, "value")
        self.assertEqual(self.run_coro(fut), "value")
        self.run_briefly()
        self.assertEqual(got, ["value"])

    def test_debug_mode_toggle(self):
        self.assertFalse(self.loop.get_debug())
        self.loop.set_debug(True)
        self.assertTrue(self.loop.get_debug())

        async def main():
            await asyncio.sleep(0)
            return 5

        self.assertEqual(self.run_coro(main()), 5)
        self.loop.set_debug(False)
        self.assertFalse(self.loop.get_debug())
