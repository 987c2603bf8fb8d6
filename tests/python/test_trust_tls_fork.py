"""TLS across fork() and fd reuse (issue 17).

The non-TLS transports have this in test_trust_fork_fdreuse.py; here the
same guarantees are asked of the TLS transport (asyncio 3.11+'s sslproto,
C in PyLoop) on top of them:

- a forked child gets a loop that can run and make its own TLS connection,
  and whatever the child does with what it inherited (exits, closes the
  socket fds, finalizes everything, closes its loop), the parent's TLS
  connection keeps flowing: no close_notify or other byte of the child's
  reaches the peer, the parent's peer sees no eof; so also when the fork
  comes during a handshake, or with TLS records buffered and a backlog
  (none of which may leave twice); a control shows what the parent sees
  when a child does send close_notify;
- a TLS transport whose socket is gone (aborted, or closed behind it) with
  the fd number taken by a newcomer (a socket or a pipe) never writes into,
  reads from or closes the newcomer, whatever late work it still has (a
  write, the shutdown or handshake timeout, a call_soon'd read of what its
  incoming BIO holds, get_extra_info('socket')), and reports what asyncio
  reports.

Every scenario runs in a child process (child.py): the regressions are a
hang (a write into a blocking newcomer), a crash, or a parent that stops
serving. The wrong fd being touched is caught by the newcomer's peer getting
bytes, the newcomer's own data missing or its fd closed, or the errno
reported (a pipe under the number makes send() fail with ENOTSOCK, not the
EBADF of the closed socket object).
"""

import asyncio
import os
import sys

import base
import tls_support
from child import PRELUDE, assert_child, run_child

HAVE_FORK = hasattr(os, "fork")

# What every child body below starts with: child.py's PRELUDE, the
# certificate's paths (made once by the test process), the contexts that
# trust it, and tls_support's recording protocol.
TLS_PRELUDE = PRELUDE + r'''
import os, socket, ssl
sys.path.insert(0, TESTS_DIR)
from tls_support import HOST, Proto
CERTFILE, KEYFILE = CERTS

def server_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERTFILE, KEYFILE)
    return ctx

def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(CERTFILE)
    return ctx

handler_calls = []

def record_errors(loop):
    # the message without the object addresses a repr puts in it
    import re
    loop.set_exception_handler(lambda loop, ctx: handler_calls.append(
        re.sub(r" at 0x[0-9a-f]+", "", ctx.get("message"))))

class Echo(Proto):
    def data_received(self, data):
        super().data_received(data)
        self.transport.write(data)

async def tls_server(factory=Proto):
    """A TLS server on the running loop, and the list of its protocols."""
    loop = asyncio.get_running_loop()
    protos = []
    def make():
        p = factory()
        protos.append(p)
        return p
    server = await loop.create_server(make, HOST, 0, ssl=server_context())
    return server, protos

async def tls_client(server, **kwargs):
    """A TLS client of `server` (a socket of its own, or sock=...)."""
    loop = asyncio.get_running_loop()
    if "sock" not in kwargs:
        kwargs.update(zip(("host", "port"), server.sockets[0].getsockname()))
    return await loop.create_connection(
        Proto, ssl=client_context(), server_hostname="localhost", **kwargs)

async def echo(transport, protocol, data):
    """Write data, wait (hang guard) for it back: whether it came back."""
    start = len(protocol.data)
    transport.write(data)
    got = await asyncio.wait_for(protocol.received(start + len(data)), 5)
    return got[start:] == data

def newcomer_pair(number):
    """A connected socket pair (newcomer, peer) whose newcomer has fd
    `number`, which was just closed."""
    c, d = socket.socketpair()
    if d.fileno() == number:
        c, d = d, c
    if c.fileno() != number:
        os.dup2(c.fileno(), number)
        c.close()
        c = socket.socket(fileno=number)
    c.setblocking(False)
    d.setblocking(False)
    return c, d

def newcomer_pipe(number):
    """A pipe (read end, write end) whose write end has fd `number`, which
    was just closed: a send() under the number fails with ENOTSOCK, a
    write() would land in the pipe."""
    r, w = os.pipe()
    if r == number:
        r2 = os.dup(r)
        os.close(r)
        r = r2
    if w != number:
        os.dup2(w, number)
        os.close(w)
        w = number
    os.set_blocking(r, False)
    return r, w

def pending(read):
    """What a non-blocking read gets now: bytes, or b"" if nothing."""
    try:
        return read()
    except BlockingIOError:
        return b""
'''


