"""A PyLoop dropped without close() is collected, like asyncio's loops.

asyncio's BaseEventLoop.__del__ warns "unclosed event loop" (ResourceWarning)
and closes the loop, releasing its self-pipe and selector fds. A loop the C
engine keeps alive through a reference cycle the GC cannot see would keep its
fds forever. The loops are made in a child process so that a leak does not
spend this process's fds.
"""

import os
import unittest

import base
from child import assert_child, run_child


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
            unclosed_warnings = sum(
                1 for w in caught
                if issubclass(w.category, ResourceWarning)
                and "unclosed event loop" in str(w.message))
            # Each warning's source is its loop: __del__ handed it to the
            # warning, so the recorded warnings hold the loops. Before 3.15
            # the collector cleared weak references before finalizers ran,
            # 3.15 clears them after: a loop its finalizer kept alive still
            # answers its weakref. Drop the warnings and collect again, so
            # the count is of loops the collector really freed, either way.
            del caught
            gc.collect()
            report(alive=sum(ref() is not None for ref in refs),
                   unclosed_warnings=unclosed_warnings,
                   fds_leaked=open_fds() - before)
        ''' % self.LOOPS)
        assert_child(self, result, proc,
                     {"alive": 0, "unclosed_warnings": self.LOOPS,
                      "fds_leaked": 0})
