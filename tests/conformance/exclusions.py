"""Documented pyloop conformance exclusions.

EXCLUSIONS maps a test id (as printed by run.py, e.g.
"test.test_asyncio.test_events.PyLoopEventLoopTests.test_foo") to a one-line
reason.  A key may be an fnmatch pattern ("*" / "?" / "[...]"), e.g.
"test.test_asyncio.test_unix_events.SelectorEventLoopSignalTests.*".

Only tests that fail on pyloop BECAUSE they inspect asyncio's private
implementation belong here (loop._ready, loop._scheduled, loop._selector
mock expectations, loop._write_to_self, _run_once with mocks, ...).  A real
behavioural difference is a bug, not an exclusion.

An excluded test that fails on pyloop is reported as "excluded" and does not
fail the run; an excluded test that passes is reported as a stale exclusion.
Ids of the harness' own bindings use the PyLoop prefix
(PyLoopEventLoopTests); run.py matches them against the stock run's
StockEventLoopTests.
"""

EXCLUSIONS = {
    # "test.test_asyncio.test_module.Class.test_name":
    #     "reason: inspects loop._ready",
}
