"""Fork and fd reuse never cross connections or touch the parent (issue 14,
items 4 and 5).

A forked child shares its parent's epoll instance and wakeup fd with it: a
child that closes its loop, exits through Python or _exits must leave the
parent serving every transport (TCP, Unix, pipes, datagram) and add_reader
watcher, as asyncio's parent keeps serving. A transport whose socket was
closed behind it, with the fd number reused by a new socket, must never
write into or read from the newcomer (asyncio: OSError EBADF and
connection_lost), whether the newcomer blocks or not.

Every scenario runs in a child process (child.py): the regressions are a
hang or a parent that stops serving.
"""

import asyncio
import os
import socket
import sys
import unittest

import base
from child import assert_child, run_child

HAVE_FORK = hasattr(os, "fork")


# The parent's side of the fork tests: one connection or watcher of every
# kind, each proven to work before the fork and asked again after the
# child is gone. CHILD_ACTION (substituted) is what the forked child does.
FORK_BODY = r'''
import os, socket, tempfile, threading

loop = new_loop()
asyncio.set_event_loop(loop)
tmp = tempfile.mkdtemp()
results = {}

class Echo(asyncio.Protocol):
    def connection_made(self, tr): self.tr = tr
    def data_received(self, data): self.tr.write(data)

class Collect(asyncio.Protocol):
    def __init__(self): self.queue = asyncio.Queue()
    def data_received(self, data): self.queue.put_nowait(data)

class DatagramEcho(asyncio.DatagramProtocol):
    def connection_made(self, tr): self.tr = tr
    def datagram_received(self, data, addr): self.tr.sendto(data, addr)

class DatagramCollect(asyncio.DatagramProtocol):
    def __init__(self): self.queue = asyncio.Queue()
    def connection_made(self, tr): self.transport = tr
    def datagram_received(self, data, addr): self.queue.put_nowait(data)

async def echo(reader, writer, data):
    writer.write(data)
    return await asyncio.wait_for(reader.readexactly(len(data)), 5)

async def setup():
    tcp = await loop.create_server(Echo, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    path = os.path.join(tmp, "s")
    unix = await loop.create_unix_server(Echo, path)
    conns = {"tcp": await asyncio.open_connection("127.0.0.1", port),
             "unix": await asyncio.open_unix_connection(path)}
    for name, (r, w) in conns.items():
        assert await echo(r, w, b"before") == b"before", name
    # Pipes: a read pipe transport and a write pipe transport.
    rfd, wfd = os.pipe()
    _, rpipe = await loop.connect_read_pipe(Collect, os.fdopen(rfd, "rb", 0))
    rfd2, wfd2 = os.pipe()
    os.set_blocking(rfd2, False)
    wpipe, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(wfd2, "wb", 0))
    # Datagrams: an echo endpoint and a client.
    dserver, _ = await loop.create_datagram_endpoint(DatagramEcho, local_addr=("127.0.0.1", 0))
    _, dclient = await loop.create_datagram_endpoint(
        DatagramCollect, remote_addr=dserver.get_extra_info("sockname"))
    # add_reader on a socketpair.
    a, b = socket.socketpair()
    a.setblocking(False)
    readable = asyncio.Queue()
    loop.add_reader(a, lambda: readable.put_nowait(a.recv(100)))
    return dict(port=port, path=path, conns=conns, rpipe=rpipe, wfd=wfd, wpipe=wpipe,
                rfd2=rfd2, dclient=dclient, pair=(a, b), readable=readable)

async def check(s):
    out = {}
    async def item(name, coro):
        try:
            out[name] = await coro
        except Exception as exc:
            out[name] = repr(exc)
    async def new_conn(opener):
        r, w = await opener
        try:
            return await echo(r, w, b"new") == b"new"
        finally:
            w.close()
    async def write_pipe():
        s["wpipe"].write(b"wpipe")
        got = b""
        while len(got) < 5:
            fut = loop.create_future()
            loop.add_reader(s["rfd2"], lambda: fut.done() or fut.set_result(None))
            try:
                await asyncio.wait_for(fut, 5)
            finally:
                loop.remove_reader(s["rfd2"])
            got += os.read(s["rfd2"], 100)
        return got == b"wpipe"
    async def got(queue, data):
        return await asyncio.wait_for(queue.get(), 5) == data
    for name, (r, w) in s["conns"].items():
        await item(name + "_old", echo(r, w, b"after"))
        out[name + "_old"] = out[name + "_old"] == b"after" or out[name + "_old"]
    await item("tcp_new", new_conn(asyncio.open_connection("127.0.0.1", s["port"])))
    await item("unix_new", new_conn(asyncio.open_unix_connection(s["path"])))
    os.write(s["wfd"], b"pipe")
    await item("read_pipe", got(s["rpipe"].queue, b"pipe"))
    await item("write_pipe", write_pipe())
    s["dclient"].transport.sendto(b"dgram")
    await item("datagram", got(s["dclient"].queue, b"dgram"))
    s["pair"][1].send(b"watch")
    await item("add_reader", got(s["readable"], b"watch"))
    return out

state = loop.run_until_complete(setup())
assert loop.run_until_complete(check(state)) == {k: True for k in (
    "tcp_old", "unix_old", "tcp_new", "unix_new", "read_pipe", "write_pipe", "datagram", "add_reader")}

pid = os.fork()
if pid == 0:
CHILD_ACTION
    os._exit(0)
_, status = os.waitpid(pid, 0)
results["child_status"] = os.waitstatus_to_exitcode(status)
results.update(loop.run_until_complete(check(state)))
report(**results)
'''