def tls_prelude():
    here = os.path.dirname(os.path.abspath(__file__))
    return (TLS_PRELUDE.replace("TESTS_DIR", repr(here))
            .replace("CERTS", repr(tls_support.certificate())))


def run_tls_child(testcase, body, timeout=30):
    return run_child(testcase, body, timeout=timeout, prelude=tls_prelude())


class _NeedsTLS:
    """setUp: the certificate (or the reason there is none: a skip)."""

    def setUp(self):
        tls_support.certificate()
        super().setUp()


# ---------------------------------------------------------------------------
# fork

# The parent: a TLS server and a client of it on one loop, proven to echo
# before the fork, asked again (old connection, a big transfer of many
# records each way, a new connection) after the child is gone. The child's
# outcome comes back through a pipe. CHILD_ACTION (substituted) is the
# child's part; FORK (substituted) the fork.
FORK_BODY = r'''
import json
loop = new_loop()
asyncio.set_event_loop(loop)
record_errors(loop)
BIG = bytes(range(256)) * 1024  # 256 KiB: many TLS records each way
child_info = {}

async def setup():
    server, protos = await tls_server(Echo)
    tr, cli = await tls_client(server)
    assert await echo(tr, cli, b"before")
    srv = protos[0]
    return dict(server=server, tr=tr, cli=cli, srv=srv)

async def check(s):
    out = {}
    out["old_echo"] = await echo(s["tr"], s["cli"], b"after")
    out["old_big_echo"] = await echo(s["tr"], s["cli"], BIG)
    # No close_notify (nor anything else) of the child's reached either
    # side: neither saw eof nor a loss.
    out["old_events"] = [list(s["cli"].events), list(s["srv"].events)]
    out["old_closing"] = [s["tr"].is_closing(), s["srv"].transport.is_closing()]
    tr2, cli2 = await tls_client(s["server"])
    out["new_echo"] = await echo(tr2, cli2, b"new")
    tr2.close()
    out["new_lost"] = repr(await asyncio.wait_for(cli2.lost, 5))
    s["tr"].close()
    out["old_lost"] = repr(await asyncio.wait_for(s["cli"].lost, 5))
    s["server"].close()
    await s["server"].wait_closed()
    return out

async def own_connection():
    """The child's own TLS server and connection, on its own loop."""
    server, protos = await tls_server(Echo)
    tr, cli = await tls_client(server)
    out = {"echo": await echo(tr, cli, b"child")}
    tr.close()
    out["lost"] = repr(await asyncio.wait_for(cli.lost, 5))
    out["server_lost"] = repr(await asyncio.wait_for(protos[0].lost, 5))
    server.close()
    await server.wait_closed()
    return out

def run_own_connection():
    child_loop = new_loop()
    asyncio.set_event_loop(child_loop)
    record_errors(child_loop)
    try:
        return child_loop.run_until_complete(own_connection())
    finally:
        child_loop.close()

state = loop.run_until_complete(setup())
r, w = os.pipe()

def child_done(result):
    os.write(w, json.dumps(dict(child_info, handler_calls=handler_calls,
                                **result), sort_keys=True).encode())

FORK
if pid == 0:
    try:
        os.close(r)
CHILD_ACTION
    except Exception as exc:
        child_done({"child_error": repr(exc)})
    os._exit(0)
os.close(w)
_, status = os.waitpid(pid, 0)
data = b""
while True:
    chunk = os.read(r, 65536)
    if not chunk:
        break
    data += chunk
results = {"child_status": os.waitstatus_to_exitcode(status),
           "child": json.loads(data) if data else None}
results.update(loop.run_until_complete(check(state)))
results["handler_calls"] = handler_calls
loop.close()
report(**results)
'''

