"""pytest plugin for tests/apps/aiohttp_tls.py: aiohttp's own test suite on
the loop that AIOHTTP_TEST_LOOP names ("pyloop": data_bridge.pyloop's
PyLoop; "asyncio": stock asyncio, untouched).

aiohttp's pytest plugin makes each test's loop with asyncio.new_event_loop
(its loop named "pyloop", confusingly: aiohttp's word for the pure-Python
asyncio loop), looked up when the tests are generated; asyncio.run and
asyncio.Runner call asyncio.events.new_event_loop. Both are pointed at
PyLoop's factory here, before any test module is collected. The summary
line says how many loops of which type the run made, so that a run that
silently used another loop shows it."""

import asyncio
import collections
import os

LOOP = os.environ.get("AIOHTTP_TEST_LOOP", "asyncio")
made = collections.Counter()

if LOOP == "pyloop":
    import data_bridge.pyloop as _pyloop
    _factory = _pyloop.new_event_loop
elif LOOP == "asyncio":
    _factory = asyncio.events.new_event_loop
else:
    raise RuntimeError("AIOHTTP_TEST_LOOP=%r: expected pyloop or asyncio"
                       % (LOOP,))


def new_event_loop():
    loop = _factory()
    made[type(loop).__module__ + "." + type(loop).__name__] += 1
    return loop


asyncio.new_event_loop = new_event_loop
asyncio.events.new_event_loop = new_event_loop


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(
        "loops made (AIOHTTP_TEST_LOOP=%s): %s" % (
            LOOP, ", ".join("%s x%d" % kv for kv in sorted(made.items()))
            or "none"))


# Which tests are TLS tests: those that ask for one of aiohttp's TLS
# fixtures (tests/conftest.py: a trustme CA, server and client contexts),
# and those whose name says ssl, tls or https.
TLS_FIXTURES = {
    "tls_certificate_authority", "tls_certificate", "ssl_ctx",
    "client_ssl_ctx", "tls_ca_certificate_pem_path",
    "tls_certificate_pem_path", "tls_certificate_pem_bytes",
    "tls_certificate_fingerprint_sha256",
}
TLS_WORDS = ("ssl", "tls", "https")


def is_tls_test(item):
    if TLS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return True
    name = item.name.lower()
    return any(word in name for word in TLS_WORDS)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("AIOHTTP_TEST_SELECT", "tls") != "tls":
        return
    keep, drop = [], []
    for item in items:
        (keep if is_tls_test(item) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