ALL_SERVING = {k: True for k in (
    "tcp_old", "unix_old", "tcp_new", "unix_new", "read_pipe", "write_pipe",
    "datagram", "add_reader")}


@base.both_loops
class _ForkedChildLeavesParentServing:
    """Whatever a forked child does with its copy of the loop, the parent's
    epoll set and wakeup fd stay the parent's: every transport and watcher
    keeps serving, old connections and new ones."""

    def setUp(self):
        if not HAVE_FORK:
            self.skipTest("os.fork is not available")
        super().setUp()

    def _fork(self, action, in_callback=False):
        body = FORK_BODY.replace("CHILD_ACTION", "\n".join(
            "    " + line for line in action.strip().splitlines()))
        if in_callback:
            # The fork happens while the loop runs: the child's copy goes
            # on with the iteration (asyncio 3.12+ resets the running loop
            # in the child; the run still returns there).
            body = body.replace("pid = os.fork()", """
async def fork_in_callback():
    return os.fork()
pid = loop.run_until_complete(fork_in_callback())""")
        result, proc = run_child(self, body, timeout=30)
        expected = dict(ALL_SERVING, child_status=0)
        assert_child(self, result, proc, expected)

    def test_child_closes_its_loop(self):
        self._fork("loop.close()")

    def test_child_exits_through_python(self):
        # sys.exit unwinds: the loop, transports and servers are finalized
        # (and collected) in the child.
        self._fork("""
import gc
gc.collect()
sys.exit(0)
""")

    def test_child_exits_through_python_without_closing(self):
        # Everything dropped, the collector run, then interpreter shutdown.
        if self.LOOP_NAME == "asyncio":
            self.skipTest(
                "asyncio does not keep this: StreamWriter.__del__ (3.11.3+) "
                "and the transports' close() in the child deregister the "
                "shared sockets from the epoll instance the child shares "
                "with its parent, and the parent's old connections go "
                "silent; PyLoop's child never touches the parent's set")
        self._fork("""
import gc
del state
loop = None
asyncio.set_event_loop(None)
gc.collect()
sys.exit(0)
""")

    def test_child_forked_while_the_loop_runs_closes_it(self):
        self._fork("loop.close()", in_callback=True)

    def test_child_os_exit(self):
        self._fork("os._exit(0)")

    def test_child_runs_the_inherited_loop_then_closes_it(self):
        # Timers and a wakeup from another thread work in the child, on
        # the child's own kernel objects, and do not disturb the parent.
        self._fork("""
async def in_child():
    fut = loop.create_future()
    threading.Thread(target=loop.call_soon_threadsafe,
                     args=(fut.set_result, 7)).start()
    await asyncio.sleep(0.001)
    return await asyncio.wait_for(fut, 5)
if loop.run_until_complete(in_child()) != 7:
    os._exit(4)
loop.close()
""")

    def test_child_runs_a_new_loop(self):
        self._fork("""
async def in_child():
    a, b = socket.socketpair()
    r, w = await asyncio.open_connection(sock=a)
    b.sendall(b"child")
    data = await asyncio.wait_for(r.readexactly(5), 5)
    w.close()
    b.close()
    return data
child_loop = new_loop()
if child_loop.run_until_complete(in_child()) != b"child":
    os._exit(4)
child_loop.close()
loop.close()
""")


