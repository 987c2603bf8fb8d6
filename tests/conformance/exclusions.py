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

NOT_RUN lists excluded tests that cannot even finish on pyloop: they hang
there, so the module would time out and its later tests would never run.
run.py has the pyloop child skip them (exact ids, no patterns) and reports
them as excluded, "not run"; the stock side runs them as usual.  Being
never run on pyloop, they cannot be reported stale: recheck them by hand
(a copy of the test without the private probe) when asyncio changes them.
"""

EXCLUSIONS = {
    # "test.test_asyncio.test_module.Class.test_name":
    #     "reason: inspects loop._ready",

    # CPython 3.14+ (gh-118950's test).  It hands loop._make_socket_transport
    # a mock.Mock() socket whose fileno() is 12345 and whose send() raises
    # BrokenPipeError: the scenario is _SelectorSocketTransport calling the
    # socket object's send().  PyLoop's C transport writes to the fd itself
    # (the fake fd 12345 is rejected with EBADF when the transport registers
    # it).  The behaviour under test, SSLProtocol.connection_lost() after a
    # failed write so that the next drain() raises ConnectionResetError, is
    # tested with real TLS on both loops (tests/python/test_ssl.py,
    # test_ssl_drain_raises_after_peer_reset).
    "test.test_asyncio.test_sslproto.SslProtoHandshakeTests."
    "test_connection_lost_when_busy":
        "mock socket with a fake fd: exercises _SelectorSocketTransport's "
        "calls of sock.send()",
}

NOT_RUN = {
    # CPython 3.14+ (gh-115514's test).  Its write() side effect reads
    # socket_transport._read_ready_cb and ._sock, private attributes of
    # _SelectorSocketTransport (3.15's close() sets _read_ready_cb to None,
    # and the test then wraps _sock to make send() partial).  On PyLoop's C
    # transport the probe raises AttributeError inside the SSL protocol's
    # resume_writing() -> transport.write(), the TLS records of that write
    # are lost, and the test's server thread waits for them forever.  With
    # the probe replaced by False the test passes on PyLoop; the behaviour
    # under test (writes after close() on a transport that still buffers
    # are all sent, then connection_lost) is tested on both loops
    # (tests/python/test_ssl.py,
    # test_ssl_writes_after_close_flushed_when_peer_shuts_down).
    "test.test_asyncio.test_ssl.TestSSL."
    "test_remote_shutdown_receives_trailing_data_on_slow_socket":
        "reads _SelectorSocketTransport's private _read_ready_cb and _sock; "
        "hangs on PyLoop (its server thread waits for the lost write)",
}
