"""data_bridge.pyloop package API (pyloop variant only)."""

import asyncio
import os
import re
import subprocess
import sys
import sysconfig
import threading
import warnings

import base


@base.pyloop_only
class _Package:

    def test_build_info(self):
        info = self.pyloop.build_info()
        self.assertIsInstance(info, dict)
        for key in ("phase", "batch_limit", "wait_strategy", "version"):
            self.assertIn(key, info)
        self.assertIn(info["phase"], base.PHASES)
        self.assertIsInstance(info["batch_limit"], int)
        self.assertNotIsInstance(info["batch_limit"], bool)
        self.assertGreaterEqual(info["batch_limit"], 0)
        if info["phase"] in ("3.1.1", "3.1.2", "3.1.3"):
            self.assertEqual(info["batch_limit"], 128)
        self.assertIsInstance(info["wait_strategy"], str)
        self.assertTrue(info["wait_strategy"])
        self.assertIsInstance(info["version"], str)
        self.assertTrue(info["version"])

    def test_public_names(self):
        pl = self.pyloop
        self.assertIs(pl.Loop, pl.PyLoop)
        self.assertTrue(issubclass(pl.PyLoop, asyncio.AbstractEventLoop))
        self.assertTrue(issubclass(pl.PyLoop, asyncio.SelectorEventLoop))
        loop = pl.new_event_loop()
        try:
            self.assertIsInstance(loop, pl.PyLoop)
            self.assertFalse(loop.is_running())
            self.assertFalse(loop.is_closed())
        finally:
            loop.close()
        # The class can be instantiated directly too.
        loop = pl.PyLoop()
        loop.close()
        self._policy_api()
        for name in ("PyLoop", "Loop", "EventLoopPolicy", "new_event_loop",
                     "install", "is_installed", "run", "build_info"):
            self.assertTrue(hasattr(pl, name), name)

    def test_handle_types(self):
        h = self.loop.call_soon(lambda: None)
        t = self.loop.call_later(3600, lambda: None)
        self.assertEqual(type(h).__name__, "Handle")
        self.assertEqual(type(t).__name__, "TimerHandle")
        h.cancel()
        t.cancel()

    def _policy_api(self):
        # asyncio's policy system and ours wrapping it are deprecated from
        # 3.14 (test_policy_api_warns_as_asyncio_policy_calls_do holds the
        # warnings): the tests of what they do call them knowingly, for the
        # rest of the test.
        context = warnings.catch_warnings()
        context.__enter__()
        self.addCleanup(context.__exit__, None, None, None)
        warnings.simplefilter("ignore", DeprecationWarning)

    def test_policy(self):
        self._policy_api()
        policy = self.pyloop.EventLoopPolicy()
        self.assertIsInstance(policy, asyncio.AbstractEventLoopPolicy)
        loop = policy.new_event_loop()
        try:
            self.assertIsInstance(loop, self.pyloop.PyLoop)
        finally:
            loop.close()

    def test_install_and_is_installed(self):
        self._policy_api()
        previous = asyncio.get_event_loop_policy()
        was_installed = self.pyloop.is_installed()
        try:
            self.pyloop.install()
            self.assertTrue(self.pyloop.is_installed())
            self.assertIsInstance(asyncio.get_event_loop_policy(),
                                  self.pyloop.EventLoopPolicy)
            loop = asyncio.new_event_loop()
            try:
                self.assertIsInstance(loop, self.pyloop.PyLoop)
            finally:
                loop.close()
            # Installing twice is harmless.
            self.pyloop.install()
            self.assertTrue(self.pyloop.is_installed())
        finally:
            asyncio.set_event_loop_policy(previous)
            asyncio.set_event_loop(self.loop)
        self.assertEqual(self.pyloop.is_installed(), was_installed)
        if not was_installed:
            loop = asyncio.new_event_loop()
            try:
                self.assertNotIsInstance(loop, self.pyloop.PyLoop)
            finally:
                loop.close()

    def test_install_then_asyncio_run_uses_pyloop(self):
        self._policy_api()
        previous = asyncio.get_event_loop_policy()
        try:
            self.pyloop.install()

            async def main():
                return type(asyncio.get_running_loop())

            self.assertIs(asyncio.run(main()), self.pyloop.PyLoop)
        finally:
            asyncio.set_event_loop_policy(previous)
            asyncio.set_event_loop(self.loop)

    def _deprecations(self, call):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call()
        return result, [w for w in caught if issubclass(w.category, DeprecationWarning)]

    def test_policy_api_warns_as_asyncio_policy_calls_do(self):
        # 3.14 deprecates asyncio's policy system: get_event_loop_policy(),
        # set_event_loop_policy() and asyncio.DefaultEventLoopPolicy warn,
        # pointing at their caller. is_installed(), install() and
        # EventLoopPolicy wrap them: they warn exactly then, pointing at
        # their caller too (not at the package's own call of asyncio).
        previous, stock_get = self._deprecations(asyncio.get_event_loop_policy)
        try:
            _, stock_set = self._deprecations(lambda: asyncio.set_event_loop_policy(previous))
            _, stock_class = self._deprecations(lambda: asyncio.DefaultEventLoopPolicy)
            _, ours_install = self._deprecations(lambda: self.pyloop.install())
            installed, ours_is_installed = self._deprecations(lambda: self.pyloop.is_installed())
            policy_class, ours_class = self._deprecations(lambda: self.pyloop.EventLoopPolicy)
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                asyncio.set_event_loop_policy(previous)
            asyncio.set_event_loop(self.loop)
        self.assertTrue(installed)
        self.assertIs(policy_class, self.pyloop._loop.EventLoopPolicy)
        self.assertEqual(len(stock_get), 1 if sys.version_info >= (3, 14) else 0)
        said = lambda caught: [re.match(r"'[\w.]+' (is deprecated and slated for removal in Python [\d.]+)",
                                        str(w.message)).group(1) for w in caught]
        for stock, ours in ((stock_get, ours_is_installed), (stock_set, ours_install),
                            (stock_class, ours_class)):
            self.assertEqual(said(ours), said(stock))
            for w in stock + ours:
                self.assertEqual((w.filename, w.category), (__file__, DeprecationWarning),
                                 str(w.message))
        # `import *` of 3.14's asyncio leaves the policy classes out, so that
        # it does not warn: the same for ours.
        self.assertEqual("EventLoopPolicy" in self.pyloop.__all__,
                         "DefaultEventLoopPolicy" in asyncio.__all__)
        _, star = self._deprecations(
            lambda: exec("from data_bridge.pyloop import *", {}))
        self.assertEqual(star, [])

    def test_policy_free_api_calls_nothing_deprecated(self):
        # The documented way in, with every DeprecationWarning an error: the
        # package calls no deprecated asyncio API on any version.
        code = """if True:
            import asyncio, sys
            import data_bridge.pyloop as pyloop
            async def main():
                await asyncio.sleep(0)
                server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
                async with server:
                    reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
                    await reader.read()
                    writer.close()
                    await writer.wait_closed()
                return type(asyncio.get_running_loop()).__name__
            assert pyloop.run(main()) == "PyLoop"
            assert pyloop.run(main(), debug=True) == "PyLoop"
            if sys.version_info >= (3, 11):
                with asyncio.Runner(loop_factory=pyloop.new_event_loop) as runner:
                    assert runner.run(main()) == "PyLoop"
            if sys.version_info >= (3, 12):
                assert asyncio.run(main(), loop_factory=pyloop.new_event_loop) == "PyLoop"
            print("ok")
        """
        proc = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60)
        self.assertEqual((proc.returncode, proc.stdout.strip()), (0, b"ok"),
                         proc.stderr.decode("utf-8", "replace"))

    def test_free_threaded_build_turns_the_gil_back_on(self):
        # The extension declares it needs the GIL (module.c): a free-threaded
        # interpreter turns the GIL back on when it is imported, and says so
        # with a RuntimeWarning, instead of running the engine without it.
        if not sysconfig.get_config_var("Py_GIL_DISABLED"):
            self.skipTest("not a free-threaded interpreter (3.13t+): the GIL is on anyway")
        env = dict(os.environ)
        env.pop("PYTHON_GIL", None)   # PYTHON_GIL=0 would force it off
        code = ("import sys; assert not sys._is_gil_enabled(); "
                "import data_bridge.pyloop; print(sys._is_gil_enabled())")
        proc = subprocess.run([sys.executable, "-W", "always::RuntimeWarning", "-c", code],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60)
        err = proc.stderr.decode("utf-8", "replace")
        self.assertEqual((proc.returncode, proc.stdout.strip()), (0, b"True"), err)
        self.assertIn("data_bridge.pyloop._pyloop", err)
        self.assertIn("RuntimeWarning", err)

    def test_run(self):
        async def main(x):
            await asyncio.sleep(0)
            loop = asyncio.get_running_loop()
            return x * 2, loop, loop.get_debug()

        value, loop, debug = self.pyloop.run(main(21))
        self.assertEqual(value, 42)
        self.assertIsInstance(loop, self.pyloop.PyLoop)
        self.assertTrue(loop.is_closed())

        value, loop, debug = self.pyloop.run(main(1), debug=True)
        self.assertTrue(debug)
        value, loop, debug = self.pyloop.run(main(1), debug=False)
        self.assertFalse(debug)
        asyncio.set_event_loop(self.loop)

    def test_run_propagates_exception_and_cancels_leftovers(self):
        cancelled = []

        async def child():
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        async def main():
            asyncio.ensure_future(child())
            await asyncio.sleep(0)
            raise LookupError("from main")

        with self.assertRaisesRegex(LookupError, "from main"):
            self.pyloop.run(main())
        self.assertEqual(cancelled, [True])
        asyncio.set_event_loop(self.loop)

    def test_run_rejects_non_coroutine_and_running_loop(self):
        with self.assertRaises((ValueError, TypeError)):
            self.pyloop.run(lambda: None)

        async def inner():
            return 1

        async def outer():
            coro = inner()
            try:
                with self.assertRaises(RuntimeError):
                    self.pyloop.run(coro)
            finally:
                coro.close()

        self.run_coro(outer())

    def test_main_module_prints_build_info(self):
        info = self.pyloop.build_info()
        env = dict(os.environ)
        # Make the child find the same package as this process.
        import data_bridge
        roots = [os.path.dirname(os.path.abspath(p))
                 for p in data_bridge.__path__]
        if env.get("PYTHONPATH"):
            roots.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(roots)
        proc = subprocess.run([sys.executable, "-m", "data_bridge.pyloop"],
                              env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=60)
        out = proc.stdout.decode("utf-8", "replace")
        self.assertEqual(proc.returncode, 0,
                         "stdout:\n%s\nstderr:\n%s"
                         % (out, proc.stderr.decode("utf-8", "replace")))
        self.assertIn(info["phase"], out)
        self.assertIn(info["version"], out)
        self.assertIn("phase", out)

    def test_stats(self):
        loop = self.loop
        stats = loop.stats()
        for key in ("iterations", "callbacks_run", "timers_fired",
                    "wakeups_written"):
            self.assertIn(key, stats)
            self.assertIsInstance(stats[key], int)
            self.assertGreaterEqual(stats[key], 0)

        done = loop.create_future()
        for _ in range(10):
            loop.call_soon(lambda: None)
        loop.call_later(0, lambda: None)
        t = threading.Thread(
            target=lambda: loop.call_soon_threadsafe(done.set_result, None))
        loop.call_soon(t.start)
        self.run_coro(done)
        t.join(base.TIMEOUT)
        after = loop.stats()
        for key in ("iterations", "callbacks_run", "timers_fired",
                    "wakeups_written"):
            self.assertIsInstance(after[key], int)
            self.assertGreaterEqual(after[key], stats[key], key)
        self.assertGreaterEqual(after["iterations"] - stats["iterations"], 1)
        self.assertGreaterEqual(
            after["callbacks_run"] - stats["callbacks_run"], 10)
        self.assertGreaterEqual(
            after["timers_fired"] - stats["timers_fired"], 1)
