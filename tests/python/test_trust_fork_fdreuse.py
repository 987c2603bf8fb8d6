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

    def _fork(self, action):
        body = FORK_BODY.replace("CHILD_ACTION", "\n".join(
            "    " + line for line in action.strip().splitlines()))
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