# The fork while the parent's TLS client has a backlog (the server's app
# reading paused: its TLS stops reading the socket, the client's socket
# transport buffers records, the app is paused). Whatever the child does
# with its copy of the buffered records, none may leave from the child:
# the server must read exactly the parent's stream once it reads again
# (a duplicated or lost record breaks the TLS stream).
FORK_WITH_BACKLOG = r'''
import hashlib
loop = new_loop()
asyncio.set_event_loop(loop)
record_errors(loop)
PAYLOAD = bytearray()

async def setup():
    server, protos = await tls_server()
    tr, cli = await tls_client(server)
    srv = protos[0]
    await srv.made
    srv.transport.pause_reading()
    cli.paused = loop.create_future()
    # The first writes leave as records into the socket transport's buffer
    # (the TLS protocol's writing paused at its high water); the next ones
    # wait in the backlog until the app is paused.
    while not cli.paused.done():
        assert len(PAYLOAD) < 64 << 20, "the client never paused"
        chunk = os.urandom(256 << 10)
        PAYLOAD.extend(chunk)
        tr.write(chunk)
        await asyncio.sleep(1e-9)
    return server, tr, cli, srv

server, tr, cli, srv = loop.run_until_complete(setup())
pid = os.fork()
if pid == 0:
CHILD_ACTION
    os._exit(0)
_, status = os.waitpid(pid, 0)

async def check():
    out = {"child_status": os.waitstatus_to_exitcode(status)}
    srv.transport.resume_reading()
    got = await asyncio.wait_for(srv.received(len(PAYLOAD)), 10)
    out["intact"] = hashlib.sha256(got).digest() == hashlib.sha256(PAYLOAD).digest()
    out["events"] = [list(cli.events), list(srv.events)]
    tr.close()
    out["client_lost"] = repr(await asyncio.wait_for(cli.lost, 5))
    out["server_lost"] = repr(await asyncio.wait_for(srv.lost, 5))
    out["handler_calls"] = handler_calls
    server.close()
    await server.wait_closed()
    return out

report(**loop.run_until_complete(check()))
'''

# The child closes every socket fd it has (its copies: the parent's stay).
CLOSE_SOCKET_FDS = '''
import stat
closed = 0
for name in os.listdir("/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"):
    fd = int(name)
    try:
        if stat.S_ISSOCK(os.fstat(fd).st_mode):
            os.close(fd)
            closed += 1
    except OSError:
        pass
'''

# The fork while a TLS handshake is in flight: from the server's protocol
# factory (the TCP connection accepted, the server's TLS not begun, the
# client's hello sent); the parent then completes the handshake and echoes.
FORK_IN_HANDSHAKE = r'''
loop = new_loop()
asyncio.set_event_loop(loop)
record_errors(loop)
forked = []

class Forking(Echo):
    def __init__(self):
        super().__init__()
        pid = os.fork()
        if pid == 0:
CHILD_ACTION
            os._exit(3)
        forked.append(pid)

async def main():
    server, protos = await tls_server(Forking)
    tr, cli = await tls_client(server)
    _, status = os.waitpid(forked[0], 0)
    out = {"child_status": os.waitstatus_to_exitcode(status)}
    out["echo"] = await echo(tr, cli, b"after the fork")
    out["events"] = [list(cli.events), list(protos[0].events)]
    tr.close()
    out["client_lost"] = repr(await asyncio.wait_for(cli.lost, 5))
    out["server_lost"] = repr(await asyncio.wait_for(protos[0].lost, 5))
    out["handler_calls"] = handler_calls
    server.close()
    await server.wait_closed()
    return out

report(**loop.run_until_complete(main()))
'''

FORK_OUTSIDE = "pid = os.fork()"

# The fork from a coroutine the loop runs: what the child sees of the
# running loop there (asyncio 3.12+ resets it), and whether a new loop can
# run inside the inherited loop's callback (3.11: RuntimeError).
FORK_INSIDE = r'''
async def fork_in_callback():
    pid = os.fork()
    if pid == 0:
        child_info["running_loop_reset"] = asyncio._get_running_loop() is None
        nested = new_loop()
        child_info["nested_run"] = outcome(
            lambda: nested.run_until_complete(asyncio.sleep(0)))
        nested.close()
    return pid
pid = loop.run_until_complete(fork_in_callback())
'''

PARENT_SERVING = {
    "child_status": 0,
    "old_echo": True,
    "old_big_echo": True,
    "old_events": [["made"], ["made"]],
    "old_closing": [False, False],
    "new_echo": True,
    "new_lost": "None",
    "old_lost": "None",
    "handler_calls": [],
}

CHILD_OWN_CONNECTION = {
    "echo": True, "lost": "None", "server_lost": "None", "handler_calls": []}


