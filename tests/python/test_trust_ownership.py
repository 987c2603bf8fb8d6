"""A running callback owns its callable and its arguments.

asyncio's Handle._run calls ``self._context.run(self._callback, *self._args)``:
the call holds its own references, so cancelling the handle while its
callback runs (remove_reader from inside a reader, cancel() from a callee or
from another thread) cannot free anything the call is still using. Each
scenario runs in a child process, since a use-after-free may crash it; the
child reports, from inside the call, whether the object is still alive.
"""

import base
import child
from child import assert_child

CHILD_PRELUDE = child.PRELUDE + r'''
class Default:
    """An object only the scheduled call refers to."""
'''


def run_child(testcase, body, timeout=base.TIMEOUT):
    return child.run_child(testcase, body, timeout, CHILD_PRELUDE)


@base.both_loops
class _CallbackOwnership:

    def test_args_outlive_cancel_during_call(self):
        # getattr(obj, "missing", default): obj.__getattr__ cancels the
        # handle that is running getattr, then raises AttributeError, and
        # getattr goes on to return `default`.
        result, proc = run_child(self, r'''
            loop = new_loop()
            handle = []
            class Obj:
                def __getattr__(self, name):
                    handle[0].cancel()
                    gc.collect()
                    report(default_alive=ref() is not None)
                    raise AttributeError(name)
            default = Default()
            ref = weakref.ref(default)
            handle.append(loop.call_soon(getattr, Obj(), "missing", default))
            del default
            loop.call_soon(loop.stop)
            loop.run_forever()
            loop.close()
        ''')
        assert_child(self, result, proc, {"default_alive": True})

    def test_timer_args_outlive_cancel_during_call(self):
        result, proc = run_child(self, r'''
            loop = new_loop()
            handle = []
            class Obj:
                def __getattr__(self, name):
                    handle[0].cancel()
                    gc.collect()
                    report(default_alive=ref() is not None)
                    raise AttributeError(name)
            default = Default()
            ref = weakref.ref(default)
            handle.append(loop.call_later(-1, getattr, Obj(), "missing",
                                          default))
            del default
            # Deadline order: the stop timer is due after the one above.
            loop.call_later(0, loop.stop)
            loop.run_forever()
            loop.close()
        ''')
        assert_child(self, result, proc, {"default_alive": True})

    def test_bound_method_callback_alive_while_it_cancels_itself(self):
        result, proc = run_child(self, r'''
            loop = new_loop()
            handle = []
            class Holder:
                def method(self):
                    handle[0].cancel()
                    gc.collect()
                    report(callback_alive=ref() is not None)
            method = Holder().method
            ref = weakref.ref(method)
            handle.append(loop.call_soon(method))
            del method
            loop.call_soon(loop.stop)
            loop.run_forever()
            loop.close()
        ''')
        assert_child(self, result, proc, {"callback_alive": True})

    def test_partial_callback_alive_while_it_cancels_itself(self):
        result, proc = run_child(self, r'''
            import functools
            loop = new_loop()
            handle = []
            def function():
                handle[0].cancel()
                gc.collect()
                report(callback_alive=ref() is not None)
            partial = functools.partial(function)
            ref = weakref.ref(partial)
            handle.append(loop.call_soon(partial))
            del partial
            loop.call_soon(loop.stop)
            loop.run_forever()
            loop.close()
        ''')
        assert_child(self, result, proc, {"callback_alive": True})

    def test_reader_alive_while_it_removes_itself(self):
        # The everyday pattern: a reader that unregisters itself.
        result, proc = run_child(self, r'''
            import socket
            loop = new_loop()
            a, b = socket.socketpair()
            class Reader:
                def on_readable(self):
                    a.recv(16)
                    removed = loop.remove_reader(a)
                    gc.collect()
                    report(removed=removed, callback_alive=ref() is not None)
                    loop.stop()
            method = Reader().on_readable
            ref = weakref.ref(method)
            loop.add_reader(a, method)
            del method
            b.send(b"x")
            loop.call_later(10, loop.stop)  # hang guard
            loop.run_forever()
            loop.close()
            a.close()
            b.close()
        ''')
        assert_child(self, result, proc,
                     {"removed": True, "callback_alive": True})

    def test_gil_releasing_call_keeps_its_object_if_cancelled_by_thread(self):
        # The callback is a.sendall, a C method that releases the GIL in
        # send() and goes on using its socket afterwards; only the handle
        # refers to the bound method (and so to the socket). Another thread
        # cancels the handle while sendall is blocked on a full buffer:
        # the first byte it receives proves sendall is running.
        result, proc = run_child(self, r'''
            import socket, threading, warnings
            warnings.simplefilter("ignore", ResourceWarning)
            loop = new_loop()
            errors = []
            loop.set_exception_handler(
                lambda loop, context: errors.append(context["message"]))
            a, b = socket.socketpair()
            a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            data = b"x" * (4 << 20)
            ref = weakref.ref(a)
            handle = loop.call_soon(a.sendall, data)
            del a
            seen = {}
            def canceller():
                received = len(b.recv(1))
                handle.cancel()
                gc.collect()
                seen["socket_alive"] = ref() is not None
                while received < len(data):
                    chunk = b.recv(1 << 20)
                    if not chunk:
                        break
                    received += len(chunk)
                seen["all_data_received"] = received == len(data)
                loop.call_soon_threadsafe(loop.stop)
            thread = threading.Thread(target=canceller, daemon=True)
            thread.start()
            loop.run_forever()
            thread.join()
            report(errors=errors, **seen)
            loop.close()
        ''')
        assert_child(self, result, proc,
                     {"socket_alive": True, "all_data_received": True,
                      "errors": []})
