"""PyLoop's engine entered again from inside one of its callbacks, or used
after it is gone: refused, or safe; never a crash or a callback run twice.

PyLoop only: _run_once(), _close_core() and the bare engine type
data_bridge.pyloop._pyloop.Loop are PyLoop's own. Each scenario runs in a
child process, since on a broken engine it corrupts memory.
"""

import collections

import base
from child import assert_child, run_child


REENTER = r'''
loop = new_loop()
events = []
handles = []  # kept, so that a handle run twice is seen, not freed
def reenter():
    events.append("reenter")
    try:
        loop.%s()
        events.append("returned")
    except RuntimeError:
        events.append("refused")
handles.append(loop.call_soon(events.append, "before"))
handles.append(loop.call_soon(reenter))
for i in range(5):
    handles.append(loop.call_soon(events.append, "after-%%d" %% i))
handles.append(loop.call_soon(loop.stop))
loop.run_forever()
report(events=events)
if not loop.is_closed():
    loop.close()
'''


@base.pyloop_only
class _Reentrancy:

    def _reenter(self, method):
        result, proc = run_child(self, REENTER % method)
        assert_child(self, sorted(result or {}), proc, ["events"])
        events = collections.Counter(result["events"])
        outcome = [e for e in ("returned", "refused") if events.pop(e, 0)]
        self.assertEqual(len(outcome), 1, result["events"])
        expected = collections.Counter(
            ["before", "reenter"] + ["after-%d" % i for i in range(5)])
        self.assertEqual(events, expected,
                         "every other callback runs exactly once: %r"
                         % (result["events"],))

    def test_run_once_inside_callback_is_refused_or_safe(self):
        self._reenter("_run_once")

    def test_close_core_inside_callback_is_refused_or_safe(self):
        self._reenter("_close_core")

    def test_handle_run_after_engine_deallocated_does_not_crash(self):
        result, proc = run_child(self, r'''
            from data_bridge.pyloop import _pyloop
            engine = _pyloop.Loop()
            ran = []
            soon = engine.call_soon(ran.append, "soon")
            later = engine.call_later(3600, ran.append, "later")
            del engine
            gc.collect()
            outcomes = []
            for handle in (soon, later):
                try:
                    handle._run()
                    outcomes.append("returned")
                except Exception as exc:
                    outcomes.append(type(exc).__name__)
                handle.cancel()
            report(finished=True, outcomes=outcomes, ran=ran)
        ''')
        assert_child(self, (result or {}).get("finished"), proc, True)
