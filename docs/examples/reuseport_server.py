"""Scale out on one machine: N processes on one port. Each process runs its
own PyLoop and its own listening socket, bound with SO_REUSEPORT
(create_server(reuse_port=True)); the kernel spreads new connections over
them. Past one machine it is the same: identical processes behind any load
balancer. GET / answers with the loop's class and the process id, over
HTTP/1.1 keep-alive (a minimal responder: GET only, no request body).

    python reuseport_server.py --workers 2 --port 8080
"""
import argparse
import asyncio
import json
import multiprocessing
import os
import signal

import data_bridge.pyloop


class Http(asyncio.Protocol):
    def __init__(self, response):
        self.response = response
        self.buffer = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(self.response)
            if b"connection: close" in head.lower():
                self.transport.close()
                return


async def serve(host, port):
    loop = asyncio.get_running_loop()
    body = json.dumps({"loop": type(loop).__name__, "pid": os.getpid()}).encode()
    response = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    server = await loop.create_server(lambda: Http(response), host, port, reuse_port=True)
    stopped = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stopped.done() or stopped.set_result(None))
    async with server:
        await stopped


def worker(host, port):
    data_bridge.pyloop.run(serve(host, port))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    workers = [multiprocessing.Process(target=worker, args=(args.host, args.port)) for _ in range(args.workers)]
    for process in workers:
        process.start()

    def stop(signum, frame):
        for process in workers:
            process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in workers:
        process.join()


if __name__ == "__main__":
    main()