# ---------------------------------------------------------------------------
# fd reuse

def newcomer_pair(number):
    """A connected socket pair (newcomer, peer) whose newcomer has fd
    `number`, which the caller just closed: what the next socket() or
    accept() usually gets."""
    c, d = socket.socketpair()
    if d.fileno() == number:
        c, d = d, c
    if c.fileno() != number:
        os.dup2(c.fileno(), number)  # `number` is free: it was just closed
        c.close()
        c = socket.socket(fileno=number)
    return c, d


class Recorder:
    """A protocol that records what reaches it."""

    def __init__(self, loop):
        self.data = []
        self.lost = loop.create_future()
        self.first_data = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.data.append(data)
        if not self.first_data.done():
            self.first_data.set_result(None)

    def eof_received(self):
        pass

    def connection_lost(self, exc):
        self.lost.set_result(exc)


@base.both_loops
class _SocketClosedBehindTransport:
    """The program closes the socket it gave create_connection(sock=...)
    and a new socket takes its fd number: asyncio's transport goes through
    the closed socket object (EBADF, connection_lost), and never touches
    the newcomer. Neither may PyLoop's."""

    KINDS = ("tcp", "unix")

    def setUp(self):
        super().setUp()
        self._closing = []
        self._transports = []

    def tearDown(self):
        for transport in self._transports:
            transport.close()
        for sock in self._closing:
            sock.close()
        super().tearDown()

    def _pair(self, kind):
        if kind == "unix":
            a, b = socket.socketpair()
        else:
            with socket.create_server(("127.0.0.1", 0)) as server:
                a = socket.create_connection(server.getsockname())
                b, _ = server.accept()
        a.setblocking(False)
        b.setblocking(False)
        self._closing += [a, b]
        return a, b

    def _connect(self, kind):
        a, b = self._pair(kind)
        transport, protocol = self.run_coro(self.loop.create_connection(
            lambda: Recorder(self.loop), sock=a))
        self._transports.append(transport)
        return a, b, transport, protocol

    def _newcomer(self, number, blocking):
        c, d = newcomer_pair(number)
        c.setblocking(blocking)
        d.setblocking(False)
        self._closing += [c, d]
        return c, d

    def _assert_untouched(self, c, d, protocol):
        # The newcomer's peer got nothing from the old transport, and what
        # the peer sends is the newcomer's alone.
        with self.assertRaises(BlockingIOError):
            d.recv(100)
        d.send(b"newcomer's")
        c.settimeout(base.TIMEOUT)
        self.assertEqual(c.recv(100), b"newcomer's")
        self.assertNotIn(b"newcomer's", b"".join(protocol.data))

    def _assert_ebadf_lost(self, protocol):
        exc = self.run_coro(protocol.lost)
        self.assertIsInstance(exc, OSError)
        self.assertEqual(exc.errno, 9)  # EBADF

    def test_write_after_close_reports_ebadf_and_spares_the_newcomer(self):
        for kind in self.KINDS:
            with self.subTest(kind=kind):
                a, b, transport, protocol = self._connect(kind)
                number = a.fileno()
                a.close()
                c, d = self._newcomer(number, blocking=False)
                transport.write(b"late")
                self._assert_ebadf_lost(protocol)
                self._assert_untouched(c, d, protocol)

    def test_writelines_after_close_reports_ebadf(self):
        for kind in self.KINDS:
            with self.subTest(kind=kind):
                a, b, transport, protocol = self._connect(kind)
                number = a.fileno()
                a.close()
                c, d = self._newcomer(number, blocking=False)
                transport.writelines([b"la", b"te"])
                self._assert_ebadf_lost(protocol)
                self._assert_untouched(c, d, protocol)

    def test_resume_reading_after_close_reads_nothing_of_the_newcomer(self):
        for kind in self.KINDS:
            with self.subTest(kind=kind):
                a, b, transport, protocol = self._connect(kind)
                self.run_briefly()
                number = a.fileno()
                a.close()
                c, d = self._newcomer(number, blocking=False)
                d.send(b"secret")
                transport.pause_reading()
                # asyncio registers the number again, and its recv on the
                # closed socket fails: a fatal read error.
                transport.resume_reading()
                self._assert_ebadf_lost(protocol)
                self.assertEqual(protocol.data, [])
                c.settimeout(base.TIMEOUT)
                self.assertEqual(c.recv(100), b"secret")

    def test_buffered_read_queued_before_the_close_reads_nothing_of_the_newcomer(self):
        # A BufferedProtocol's read is the transport's own recv_into (not
        # the stream's): it must make the same check. The read is queued
        # (the socket is readable when the iteration starts) behind a
        # callback that closes the socket and opens the newcomer.
        import select

        class BufferedRecorder(Recorder, asyncio.BufferedProtocol):
            def get_buffer(self, sizehint):
                self.buffer = bytearray(100)
                return self.buffer

            def buffer_updated(self, nbytes):
                self.data_received(bytes(self.buffer[:nbytes]))

        for kind in self.KINDS:
            with self.subTest(kind=kind):
                a, b = self._pair(kind)
                transport, protocol = self.run_coro(self.loop.create_connection(
                    lambda: BufferedRecorder(self.loop), sock=a))
                self._transports.append(transport)
                self.run_briefly()
                newcomer = []

                def close_and_reuse():
                    number = a.fileno()
                    a.close()
                    c, d = self._newcomer(number, blocking=False)
                    d.send(b"secret")
                    select.select([c], [], [], base.TIMEOUT)
                    newcomer.append(c)

                b.send(b"old")
                select.select([a], [], [], base.TIMEOUT)
                self.loop.call_soon(close_and_reuse)
                self._assert_ebadf_lost(protocol)
                self.assertEqual(protocol.data, [])
                c = newcomer[0]
                c.settimeout(base.TIMEOUT)
                self.assertEqual(c.recv(100), b"secret")

    def test_transport_socket_close_counts_as_closing_the_socket(self):
        a, b, transport, protocol = self._connect("unix")
        number = a.fileno()
        tsock = transport.get_extra_info("socket")
        if not hasattr(tsock, "close"):
            self.skipTest("this asyncio's TransportSocket has no close()")
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            tsock.close()
        c, d = self._newcomer(number, blocking=False)
        transport.write(b"late")
        self._assert_ebadf_lost(protocol)
        self._assert_untouched(c, d, protocol)

    def test_new_transport_on_the_reused_number_reads(self):
        # The old transport never learned of the close (nothing written):
        # its watchers still hold the number when a new connection gets it
        # on the same loop.
        if self.LOOP_NAME == "asyncio":
            self.skipTest(
                "asyncio's selector keeps the stale key: the newcomer's "
                "_add_reader is a modify() without a system call, and the "
                "new transport never reads")
        for kind in self.KINDS:
            with self.subTest(kind=kind):
                a, b, transport, protocol = self._connect(kind)
                self.run_briefly()
                number = a.fileno()
                a.close()
                c, d = self._newcomer(number, blocking=False)
                new_transport, new_protocol = self.run_coro(
                    self.loop.create_connection(lambda: Recorder(self.loop), sock=c))
                self._transports.append(new_transport)
                d.send(b"newcomer's")
                # The old transport fails as its next recv would.
                self._assert_ebadf_lost(protocol)
                self.run_coro(new_protocol.first_data)
                self.assertEqual(new_protocol.data, [b"newcomer's"])
                new_transport.write(b"reply")
                d.settimeout(base.TIMEOUT)
                self.assertEqual(d.recv(100), b"reply")
                self.assertEqual(protocol.data, [])

    def test_blocking_newcomer_never_blocks_the_loop(self):
        # Before the fix the old transport's send went to a blocking
        # newcomer whose peer does not read: the loop thread blocked with
        # the GIL held. In a child, so that a hang fails the test.
        for kind in self.KINDS:
            with self.subTest(kind=kind):
                result, proc = run_child(self, BLOCKING_NEWCOMER.replace(
                    "KIND", kind))
                assert_child(self, result, proc, {
                    "lost_errno": 9, "peer_got": 0, "newcomer_kept": True})