@base.both_loops
class _TLSForkedChild(_NeedsTLS):
    """A TLS connection (both ends) open in the parent when it forks: the
    child's new loop makes its own TLS connection, and nothing the child
    does with its copies reaches the parent's connection."""

    def setUp(self):
        if not HAVE_FORK:
            self.skipTest("os.fork is not available")
        super().setUp()

    def _fork(self, action, child_expected, fork=FORK_OUTSIDE,
              parent=PARENT_SERVING):
        body = (FORK_BODY.replace("FORK\n", fork.strip() + "\n")
                .replace("CHILD_ACTION", "\n".join(
                    "        " + line
                    for line in action.strip().splitlines())))
        result, proc = run_tls_child(self, body)
        assert_child(self, result, proc, dict(parent, child=child_expected))

    def test_child_runs_its_own_tls_connection(self):
        self._fork("child_done(run_own_connection())", CHILD_OWN_CONNECTION)

    def test_child_forked_in_a_callback_runs_its_own_tls_connection(self):
        # In the child, inside the callback that forked, asyncio sees no
        # running loop (3.12+ resets it after fork, events.on_fork; before,
        # _get_running_loop ignores a loop set by another pid), so a new
        # loop runs there, nested; and after the inherited loop's
        # run_until_complete has returned, the child's own TLS works.
        # From 3.14 the inherited loop's task, whose step forked, then
        # steps once more in the child with the nested loop's run over (no
        # running loop): asyncio's task reports "loop ... is not the running
        # loop" through the inherited loop's exception handler.
        expected = dict(CHILD_OWN_CONNECTION, running_loop_reset=True,
                        nested_run=None)
        if sys.version_info >= (3, 14):
            expected["handler_calls"] = [
                "Exception in callback <_asyncio.TaskStepMethWrapper object>()"]
        self._fork("child_done(run_own_connection())", expected,
                   fork=FORK_INSIDE)

    def test_child_os_exit(self):
        self._fork("child_done({})\nos._exit(0)", {"handler_calls": []})

    def test_child_closes_the_inherited_socket_fds(self):
        self._fork(CLOSE_SOCKET_FDS + """
child_done({"closed_some": closed >= 4})
os._exit(0)
""", {"closed_some": True, "handler_calls": []})

    def test_child_closes_the_inherited_loop(self):
        self._fork("""
loop.close()
child_done({})
os._exit(0)
""", {"handler_calls": []})

    def test_child_exits_through_python(self):
        # sys.exit unwinds: the loop, the TLS transports and protocols,
        # the server are finalized (and collected) in the child; their
        # finalizers warn, they never shut the TLS down on the shared
        # sockets.
        if not self.NEW_SSLPROTO:
            self.skipTest(
                "3.10's asyncio does not keep this: its older "
                "_SSLProtocolTransport.__del__ calls close(), which sends "
                "close_notify on the socket the child shares with its "
                "parent; 3.11's (and PyLoop's C TLS) only warns")
        self._fork("""
import gc, warnings
warnings.simplefilter("ignore", ResourceWarning)
child_done({})
os.close(w)
del state
loop = None
asyncio.set_event_loop(None)
gc.collect()
sys.exit(0)
""", {"handler_calls": []})

    def test_control_a_close_notify_from_the_child_is_seen(self):
        # What the assertions above would see had a child's finalizer or
        # exit shut the TLS down on the shared socket: the child's copy of
        # the client sends close_notify (close() outside a callback sends
        # at once), the parent's server reads it, both sides shut down.
        if not self.NEW_SSLPROTO:
            self.skipTest("3.10's older sslproto shuts down in another "
                          "order (the client loses its connection first)")
        self._fork("""
state["tr"].close()
child_done({})
os._exit(0)
""", {"handler_calls": []}, parent=dict(
            PARENT_SERVING, old_echo=False, old_big_echo=False,
            old_events=[["made", "eof", "lost"], ["made", "eof", "lost"]],
            old_closing=[True, True]))

    def _fork_with_backlog(self, action):
        result, proc = run_tls_child(self, FORK_WITH_BACKLOG.replace(
            "CHILD_ACTION", "\n".join(
                "    " + line for line in action.strip().splitlines())))
        assert_child(self, result, proc, {
            "child_status": 0, "intact": True,
            "events": [["made", "pause", "resume"], ["made"]],
            "client_lost": "None", "server_lost": "None",
            "handler_calls": []})

    def test_fork_with_a_backlog_child_os_exit(self):
        self._fork_with_backlog("os._exit(0)")

    def test_fork_with_a_backlog_child_closes_the_socket_fds(self):
        self._fork_with_backlog(CLOSE_SOCKET_FDS + "os._exit(0)")

    def test_fork_with_a_backlog_child_closes_the_inherited_loop(self):
        self._fork_with_backlog("loop.close()")

    def test_fork_with_a_backlog_child_exits_through_python(self):
        if not self.NEW_SSLPROTO:
            self.skipTest("3.10's asyncio: its _SSLProtocolTransport.__del__ "
                          "calls close() on the shared socket")
        self._fork_with_backlog("""
import gc, warnings
warnings.simplefilter("ignore", ResourceWarning)
del server, tr, cli, srv
loop = None
asyncio.set_event_loop(None)
gc.collect()
sys.exit(0)
""")

    def _fork_in_handshake(self, action):
        result, proc = run_tls_child(self, FORK_IN_HANDSHAKE.replace(
            "CHILD_ACTION", "\n".join(
                "            " + line for line in action.strip().splitlines())))
        assert_child(self, result, proc, {
            "child_status": 0, "echo": True, "events": [["made"], ["made"]],
            "client_lost": "None", "server_lost": "None",
            "handler_calls": []})

    def test_fork_during_a_handshake_child_os_exit(self):
        self._fork_in_handshake("os._exit(0)")

    def test_fork_during_a_handshake_child_closes_the_socket_fds(self):
        self._fork_in_handshake(CLOSE_SOCKET_FDS + "os._exit(0)")


