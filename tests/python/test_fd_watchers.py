"""add_reader / remove_reader / add_writer / remove_writer."""

import os
import socket

import base


@base.both_loops
class _FdWatchers:

    def setUp(self):
        super().setUp()
        self._fds_to_close = []

    def tearDown(self):
        for obj in self._fds_to_close:
            if isinstance(obj, int):
                try:
                    self.loop.remove_reader(obj)
                    self.loop.remove_writer(obj)
                except Exception:
                    pass
                try:
                    os.close(obj)
                except OSError:
                    pass
            else:
                try:
                    self.loop.remove_reader(obj.fileno())
                    self.loop.remove_writer(obj.fileno())
                except Exception:
                    pass
                obj.close()
        super().tearDown()

    def _socketpair(self):
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        self._fds_to_close += [a, b]
        return a, b

    def _pipe(self):
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        self._fds_to_close += [r, w]
        return r, w

    def test_reader_socketpair(self):
        a, b = self._socketpair()
        got = []
        done = self.loop.create_future()

        def on_readable(sock, tag):
            data = sock.recv(65536)
            got.append((tag, data))
            if b"".join(d for _, d in got) == b"hello world":
                done.set_result(None)

        self.loop.add_reader(a.fileno(), on_readable, a, "tag")
        # Nothing to read yet: a loop iteration does not call the reader.
        self.run_briefly()
        self.assertEqual(got, [])
        b.send(b"hello ")
        self.loop.call_soon(b.send, b"world")
        self.run_coro(done)
        self.assertTrue(all(tag == "tag" for tag, _ in got))
        self.assertTrue(self.loop.remove_reader(a.fileno()))
        self.assertFalse(self.loop.remove_reader(a.fileno()))

    def test_reader_removed_is_not_called(self):
        a, b = self._socketpair()
        calls = []
        self.loop.add_reader(a.fileno(), calls.append, "reader")
        self.assertTrue(self.loop.remove_reader(a.fileno()))
        b.send(b"x")
        # A second, independent watcher proves the data is readable and the
        # loop polled it.
        c, d = self._socketpair()
        seen = self.loop.create_future()
        self.loop.add_reader(c.fileno(), lambda: seen.done() or
                             seen.set_result(None))
        d.send(b"y")
        self.run_coro(seen)
        self.loop.remove_reader(c.fileno())
        self.run_briefly()
        self.assertEqual(calls, [])

    def test_replace_reader_callback(self):
        a, b = self._socketpair()
        calls = []
        done = self.loop.create_future()

        def second():
            calls.append("second")
            a.recv(100)
            done.set_result(None)

        self.loop.add_reader(a.fileno(), calls.append, "first")
        self.loop.add_reader(a.fileno(), second)
        b.send(b"x")
        self.run_coro(done)
        self.assertEqual(calls, ["second"])
        self.assertTrue(self.loop.remove_reader(a.fileno()))

    def test_writer_socketpair(self):
        a, b = self._socketpair()
        calls = []
        done = self.loop.create_future()

        def on_writable(tag):
            calls.append(tag)
            # Remove from inside the callback: called exactly once.
            self.assertTrue(self.loop.remove_writer(a.fileno()))
            a.send(b"written")
            done.set_result(None)

        self.loop.add_writer(a.fileno(), on_writable, "w")
        self.run_coro(done)
        self.run_briefly()
        self.assertEqual(calls, ["w"])
        self.assertEqual(b.recv(100), b"written")
        self.assertFalse(self.loop.remove_writer(a.fileno()))

    def test_replace_writer_callback(self):
        a, b = self._socketpair()
        calls = []
        done = self.loop.create_future()

        def second():
            calls.append("second")
            self.loop.remove_writer(a.fileno())
            done.set_result(None)

        self.loop.add_writer(a.fileno(), calls.append, "first")
        self.loop.add_writer(a.fileno(), second)
        self.run_coro(done)
        self.assertEqual(calls, ["second"])

    def test_writer_waits_for_space(self):
        a, b = self._socketpair()
        # Fill the send buffer.
        try:
            while True:
                a.send(b"x" * 65536)
        except BlockingIOError:
            pass
        writable = self.loop.create_future()
        self.loop.add_writer(a.fileno(), lambda: writable.done() or
                             writable.set_result(None))
        self.run_briefly()
        self.assertFalse(writable.done())
        drained = 0

        def drain():
            nonlocal drained
            try:
                while True:
                    chunk = b.recv(1 << 20)
                    if not chunk:
                        break
                    drained += len(chunk)
            except BlockingIOError:
                pass

        self.loop.add_reader(b.fileno(), drain)
        self.run_coro(writable)
        self.assertTrue(self.loop.remove_writer(a.fileno()))
        self.assertTrue(self.loop.remove_reader(b.fileno()))
        self.assertGreater(drained, 0)

    def test_reader_and_writer_same_fd(self):
        a, b = self._socketpair()
        events = []
        both = self.loop.create_future()

        def check():
            if {"r", "w"} <= set(events) and not both.done():
                both.set_result(None)

        def on_read():
            events.append("r")
            a.recv(100)
            check()

        def on_write():
            events.append("w")
            self.loop.remove_writer(a.fileno())
            check()

        self.loop.add_reader(a.fileno(), on_read)
        self.loop.add_writer(a.fileno(), on_write)
        b.send(b"ping")
        self.run_coro(both)
        # Removing the writer kept the reader.
        more = self.loop.create_future()

        def on_read2():
            more.set_result(a.recv(100))

        self.loop.add_reader(a.fileno(), on_read2)
        b.send(b"again")
        self.assertEqual(self.run_coro(more), b"again")
        self.assertTrue(self.loop.remove_reader(a.fileno()))
        self.assertFalse(self.loop.remove_writer(a.fileno()))

    def test_file_object_accepted(self):
        a, b = self._socketpair()
        got = self.loop.create_future()
        self.loop.add_reader(a, lambda: got.set_result(a.recv(10)))
        b.send(b"obj")
        self.assertEqual(self.run_coro(got), b"obj")
        self.assertTrue(self.loop.remove_reader(a))

    def test_pipe_reader_and_writer(self):
        r, w = self._pipe()
        chunks = []
        eof = self.loop.create_future()
        payload = os.urandom(256 * 1024)
        view = memoryview(payload)
        sent = 0

        def on_readable():
            try:
                data = os.read(r, 65536)
            except BlockingIOError:
                return
            if not data:
                self.loop.remove_reader(r)
                eof.set_result(None)
            else:
                chunks.append(data)

        def on_writable():
            nonlocal sent
            try:
                sent += os.write(w, view[sent:sent + 65536])
            except BlockingIOError:
                return
            if sent == len(payload):
                self.loop.remove_writer(w)
                os.close(w)
                self._fds_to_close.remove(w)

        self.loop.add_reader(r, on_readable)
        self.loop.add_writer(w, on_writable)
        self.run_coro(eof)
        self.assertEqual(b"".join(chunks), payload)
        self.assertFalse(self.loop.remove_reader(r))

    def test_reader_callback_exception_goes_to_handler(self):
        a, b = self._socketpair()
        done = self.loop.create_future()

        def bad():
            a.recv(100)
            self.loop.remove_reader(a.fileno())
            self.loop.call_soon(done.set_result, None)
            raise ZeroDivisionError

        self.loop.add_reader(a.fileno(), bad)
        b.send(b"x")
        self.run_coro(done)
        errors = self.take_loop_errors()
        self.assertEqual(len(errors), 1)
        self.assertIsInstance(errors[0]["exception"], ZeroDivisionError)
        self.assertTrue(errors[0]["message"].startswith(
            "Exception in callback"))

    def test_many_fds(self):
        pairs = [self._socketpair() for _ in range(64)]
        seen = set()
        done = self.loop.create_future()

        def on_read(i, sock):
            sock.recv(100)
            self.loop.remove_reader(sock.fileno())
            seen.add(i)
            if len(seen) == len(pairs):
                done.set_result(None)

        for i, (a, b) in enumerate(pairs):
            self.loop.add_reader(a.fileno(), on_read, i, a)
        for a, b in reversed(pairs):
            b.send(b"!")
        self.run_coro(done)
        self.assertEqual(seen, set(range(len(pairs))))

    def test_closed_loop_rejects_watchers(self):
        a, b = self._socketpair()
        self.loop.close()
        with self.assertRaisesRegex(RuntimeError, "Event loop is closed"):
            self.loop.add_reader(a.fileno(), lambda: None)
        with self.assertRaisesRegex(RuntimeError, "Event loop is closed"):
            self.loop.add_writer(a.fileno(), lambda: None)

    def test_sock_methods_coexist_with_add_reader(self):
        # sock_recv works on a socket whose explicit reader was removed.
        a, b = self._socketpair()
        self.loop.add_reader(a.fileno(), lambda: None)
        self.assertTrue(self.loop.remove_reader(a.fileno()))

        async def main():
            self.loop.call_soon(b.send, b"data")
            return await self.loop.sock_recv(a, 100)

        self.assertEqual(self.run_coro(main()), b"data")