BLOCKING_NEWCOMER = r'''
import os, socket
loop = new_loop()

class Recorder(asyncio.Protocol):
    def __init__(self): self.data = []; self.lost = loop.create_future()
    def data_received(self, data): self.data.append(data)
    def connection_lost(self, exc): self.lost.set_result(exc)

async def main():
    if "KIND" == "unix":
        a, b = socket.socketpair()
    else:
        server = socket.create_server(("127.0.0.1", 0))
        a = socket.create_connection(server.getsockname())
        b, _ = server.accept()
        server.close()
    a.setblocking(False)
    transport, protocol = await loop.create_connection(Recorder, sock=a)
    number = a.fileno()
    a.close()
    c, d = socket.socketpair()
    if d.fileno() == number:
        c, d = d, c
    if c.fileno() != number:
        os.dup2(c.fileno(), number)
        c.close()
        c = socket.socket(fileno=number)
    c.setblocking(True)  # the newcomer blocks; its peer never reads
    transport.write(b"x" * (8 << 20))
    exc = await asyncio.wait_for(protocol.lost, 5)
    d.setblocking(False)
    try:
        peer_got = len(d.recv(1 << 20))
    except BlockingIOError:
        peer_got = 0
    d.send(b"mine")
    kept = c.recv(100) == b"mine"
    report(lost_errno=getattr(exc, "errno", repr(exc)), peer_got=peer_got,
           newcomer_kept=kept and b"mine" not in b"".join(protocol.data))

loop.run_until_complete(main())
'''