# ---------------------------------------------------------------------------
# fd reuse

# A TLS client over a socket the body owns (sock=a), connected to a TLS
# server on the same loop; BODY (substituted) does the rest in main().
REUSE_BODY = r'''
loop = new_loop()
asyncio.set_event_loop(loop)
record_errors(loop)

async def connected(**kwargs):
    server, protos = await tls_server()
    a = socket.create_connection(server.sockets[0].getsockname())
    a.setblocking(False)
    tr, cli = await tls_client(server, sock=a, **kwargs)
    await asyncio.wait_for(protos[0].made, 5)
    return server, a, tr, cli, protos[0]

async def rounds(n=5):
    for _ in range(n):
        await asyncio.sleep(1e-9)

async def main():
BODY

loop.run_until_complete(main())
'''


@base.both_loops
class _TLSTransportFdReused(_NeedsTLS):
    """The TLS transport's socket is gone and a newcomer (a socket, or a
    pipe's write end) holds its fd number: the old transport's late work
    never touches the newcomer."""

    def _run(self, body, expected):
        result, proc = run_tls_child(self, REUSE_BODY.replace(
            "BODY", "\n".join("    " + line
                              for line in body.strip().splitlines())))
        assert_child(self, result, proc, expected)

    def test_late_work_after_abort(self):
        self._late_work("abort")

    def test_late_work_after_close(self):
        # The shutdown completes (the server answers close_notify), then
        # the socket is closed and its number free.
        self._late_work("close")

    def _late_work(self, how):
        # asyncio: the app transport drops writes once the connection is
        # closed (_write_appdata: "SSL connection is closed" after a few,
        # logged), get_extra_info('socket') is None (the protocol forgot
        # its transport), the socket object it handed out before is
        # closed (fileno -1, EBADF); resume_reading's call_soon'd read
        # finds the protocol UNWRAPPED.
        self._run(r'''
server, a, tr, cli, srv = await connected()
# The client has read all the server sent (TLS 1.3 session tickets
# included): its abort closes with nothing unread, a FIN, not a reset.
srv.transport.write(b"ping")
await asyncio.wait_for(cli.received(4), 5)
tsock = tr.get_extra_info("socket")
number = tsock.fileno()
assert number == a.fileno() >= 0
tr.HOW()
lost = await asyncio.wait_for(cli.lost, 5)
c, d = newcomer_pair(number)
d.send(b"newcomer's")
out = {"lost": repr(lost), "a_fileno": a.fileno()}
out["write"] = [outcome(lambda: tr.write(b"late")) for _ in range(7)]
out["writelines"] = outcome(lambda: tr.writelines([b"la", b"te"]))
out["write_eof"] = outcome(tr.write_eof)
out["pause_reading"] = outcome(tr.pause_reading)
out["resume_reading"] = outcome(tr.resume_reading)
out["extra_socket"] = outcome(lambda: out.setdefault(
    "extra_socket_value", repr(tr.get_extra_info("socket"))))
out["abort"] = outcome(tr.abort)
out["close"] = outcome(tr.close)
# The second close() forgets the protocol (asyncio's _SSLProtocolTransport)
out["extra_socket_after_close"] = outcome(lambda: tr.get_extra_info("socket"))
out["tsock_fileno"] = tsock.fileno()
out["tsock_getsockname"] = outcome(tsock.getsockname)
out["is_closing"] = tr.is_closing()
await rounds()
out["peer_got"] = len(pending(lambda: d.recv(100)))
out["newcomer_kept"] = pending(lambda: c.recv(100)) == b"newcomer's"
out["client_data"] = bytes(cli.data).decode()
out["events"] = cli.events
out["server_lost"] = repr(await asyncio.wait_for(srv.lost, 5))
out["handler_calls"] = handler_calls
report(**out)
server.close()
'''.replace("HOW", how), {
            "lost": "None", "a_fileno": -1,
            "write": [None] * 7, "writelines": None,
            "write_eof": "NotImplementedError: ",
            # 3.10's older sslproto reaches the gone socket transport
            "pause_reading": None if self.NEW_SSLPROTO else
                "AttributeError: 'NoneType' object has no attribute "
                "'pause_reading'",
            "resume_reading": None if self.NEW_SSLPROTO else
                "AttributeError: 'NoneType' object has no attribute "
                "'resume_reading'",
            "close": None, "abort": None,
            "extra_socket": None, "extra_socket_value": "None",
            "extra_socket_after_close":
                "AttributeError: 'NoneType' object has no attribute "
                "'_get_extra_info'" if self.NEW_SSLPROTO else None,
            "tsock_fileno": -1,
            "tsock_getsockname": "OSError: [Errno 9] Bad file descriptor",
            "is_closing": True, "peer_got": 0, "newcomer_kept": True,
            "client_data": "ping",
            # close(): the server's close_notify answer is an eof first
            "events": ["made", "eof", "lost"] if how == "close"
            else ["made", "lost"],
            "server_lost": "None", "handler_calls": []})

    def _newcomers(self, body, expected, kinds=None):
        """Run body once per kind of newcomer: NEWCOMER is "socket",
        "blocking socket" (a wrong send would block the loop for good:
        the child's hang guard fails the test) or "pipe" (its write end
        under the number: a send() there fails with ENOTSOCK, a write()
        lands in the pipe)."""
        if kinds is None:
            for kind in ("socket", "blocking socket", "pipe"):
                with self.subTest(newcomer=kind):
                    self._newcomers(body, expected, kinds=(kind,))
            return
        for kind in kinds:
            self._run((NEWCOMER_SETUP + body).replace(
                "NEWCOMER", repr(kind)), expected)

    def test_write_after_the_socket_closed_behind_it(self):
        # asyncio's socket transport sends through the closed socket
        # object: EBADF, a fatal error, connection_lost(exc) to the app.
        self._newcomers(r'''
server, a, tr, cli, srv = await connected()
await rounds()
number = a.fileno()
a.close()
taken = newcomer(number)
tr.write(b"x" * (1 << 20))  # more than a socket buffer takes
lost = await asyncio.wait_for(cli.lost, 5)
await rounds()
report(lost=describe(lost), newcomer=taken(), events=cli.events,
       handler_calls=handler_calls)
server.close()
''', {"lost": "OSError: [Errno 9] Bad file descriptor",
      "newcomer": NEWCOMER_UNTOUCHED, "events": ["made", "lost"],
      "handler_calls": []})

    SHUTDOWN_TIMEOUT_BODY = r"""
server, a, tr, cli, srv = await connected(ssl_shutdown_timeout=0.5)
srv.transport.pause_reading()
await rounds()
tr.close()  # close_notify goes out; the timeout is pending
SAME_CALLBACK
number = a.fileno()
a.close()
taken = newcomer(number)
lost = await asyncio.wait_for(cli.lost, 5)
await rounds()
report(lost=describe(lost), newcomer=taken(), events=cli.events,
       handler_calls=handler_calls)
server.close()
"""

    def _shutdown_timeout(self, same_callback, kinds=None):
        import inspect
        params = inspect.signature(self.loop.create_connection).parameters
        if "ssl_shutdown_timeout" not in params:
            self.skipTest("this loop's create_connection has no "
                          "ssl_shutdown_timeout (3.10's signature)")
        self._newcomers(self.SHUTDOWN_TIMEOUT_BODY.replace(
            "SAME_CALLBACK", "" if same_callback else "await asyncio.sleep(0)"),
            {"lost": "TimeoutError: SSL shutdown timed out",
             "newcomer": NEWCOMER_UNTOUCHED, "events": ["made", "lost"],
             "handler_calls": []}, kinds=kinds)

    def test_shutdown_timeout_after_the_socket_closed_behind_it(self):
        # close() sends close_notify and waits for the peer's, which never
        # comes (the server's app reading is paused: its SSLProtocol reads
        # no record); in a later callback the socket is closed behind the
        # transport and its number taken, before the shutdown timeout
        # fires: the timeout's _force_close closes nothing of the
        # newcomer's, and the app hears asyncio's TimeoutError.
        self._shutdown_timeout(same_callback=False)

    @tls_support.pyloop_differs(
        "the write rule defers the close_notify that close() writes to "
        "the end of the callback; the socket closed behind the transport "
        "in that same callback makes the deferred send fail (EBADF, "
        "connection_lost(OSError)) where asyncio sent it at once and "
        "times out the shutdown (TimeoutError); the newcomer is untouched "
        "either way")
    def test_shutdown_timeout_socket_closed_in_the_same_callback(self):
        # (one newcomer, no subTest: the marker sees the failure raised)
        self._shutdown_timeout(same_callback=True, kinds=("socket",))

    def test_queued_read_after_the_socket_closed_behind_it(self):
        # The app's reading is paused while the old peer's record waits in
        # the incoming BIO; the socket is closed behind the transport, the
        # number taken; resume_reading's call_soon'd _do_read delivers the
        # BIO's bytes (the old connection's) and nothing of the newcomer's.
        if not self.NEW_SSLPROTO:
            self.skipTest("3.10's asyncio pauses the socket transport "
                          "itself: nothing waits in a BIO")
        self._newcomers(r'''
server, a, tr, cli, srv = await connected()
tr.pause_reading()
srv.transport.write(b"old data")
async def in_bio():
    while tr.get_read_buffer_size() == 0:
        await rounds(1)
await asyncio.wait_for(in_bio(), 5)
number = a.fileno()
a.close()
taken = newcomer(number)
tr.resume_reading()
got = await asyncio.wait_for(cli.received(8), 5)
await rounds()
tr.write(b"late")
lost = await asyncio.wait_for(cli.lost, 5)
report(got=got.decode(), lost=describe(lost), newcomer=taken(),
       events=cli.events, handler_calls=handler_calls)
server.close()
''', {"got": "old data", "lost": "OSError: [Errno 9] Bad file descriptor",
      "newcomer": NEWCOMER_UNTOUCHED, "events": ["made", "lost"],
      "handler_calls": []})

    def test_queued_read_then_abort_in_the_same_callback(self):
        # resume_reading() queues its read (call_soon) of what waits in the
        # incoming BIO; abort() in the same callback, either side of it,
        # makes the protocol UNWRAPPED first: the queued read delivers
        # nothing, and after the loss the freed number's newcomer is left
        # alone by the calls that follow.
        if not self.NEW_SSLPROTO:
            self.skipTest("3.10's asyncio pauses the socket transport "
                          "itself: nothing waits in a BIO")
        for order in ("resume_reading, abort", "abort, resume_reading"):
            with self.subTest(order=order):
                self._run(NEWCOMER_SETUP.replace("NEWCOMER", "'socket'") + r'''
server, a, tr, cli, srv = await connected()
tr.pause_reading()
srv.transport.write(b"old data")
async def in_bio():
    while tr.get_read_buffer_size() == 0:
        await rounds(1)
await asyncio.wait_for(in_bio(), 5)
number = a.fileno()
for call in ORDER:
    call()
lost = await asyncio.wait_for(cli.lost, 5)
await rounds()
taken = newcomer(number)
tr.resume_reading()
tr.write(b"late")
await rounds()
report(got=bytes(cli.data).decode(), lost=describe(lost), newcomer=taken(),
       events=cli.events, handler_calls=handler_calls)
server.close()
'''.replace("ORDER", "[%s]" % ", ".join("tr." + name for name in order.split(", "))),
                    {"got": "", "lost": None, "newcomer": NEWCOMER_UNTOUCHED,
                     "events": ["made", "lost"], "handler_calls": []})

    def test_handshake_timeout_after_the_socket_closed_behind_it(self):
        # The peer never answers the ClientHello; the socket is closed
        # behind the handshaking transport and its number taken; the
        # handshake timeout's _fatal_error then aborts the transport:
        # create_connection raises, the newcomer is untouched.
        self._newcomers(r'''
a, b = socket.socketpair()  # b never answers: the handshake waits
a.setblocking(False)
b.setblocking(False)
task = loop.create_task(loop.create_connection(
    Proto, sock=a, ssl=client_context(), server_hostname="localhost",
    ssl_handshake_timeout=1.0))
hello = await asyncio.wait_for(loop.sock_recv(b, 65536), 5)
number = a.fileno()
a.close()
taken = newcomer(number)
err = await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 5)
await rounds()
report(hello=len(hello) > 0, error=describe(err[0]), newcomer=taken(),
       handler_calls=handler_calls)
b.close()
''', {"hello": True,
      "error": "ConnectionAbortedError: SSL handshake is taking longer "
               "than 1.0 seconds: aborting the connection",
      "newcomer": NEWCOMER_UNTOUCHED, "handler_calls": []})

    def test_handshake_cancelled_then_number_reused_before_its_timeout(self):
        # create_connection cancelled during the handshake closes the
        # transport (and the socket); the number is taken; the handshake
        # timeout's deadline passes (a later timer of the test's, timers
        # run in deadline order): nothing touches the newcomer.
        self._newcomers(r'''
a, b = socket.socketpair()
a.setblocking(False)
b.setblocking(False)
task = loop.create_task(loop.create_connection(
    Proto, sock=a, ssl=client_context(), server_hostname="localhost",
    ssl_handshake_timeout=0.2))
hello = await asyncio.wait_for(loop.sock_recv(b, 65536), 5)
number = a.fileno()
task.cancel()
err = await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 5)
async def socket_closed():
    while a.fileno() != -1:
        await rounds(1)
await asyncio.wait_for(socket_closed(), 5)
taken = newcomer(number)
past = loop.create_future()
loop.call_later(0.3, past.set_result, None)
await asyncio.wait_for(past, 5)
await rounds()
report(hello=len(hello) > 0, error=describe(err[0]), newcomer=taken(),
       handler_calls=handler_calls)
b.close()
''', {"hello": True, "error": "CancelledError: ",
      "newcomer": NEWCOMER_UNTOUCHED, "handler_calls": []})


