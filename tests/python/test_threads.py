"""call_soon_threadsafe and friends from other threads."""

import asyncio
import threading

import base


@base.both_loops
class _Threads:

    def _start_when_running(self, target, *args):
        """Start a thread from inside the running loop; return it."""
        threads = []

        def start():
            t = threading.Thread(target=target, args=args, daemon=True)
            t.start()
            threads.append(t)

        self.loop.call_soon(start)
        return threads

    def test_call_soon_threadsafe_many_threads(self):
        loop = self.loop
        n_threads, n_calls = 8, 10000
        total = n_threads * n_calls
        got = []
        done = loop.create_future()
        errors = []
        go = threading.Event()

        def cb(tid, i):
            got.append((tid, i))
            if len(got) == total:
                done.set_result(None)

        def producer(tid):
            try:
                go.wait(base.TIMEOUT)
                for i in range(n_calls):
                    loop.call_soon_threadsafe(cb, tid, i)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=producer, args=(tid,), daemon=True)
                   for tid in range(n_threads)]
        for t in threads:
            t.start()
        # Release the producers once the loop is running, so they race with
        # the loop itself.
        loop.call_soon(go.set)
        try:
            self.run_coro(done, timeout=60)
        finally:
            go.set()
            for t in threads:
                t.join(base.TIMEOUT)
        self.assertEqual(errors, [])
        self.assertEqual(len(got), total)
        per_thread = {tid: [] for tid in range(n_threads)}
        for tid, i in got:
            per_thread[tid].append(i)
        for tid in range(n_threads):
            self.assertEqual(per_thread[tid], list(range(n_calls)),
                             "thread %d: lost or reordered callbacks" % tid)

    def test_call_soon_threadsafe_wakes_idle_loop(self):
        # The loop has nothing to do but wait (the only timer is the
        # wait_for hang guard), so only the wakeup can complete the future.
        loop = self.loop
        fut = loop.create_future()
        running = threading.Event()
        errors = []

        def worker():
            try:
                if not running.wait(base.TIMEOUT):
                    raise RuntimeError("loop never ran")
                loop.call_soon_threadsafe(fut.set_result, "woken")
            except BaseException as e:
                errors.append(e)

        t = threading.Thread(target=worker, daemon=True)
        t.start()
        loop.call_soon(running.set)
        try:
            self.assertEqual(self.run_coro(fut), "woken")
        finally:
            t.join(base.TIMEOUT)
        self.assertEqual(errors, [])

    def test_repeated_wakeups(self):
        # Ping-pong: each round the loop blocks, the thread wakes it.
        loop = self.loop
        rounds = 200
        request = threading.Semaphore(0)
        results = []
        done = loop.create_future()
        errors = []

        def cb(i):
            results.append(i)
            if i + 1 == rounds:
                done.set_result(None)
            else:
                request.release()

        def worker():
            try:
                for i in range(rounds):
                    if not request.acquire(timeout=base.TIMEOUT):
                        raise RuntimeError("no request for round %d" % i)
                    loop.call_soon_threadsafe(cb, i)
            except BaseException as e:
                errors.append(e)

        t = threading.Thread(target=worker, daemon=True)
        t.start()
        loop.call_soon(request.release)
        try:
            self.run_coro(done, timeout=30)
        finally:
            t.join(base.TIMEOUT)
        self.assertEqual(errors, [])
        self.assertEqual(results, list(range(rounds)))

    def test_stop_from_other_thread(self):
        loop = self.loop
        errors = []

        def worker():
            try:
                loop.call_soon_threadsafe(loop.stop)
            except BaseException as e:
                errors.append(e)

        threads = self._start_when_running(worker)
        self.run_forever_guarded()
        for t in threads:
            t.join(base.TIMEOUT)
        self.assertEqual(errors, [])
        self.assertFalse(loop.is_running())

    def test_call_soon_threadsafe_handle_can_be_cancelled(self):
        ran = []
        h = self.loop.call_soon_threadsafe(ran.append, "cancelled")
        self.loop.call_soon_threadsafe(ran.append, "kept")
        h.cancel()
        self.assertTrue(h.cancelled())
        self.run_briefly()
        self.assertEqual(ran, ["kept"])

    def test_run_coroutine_threadsafe(self):
        loop = self.loop
        results = []
        errors = []

        async def double(x):
            await asyncio.sleep(0)
            return 2 * x

        def worker():
            try:
                for i in range(20):
                    f = asyncio.run_coroutine_threadsafe(double(i), loop)
                    results.append(f.result(base.TIMEOUT))
            except BaseException as e:
                errors.append(e)
            finally:
                loop.call_soon_threadsafe(loop.stop)

        threads = self._start_when_running(worker)
        self.run_forever_guarded()
        for t in threads:
            t.join(base.TIMEOUT)
        self.assertEqual(errors, [])
        self.assertEqual(results, [2 * i for i in range(20)])

    def test_call_soon_threadsafe_before_run(self):
        # Queued from another thread while the loop is not running: runs on
        # the next run.
        loop = self.loop
        ran = []
        t = threading.Thread(
            target=lambda: [loop.call_soon_threadsafe(ran.append, i)
                            for i in range(100)])
        t.start()
        t.join(base.TIMEOUT)
        self.run_briefly()
        self.assertEqual(ran, list(range(100)))
