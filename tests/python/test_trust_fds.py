"""fd watchers: closed file objects, reused fd numbers, I/O while busy."""

import os
import socket

import base


@base.both_loops
class _ClosedFileObjects:
    """selectors find a registration by the file object itself when its
    fileno() is already -1, so asyncio can unregister a closed socket."""

    def setUp(self):
        super().setUp()
        self._sockets = []

    def tearDown(self):
        for sock in self._sockets:
            sock.close()
        super().tearDown()

    def _socketpair(self):
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        self._sockets += [a, b]
        return a, b

    def _remove_after_close(self, add, remove):
        a, b = self._socketpair()
        add(a, lambda: None)
        a.close()
        self.assertTrue(remove(a))

    def test_remove_reader_of_closed_socket_returns_true(self):
        self._remove_after_close(self.loop.add_reader, self.loop.remove_reader)

    def test_remove_writer_of_closed_socket_returns_true(self):
        self._remove_after_close(self.loop.add_writer, self.loop.remove_writer)

    def test_private_remove_reader_of_closed_socket_returns_true(self):
        self._remove_after_close(self.loop.add_reader,
                                 self.loop._remove_reader)

    def test_private_remove_writer_of_closed_socket_returns_true(self):
        self._remove_after_close(self.loop.add_writer,
                                 self.loop._remove_writer)

    def _reuse_fd_number(self, add, remove, make_ready):
        a, b = self._socketpair()
        add(a, lambda: None)
        number = a.fileno()
        a.close()
        self.assertTrue(remove(a))
        # A new socket under the old number (what the next socket() or
        # accept() usually gets once the old one is closed).
        c, d = self._socketpair()
        if c.fileno() == number:
            reused = c
        else:
            os.dup2(c.fileno(), number)
            reused = socket.socket(fileno=number)
            reused.setblocking(False)
            self._sockets.append(reused)
            c.close()
        fired = self.loop.create_future()
        add(reused, lambda: fired.done() or fired.set_result(None))
        make_ready(d)
        self.run_coro(fired)
        self.assertTrue(remove(reused))

    def test_reader_on_reused_fd_number_fires(self):
        self._reuse_fd_number(self.loop.add_reader, self.loop.remove_reader,
                              lambda peer: peer.send(b"x"))

    def test_writer_on_reused_fd_number_fires(self):
        self._reuse_fd_number(self.loop.add_writer, self.loop.remove_writer,
                              lambda peer: None)


@base.both_loops
class _IoWhileBusy:
    """A loop with callbacks ready still polls I/O (without blocking) on
    every iteration, so a reader runs in the iteration after its data
    arrives, right behind what was already ready."""

    STEPS = 120
    WRITES = (10, 30, 50, 70, 90)

    def test_reader_runs_one_iteration_after_the_write_during_a_chain(self):
        self.require_asyncio_iteration_semantics()
        loop = self.loop
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        a.setblocking(False)
        b.setblocking(False)
        order = []

        def on_readable():
            order.append(("read", a.recv(16)))

        def step(i):
            order.append(i)
            if i in self.WRITES:
                b.send(b"x")
            if i < self.STEPS:
                loop.call_soon(step, i + 1)
            else:
                loop.stop()

        loop.add_reader(a.fileno(), on_readable)
        self.addCleanup(loop.remove_reader, a.fileno())
        loop.call_soon(step, 0)
        self.run_forever_guarded()
        # Written in step S (iteration S); polled at the start of iteration
        # S + 1, whose ready queue holds step S + 1: the reader follows it.
        expected = []
        for i in range(self.STEPS + 1):
            expected.append(i)
            if i - 1 in self.WRITES:
                expected.append(("read", b"x"))
        self.assertEqual(order, expected)