@base.both_loops
class _FdClosedBehindTransport:
    """os.close() of the transport's fd: the socket object still holds the
    number, and asyncio sends through it; but the kernel dropped the
    epoll registration with the old file, and neither loop may register
    the newcomer in its place: the old transport never reads its data."""

    def test_buffered_write_never_registers_the_newcomer(self):
        result, proc = run_child(self, OS_CLOSED_BUFFERED_WRITE)
        assert_child(self, result, proc, {
            "error_errno": 2, "protocol_saw_secret": False,
            "newcomer_kept": True})

    def test_blocking_newcomer_never_blocks_the_loop(self):
        if self.LOOP_NAME == "asyncio":
            self.skipTest(
                "asyncio's sock.send() goes to the blocking newcomer under "
                "the number and blocks the loop for good; PyLoop sends "
                "with MSG_DONTWAIT and never blocks")
        result, proc = run_child(self, OS_CLOSED_BLOCKING)
        assert_child(self, result, proc, {"loop_alive": True})


OS_CLOSED_BUFFERED_WRITE = r'''
import os, socket
loop = new_loop()
errors = []
loop.set_exception_handler(lambda loop, ctx: errors.append(ctx))

class Recorder(asyncio.Protocol):
    def __init__(self): self.data = []; self.lost = loop.create_future()
    def data_received(self, data): self.data.append(data)
    def connection_lost(self, exc): self.lost.set_result(exc)

async def main():
    a, b = socket.socketpair()
    a.setblocking(False)
    transport, protocol = await loop.create_connection(Recorder, sock=a)
    await asyncio.sleep(0)
    number = a.fileno()
    os.close(number)
    c, d = socket.socketpair()
    assert c.fileno() == number
    c.setblocking(False)
    d.setblocking(False)
    d.send(b"secret")
    # The newcomer's file, whoever closes the number later (PyLoop's
    # connection_lost closes the old socket object, as asyncio's would).
    keep = socket.socket(fileno=os.dup(number))
    keep.setblocking(False)
    # More than the newcomer's buffer takes: the transport must wait for
    # writability, which asks epoll to watch the number for writing.
    error = None
    try:
        transport.write(b"x" * (8 << 20))
    except OSError as exc:  # asyncio: selectors' modify() raises
        error = exc
    if error is None:  # PyLoop: a fatal write error
        error = await asyncio.wait_for(protocol.lost, 5)
    for _ in range(5):
        await asyncio.sleep(0)
    # The newcomer's data is still there for the newcomer.
    chunks = []
    while True:
        try:
            chunk = keep.recv(1 << 20)
        except BlockingIOError:
            break
        chunks.append(chunk)
    report(error_errno=getattr(error, "errno", repr(error)),
           protocol_saw_secret=b"secret" in b"".join(protocol.data),
           newcomer_kept=b"secret" in b"".join(chunks))

loop.run_until_complete(main())
os._exit(0)  # the socket objects hold numbers that are not theirs any more
'''

OS_CLOSED_BLOCKING = r'''
import os, socket
loop = new_loop()
loop.set_exception_handler(lambda loop, ctx: None)

async def main():
    a, b = socket.socketpair()
    a.setblocking(False)
    transport, protocol = await loop.create_connection(asyncio.Protocol, sock=a)
    number = a.fileno()
    os.close(number)
    c, d = socket.socketpair()
    assert c.fileno() == number
    c.setblocking(True)
    transport.write(b"x" * (8 << 20))
    await asyncio.sleep(0)
    report(loop_alive=True)

loop.run_until_complete(main())
os._exit(0)
'''


