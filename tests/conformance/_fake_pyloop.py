"""Stand-in for data_bridge.pyloop used by `run.py --fake-pyloop`.

Same interface as the real package (PyLoop, EventLoopPolicy,
new_event_loop), but PyLoop is a trivial subclass of the stock
asyncio.SelectorEventLoop.  It exists to prove that the harness binds the
"pyloop" side: with it, every pyloop row must match the stock row, and the
child must report `_fake_pyloop.PyLoop` as the class the tests constructed.
"""

import asyncio
import asyncio.unix_events

# Captured at import time, i.e. before the harness patches asyncio's names
# (3.14 made asyncio.DefaultEventLoopPolicy a deprecated alias of
# unix_events._DefaultEventLoopPolicy).
_StockSelectorEventLoop = asyncio.SelectorEventLoop
_StockPolicy = (vars(asyncio.unix_events).get("_DefaultEventLoopPolicy")
                or asyncio.unix_events.DefaultEventLoopPolicy)


class PyLoop(_StockSelectorEventLoop):
    """Fake pyloop: the stock selector loop under another name."""


class EventLoopPolicy(_StockPolicy):
    _loop_factory = PyLoop

    def new_event_loop(self):
        return PyLoop()


def new_event_loop():
    return PyLoop()
