"""connect_read_pipe / connect_write_pipe, subprocesses."""

import asyncio
import os
import signal
import subprocess
import sys

import base

PY = sys.executable


@base.both_loops
class _PipesAndSubprocesses:

    # ---- pipes -----------------------------------------------------------

    def test_read_and_write_pipes(self):
        loop = self.loop
        payload = os.urandom(1024 * 1024)

        async def main():
            r, w = os.pipe()
            rfile = open(r, "rb", buffering=0)
            wfile = open(w, "wb", buffering=0)
            reader = asyncio.StreamReader()
            read_tr, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), rfile)

            class WriteProto(asyncio.BaseProtocol):
                def __init__(self):
                    self.lost = loop.create_future()

                def connection_lost(self, exc):
                    if not self.lost.done():
                        self.lost.set_result(exc)

            write_tr, write_proto = await loop.connect_write_pipe(
                WriteProto, wfile)
            try:
                self.assertEqual(write_tr.get_extra_info("pipe"), wfile)
                write_tr.write(payload[:1000])
                write_tr.writelines([payload[1000:5000], payload[5000:]])
                write_tr.close()
                # Read concurrently: the writer can only finish once the
                # reader drains the pipe.
                data, lost = await asyncio.gather(reader.read(),
                                                  write_proto.lost)
                self.assertIsNone(lost)
                self.assertEqual(data, payload)
                self.assertTrue(reader.at_eof())
            finally:
                read_tr.close()
                write_tr.close()
            await asyncio.sleep(0)
            self.assertTrue(rfile.closed)
            self.assertTrue(wfile.closed)

        self.run_coro(main())

    def test_write_pipe_reader_closed(self):
        # Closing the read end is noticed by the write transport.
        loop = self.loop

        async def main():
            r, w = os.pipe()
            wfile = open(w, "wb", buffering=0)

            class WriteProto(asyncio.BaseProtocol):
                def __init__(self):
                    self.lost = loop.create_future()

                def connection_lost(self, exc):
                    if not self.lost.done():
                        self.lost.set_result(exc)

            tr, proto = await loop.connect_write_pipe(WriteProto, wfile)
            os.close(r)
            # The write end becomes readable (EOF/error) once the reader is
            # gone; the transport closes itself.
            exc = await proto.lost
            self.assertTrue(exc is None or isinstance(exc, OSError), exc)
            self.assertTrue(tr.is_closing())

        self.run_coro(main())

    # ---- subprocess --------------------------------------------------------

    def test_subprocess_exec_stdout(self):
        async def main():
            proc = await asyncio.create_subprocess_exec(
                PY, "-c", "print('hello from child')",
                stdout=subprocess.PIPE)
            out, err = await proc.communicate()
            self.assertEqual(out, b"hello from child\n")
            self.assertIsNone(err)
            self.assertEqual(proc.returncode, 0)

        self.run_coro(main())

    def test_subprocess_exec_stdin_stdout_communicate(self):
        async def main():
            proc = await asyncio.create_subprocess_exec(
                PY, "-c",
                "import sys; data = sys.stdin.buffer.read(); "
                "sys.stdout.buffer.write(data.upper()); "
                "sys.stderr.buffer.write(b'%d' % len(data))",
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE)
            payload = b"abc" * 100000
            out, err = await proc.communicate(payload)
            self.assertEqual(out, payload.upper())
            self.assertEqual(err, b"%d" % len(payload))
            self.assertEqual(proc.returncode, 0)

        self.run_coro(main())

    def test_subprocess_exec_streaming(self):
        async def main():
            proc = await asyncio.create_subprocess_exec(
                PY, "-u", "-c",
                "import sys\n"
                "for line in sys.stdin:\n"
                "    sys.stdout.write('echo:' + line)\n"
                "    sys.stdout.flush()\n",
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            for i in range(20):
                proc.stdin.write(b"line %d\n" % i)
                await proc.stdin.drain()
                self.assertEqual(await proc.stdout.readline(),
                                 b"echo:line %d\n" % i)
            proc.stdin.close()
            self.assertEqual(await proc.stdout.read(), b"")
            self.assertEqual(await proc.wait(), 0)

        self.run_coro(main())

    def test_subprocess_returncode(self):
        async def main():
            proc = await asyncio.create_subprocess_exec(
                PY, "-c", "import sys; sys.exit(7)")
            self.assertEqual(await proc.wait(), 7)
            self.assertEqual(proc.returncode, 7)

        self.run_coro(main())

    def test_subprocess_terminate(self):
        async def main():
            proc = await asyncio.create_subprocess_exec(
                PY, "-c", "import sys; sys.stdout.write('ready\\n'); "
                "sys.stdout.flush(); sys.stdin.read()",
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            self.assertEqual(await proc.stdout.readline(), b"ready\n")
            proc.terminate()
            self.assertEqual(await proc.wait(), -signal.SIGTERM)
            proc.stdin.close()

        self.run_coro(main())

    def test_subprocess_shell(self):
        async def main():
            proc = await asyncio.create_subprocess_shell(
                "echo hello; echo err >&2; exit 3",
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = await proc.communicate()
            self.assertEqual(out, b"hello\n")
            self.assertEqual(err, b"err\n")
            self.assertEqual(proc.returncode, 3)

            proc = await asyncio.create_subprocess_shell(
                "tr a-z A-Z", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            out, _ = await proc.communicate(b"shell pipe")
            self.assertEqual(out, b"SHELL PIPE")
            self.assertEqual(proc.returncode, 0)

        self.run_coro(main())

    def test_loop_subprocess_exec_protocol(self):
        loop = self.loop

        class Proto(asyncio.SubprocessProtocol):
            def __init__(self):
                self.out = bytearray()
                self.exited = loop.create_future()
                self.closed = loop.create_future()

            def pipe_data_received(self, fd, data):
                if fd == 1:
                    self.out += data

            def process_exited(self):
                self.exited.set_result(None)

            def connection_lost(self, exc):
                self.closed.set_result(exc)

        async def main():
            transport, proto = await loop.subprocess_exec(
                Proto, PY, "-c", "import sys; print(sys.stdin.read()[::-1])",
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=None)
            try:
                self.assertIsInstance(transport.get_pid(), int)
                transport.get_pipe_transport(0).write(b"olleh")
                transport.get_pipe_transport(0).close()
                await proto.exited
                await proto.closed
                self.assertEqual(transport.get_returncode(), 0)
                self.assertEqual(bytes(proto.out), b"hello\n")
            finally:
                transport.close()

        self.run_coro(main())

    def test_loop_subprocess_shell_protocol(self):
        loop = self.loop

        class Proto(asyncio.SubprocessProtocol):
            def __init__(self):
                self.out = bytearray()
                self.closed = loop.create_future()

            def pipe_data_received(self, fd, data):
                self.out += data

            def connection_lost(self, exc):
                self.closed.set_result(exc)

        async def main():
            transport, proto = await loop.subprocess_shell(
                Proto, "printf shell-%s ok", stdin=None,
                stdout=subprocess.PIPE, stderr=None)
            try:
                await proto.closed
                self.assertEqual(transport.get_returncode(), 0)
                self.assertEqual(bytes(proto.out), b"shell-ok")
            finally:
                transport.close()

        self.run_coro(main())

    def test_many_subprocesses(self):
        async def one(i):
            proc = await asyncio.create_subprocess_exec(
                PY, "-c", "import sys; sys.exit(int(sys.argv[1]))", str(i))
            return await proc.wait()

        async def main():
            return await asyncio.gather(*[one(i) for i in range(8)])

        self.assertEqual(self.run_coro(main(), timeout=30), list(range(8)))