@base.both_loops
class _WatcherOnClosedFd:
    """add_reader on a socket that is then closed without remove_reader,
    its number reused: the old callback never runs for the newcomer;
    adding the other direction raises FileNotFoundError (selectors'
    modify()) and forgets the stale registration, so that the next
    add_reader watches the newcomer."""

    def test_stale_watcher_never_fires_for_the_newcomer(self):
        for close in ("close", "os.close"):
            with self.subTest(close=close):
                a, b = socket.socketpair()
                self.addCleanup(b.close)
                a.setblocking(False)
                number = a.fileno()
                old_calls = []
                self.loop.add_reader(a, lambda: old_calls.append(1))
                if close == "close":
                    a.close()
                else:
                    os.close(number)
                    a.detach()
                c, d = newcomer_pair(number)
                self.addCleanup(c.close)
                self.addCleanup(d.close)
                c.setblocking(False)
                d.send(b"x")
                for _ in range(3):
                    self.run_briefly()
                self.assertEqual(old_calls, [])
                with self.assertRaises(FileNotFoundError):
                    self.loop.add_writer(c, lambda: None)
                self.assertEqual(old_calls, [])
                fired = self.loop.create_future()
                self.loop.add_reader(c, lambda: fired.done() or fired.set_result(c.recv(10)))
                self.assertEqual(self.run_coro(fired), b"x")
                self.assertTrue(self.loop.remove_reader(c))
                self.assertFalse(self.loop.remove_writer(c))
                self.assertEqual(old_calls, [])


@base.both_loops
class _OtherTransportsAfterReuse:
    """The same guarantee for the datagram transport, read pipes and the
    sock_* coroutines: a closed fd's number, taken by a newcomer, gets no
    byte from the old owner and gives it none (asyncio's behaviour, which
    goes through the socket object or the kernel's dropped registration)."""

    def test_datagram_sendto_after_close(self):
        loop = self.loop

        class Proto(asyncio.DatagramProtocol):
            def __init__(self):
                self.got, self.errors = [], []

            def datagram_received(self, data, addr):
                self.got.append(data)

            def error_received(self, exc):
                self.errors.append(exc)

        def udp():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            return s

        a, peer = udp(), udp()
        self.addCleanup(peer.close)
        transport, protocol = self.run_coro(
            loop.create_datagram_endpoint(Proto, sock=a))
        number = a.fileno()
        a.close()
        c = udp()
        self.addCleanup(c.close)
        if c.fileno() != number:
            self.skipTest("the next socket did not take the closed number")
        transport.sendto(b"late", peer.getsockname())
        peer.sendto(b"newcomer's", c.getsockname())
        for _ in range(3):
            self.run_briefly()
        self.assertEqual([e.errno for e in protocol.errors], [9])
        self.assertEqual(protocol.got, [])
        with self.assertRaises(BlockingIOError):
            peer.recv(100)
        c.settimeout(base.TIMEOUT)
        self.assertEqual(c.recv(100), b"newcomer's")
        transport.close()
        self.run_briefly()

    def test_read_pipe_closed_behind_its_transport(self):
        loop = self.loop
        r, w = os.pipe()
        self.addCleanup(os.close, w)
        pipe = os.fdopen(r, "rb", 0)
        transport, protocol = self.run_coro(loop.connect_read_pipe(
            lambda: Recorder(loop), pipe))
        self.run_briefly()
        pipe.close()
        r2, w2 = os.pipe()
        self.addCleanup(os.close, r2)
        self.addCleanup(os.close, w2)
        if r2 != r:
            self.skipTest("the next pipe did not take the closed number")
        os.write(w2, b"newcomer's")
        for _ in range(3):
            self.run_briefly()
        self.assertEqual(protocol.data, [])
        self.assertEqual(os.read(r2, 100), b"newcomer's")
        transport.close()
        self.run_briefly()

    def test_sock_recv_waiting_on_a_closed_socket(self):
        loop = self.loop
        a, b = socket.socketpair()
        self.addCleanup(b.close)
        a.setblocking(False)
        number = a.fileno()
        task = loop.create_task(loop.sock_recv(a, 100))
        self.run_briefly()
        a.close()
        c, d = newcomer_pair(number)
        self.addCleanup(c.close)
        self.addCleanup(d.close)
        d.send(b"newcomer's")
        for _ in range(3):
            self.run_briefly()
        self.assertFalse(task.done())
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            self.run_coro(task)
        c.settimeout(base.TIMEOUT)
        self.assertEqual(c.recv(100), b"newcomer's")