# Defines newcomer(number): takes the closed number for the kind NEWCOMER
# (substituted), with data of its own waiting, and returns taken(): what
# the newcomer's side looks like (NEWCOMER_UNTOUCHED if nothing of the old
# transport's reached it and its fd is still its own).
NEWCOMER_SETUP = r'''
def describe(exc):
    return None if exc is None else "%s: %s" % (type(exc).__name__, exc)

def newcomer(number):
    if NEWCOMER == "pipe":
        r, w = newcomer_pipe(number)
        def taken():
            stray = len(pending(lambda: os.read(r, 1 << 20)))
            os.write(number, b"mine")  # still the pipe's write end
            return {"peer_got": stray, "kept": os.read(r, 100) == b"mine"}
        return taken
    c, d = newcomer_pair(number)
    c.setblocking(NEWCOMER == "socket")
    d.send(b"newcomer's")
    def taken():
        stray = len(pending(lambda: d.recv(1 << 20)))
        c.setblocking(False)
        kept = pending(lambda: c.recv(100)) == b"newcomer's"
        d.send(b"mine")  # the number still is c's
        return {"peer_got": stray,
                "kept": kept and pending(lambda: c.recv(100)) == b"mine"}
    return taken

'''

NEWCOMER_UNTOUCHED = {"peer_got": 0, "kept": True}
