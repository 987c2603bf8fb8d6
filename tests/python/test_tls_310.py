"""PyLoop's C TLS on every interpreter: on 3.10, whose asyncio has the
older sslproto (_SSLPipe), _pyloop makes asyncio 3.11's names (the state
enums, SSLAgainErrors, the constants 3.11 added) and its two types on
3.11's bases, and every TLS entry point uses them (tls_transport.c's
older_types, tls_support.c's older_names). On 3.11+ the names are
asyncio's own objects and the types subclass asyncio's classes."""

import asyncio
import gc
import os
import types
import unittest
import weakref
from asyncio import constants, protocols, sslproto, transports

import base
import tls_support
from tls_support import HOST, Proto, tls_pair

OLDER_ASYNCIO = not hasattr(sslproto, "SSLProtocolState")

# asyncio 3.11's sslproto, by the letter.
STATES = ["UNWRAPPED", "DO_HANDSHAKE", "WRAPPED", "FLUSHING", "SHUTDOWN"]
APP_STATES = ["STATE_INIT", "STATE_CON_MADE", "STATE_EOF", "STATE_CON_LOST"]
# Every method (and the property) 3.11's classes define: what 3.10's C
# types must have as their own, since no asyncio class under them does.
PROTOCOL_DESIGN = [
    "__init__", "_set_app_protocol", "_wakeup_waiter", "_get_app_transport",
    "connection_made", "connection_lost", "get_buffer", "buffer_updated",
    "eof_received", "_get_extra_info", "_set_state", "_start_handshake",
    "_check_handshake_timeout", "_do_handshake", "_on_handshake_complete",
    "_start_shutdown", "_check_shutdown_timeout", "_do_flush", "_do_shutdown",
    "_on_shutdown_complete", "_abort", "_write_appdata", "_do_write",
    "_process_outgoing", "_do_read", "_do_read__buffered", "_do_read__copied",
    "_call_eof_received", "_get_write_buffer_size", "_set_write_buffer_limits",
    "pause_writing", "resume_writing", "_control_app_writing",
    "_get_read_buffer_size", "_set_read_buffer_limits", "_pause_reading",
    "_resume_reading", "_control_ssl_reading", "_fatal_error"]
TRANSPORT_DESIGN = [
    "__init__", "get_extra_info", "set_protocol", "get_protocol", "is_closing",
    "close", "__del__", "is_reading", "pause_reading", "resume_reading",
    "set_write_buffer_limits", "get_write_buffer_limits",
    "get_write_buffer_size", "set_read_buffer_limits",
    "get_read_buffer_limits", "get_read_buffer_size", "_protocol_paused",
    "write", "writelines", "write_eof", "can_write_eof", "abort",
    "_force_close", "_test__append_write_backlog"]
C_KINDS = (types.BuiltinFunctionType, types.MethodDescriptorType,
           types.WrapperDescriptorType, types.GetSetDescriptorType,
           types.MemberDescriptorType)


@base.pyloop_only
class _TLSNames(tls_support.TLSCerts):

    def test_tls_names_on_the_module(self):
        # _pyloop.SSLProtocolState, AppProtocolState, SSLAgainErrors and
        # the TLS constants: asyncio's own objects on 3.11+; on 3.10 this
        # module's, with 3.11's member names, values and numbers.
        _pyloop = self.pyloop._pyloop
        if not OLDER_ASYNCIO:
            self.assertIs(_pyloop.SSLProtocolState, sslproto.SSLProtocolState)
            self.assertIs(_pyloop.AppProtocolState, sslproto.AppProtocolState)
            self.assertIs(_pyloop.SSLAgainErrors, sslproto.SSLAgainErrors)
            for name in ("SSL_HANDSHAKE_TIMEOUT", "SSL_SHUTDOWN_TIMEOUT",
                         "FLOW_CONTROL_HIGH_WATER_SSL_READ",
                         "FLOW_CONTROL_HIGH_WATER_SSL_WRITE"):
                self.assertIs(getattr(_pyloop, name), getattr(constants, name))
            return
        import enum
        import pickle
        import ssl
        for enum_type, names in ((_pyloop.SSLProtocolState, STATES),
                                 (_pyloop.AppProtocolState, APP_STATES)):
            self.assertTrue(issubclass(enum_type, enum.Enum))
            self.assertEqual([(m.name, m.value) for m in enum_type],
                             [(n, n) for n in names])
            self.assertEqual(enum_type.__module__, "data_bridge.pyloop._pyloop")
            self.assertEqual(enum_type.__qualname__, enum_type.__name__)
            member = enum_type[names[1]]
            self.assertIs(pickle.loads(pickle.dumps(member)), member)
        self.assertEqual(_pyloop.SSLAgainErrors,
                         (ssl.SSLWantReadError, ssl.SSLSyscallError))
        self.assertIs(_pyloop.SSL_HANDSHAKE_TIMEOUT, constants.SSL_HANDSHAKE_TIMEOUT)
        self.assertEqual((_pyloop.SSL_SHUTDOWN_TIMEOUT,
                          _pyloop.FLOW_CONTROL_HIGH_WATER_SSL_READ,
                          _pyloop.FLOW_CONTROL_HIGH_WATER_SSL_WRITE),
                         (30.0, 256, 512))
        self.assertIs(type(_pyloop.SSL_SHUTDOWN_TIMEOUT), float)

    def c_types(self):
        _pyloop = self.pyloop._pyloop
        if not hasattr(_pyloop, "SSLProtocol"):
            # only 3.10 can lack them: 3.11+ always has the C types
            self.assertTrue(OLDER_ASYNCIO)
            self.skipTest("3.10's asyncio has the older sslproto, and this "
                          "build's C TLS is not complete: asyncio's own")
        return _pyloop.SSLProtocol, _pyloop.SSLProtocolTransport

    def test_tls_types_bases(self):
        # 3.10: 3.11's bases (its classes are not there); 3.11+: asyncio's
        # classes. Named as asyncio's either way.
        protocol, transport = self.c_types()
        if OLDER_ASYNCIO:
            self.assertEqual(protocol.__bases__, (protocols.BufferedProtocol,))
            self.assertEqual(transport.__bases__,
                             (transports._FlowControlMixin, transports.Transport))
        else:
            self.assertEqual(protocol.__bases__, (sslproto.SSLProtocol,))
            self.assertEqual(transport.__bases__, (sslproto._SSLProtocolTransport,))
        for cls, name in ((protocol, "SSLProtocol"), (transport, "_SSLProtocolTransport")):
            self.assertEqual((cls.__module__, cls.__qualname__), ("asyncio.sslproto", name))
        # 3.11's class attributes (inherited from asyncio's on 3.11+)
        self.assertEqual(protocol.max_size, 256 * 1024)
        for name in ("_handshake_start_time", "_handshake_timeout_handle",
                     "_shutdown_timeout_handle"):
            self.assertIsNone(getattr(protocol, name))
        self.assertIs(transport._start_tls_compatible, True)
        self.assertIs(transport._sendfile_compatible, constants._SendfileMode.FALLBACK)

    def test_tls_types_design_is_c(self):
        # 3.10: every method of 3.11's design is the C type's own (nothing
        # inherited from a Python class); 3.11+: _do_read's two halves are
        # C too, for a caller by name.
        protocol, transport = self.c_types()
        checks = [(protocol, ["_do_read__buffered", "_do_read__copied"])]
        if OLDER_ASYNCIO:
            checks = [(protocol, PROTOCOL_DESIGN), (transport, TRANSPORT_DESIGN)]
        for cls, names in checks:
            for name in names:
                self.assertIn(name, vars(cls), (cls, name))
                method = vars(cls)[name]
                if isinstance(method, property):  # _protocol_paused
                    method = method.fget
                self.assertIsInstance(method, C_KINDS, (cls, name))

    def test_tls_types_instances(self):
        # Both types' instances have a __dict__ and take weakrefs, as
        # asyncio's (a class statement's) do, and are collected in a cycle.
        protocol, transport = self.c_types()

        async def main():
            server, tr, cli, srv = await tls_pair(self)
            async with server:
                ssl_protocol = tr._ssl_protocol
                self.assertIs(type(tr), transport)
                self.assertIs(type(ssl_protocol), protocol)
                ssl_protocol.an_attribute = tr.an_attribute = 1
                self.assertEqual((vars(ssl_protocol)["an_attribute"], vars(tr)["an_attribute"]), (1, 1))
                self.assertIsInstance(ssl_protocol._sslobj, tls_support.ssl.SSLObject)
                self.assertIs(tr._ssl_protocol, ssl_protocol)
                refs = [weakref.ref(tr), weakref.ref(ssl_protocol)]
                self.assertIs(tr.__weakref__, refs[0])
                tr.close()
                await cli.lost
                await srv.lost
            return refs

        refs = self.run_coro(main())
        gc.collect()
        self.assertEqual([ref() for ref in refs], [None, None])

    def test_tls_instances_of_a_subclass(self):
        # A program's subclass of the C protocol: its __init__ runs the
        # type's (asyncio's arguments), its own attributes go in __dict__.
        protocol, _ = self.c_types()

        class Sub(protocol):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.mine = True

        async def main():
            made = Sub(self.loop, Proto(), None, self.loop.create_future())
            self.assertTrue(made.mine)
            self.assertIs(made._state, self.pyloop._pyloop.SSLProtocolState.UNWRAPPED)
            self.assertIs(made._app_transport._ssl_protocol, made)
            made._app_transport.close()

        self.run_coro(main())

    def test_tls_debug_mode_server_uses_the_c_types(self):
        # In debug mode the accept is asyncio's own (_accept_connection2,
        # this interpreter's), which makes the TLS transport through the
        # loop's _make_ssl_transport: the C types still.
        protocol, transport = self.c_types()
        self.loop.set_debug(True)
        self.loop.slow_callback_duration = 60

        async def main():
            server, tr, cli, srv = await tls_pair(self)
            async with server:
                self.assertIs(type(srv.transport), transport)
                self.assertIs(type(srv.transport._ssl_protocol), protocol)
                self.assertIs(type(tr), transport)
                tr.close()
                await cli.lost
                await srv.lost

        with self.assertLogs("asyncio", "DEBUG"):
            self.run_coro(main())

    def test_tls_entry_points_use_the_c_types(self):
        # The loop's _SSLProtocol, start_tls (asyncio's own code, this
        # interpreter's, making the C protocol) and the C accept loop for
        # TLS servers.
        protocol, transport = self.c_types()
        loop_module = __import__("data_bridge.pyloop._loop", fromlist=["_loop"])
        self.assertIs(loop_module._SSLProtocol, protocol)
        start_tls = type(self.loop).start_tls
        self.assertIs(start_tls.__code__, asyncio.base_events.BaseEventLoop.start_tls.__code__)
        self.assertIs(start_tls.__globals__["sslproto"].SSLProtocol, protocol)


@base.both_loops
class _TLSTransportUses(tls_support.TLSCerts):
    """What asyncio's other code does with a TLS app transport, through its
    class attributes: the same on both loops, 3.10's or 3.11's as the
    loop's TLS is (NEW_SSLPROTO)."""

    def test_sendfile_over_tls(self):
        # _sendfile_compatible is FALLBACK (3.10 and 3.11): loop.sendfile
        # reads the file and writes it through the transport, its
        # _SendfileFallbackProtocol standing in for the app protocol
        # (the transport must be a _FlowControlMixin).
        data = os.urandom(300 * 1024 + 7)
        with base.tempdir() as tmp:
            path = os.path.join(tmp, "payload")
            with open(path, "wb") as f:
                f.write(data)

            async def main():
                server, tr, cli, srv = await tls_pair(self)
                async with server:
                    with open(path, "rb") as f:
                        sent = await self.loop.sendfile(tr, f, offset=7)
                        self.assertEqual(f.tell(), len(data))
                    self.assertEqual(sent, len(data) - 7)
                    self.assertIs(tr.get_protocol(), cli)
                    self.assertEqual(await srv.received(len(data) - 7), data[7:])
                    tr.close()
                    await cli.lost
                    await srv.lost

            self.run_coro(main())

    def test_start_tls_over_tls(self):
        # 3.11's app transport is _start_tls_compatible: TLS inside TLS,
        # both sides upgraded at once. 3.10's is not: start_tls raises.
        async def main():
            server, tr, cli, srv = await tls_pair(self)
            async with server:
                if not self.NEW_SSLPROTO:
                    with self.assertRaises(TypeError) as cm:
                        await self.loop.start_tls(tr, cli, self.client_context(),
                                                  server_hostname="localhost")
                    self.assertRegex(str(cm.exception), r"^transport .* is not supported by start_tls\(\)$")
                    tr.close()
                    await cli.lost
                    await srv.lost
                    return
                outer = tr.get_extra_info("ssl_object")
                srv_tls, tls = await asyncio.gather(
                    self.loop.start_tls(srv.transport, srv, self.server_context(), server_side=True),
                    self.loop.start_tls(tr, cli, self.client_context(), server_hostname="localhost"))
                self.assertIsNot(tls.get_extra_info("ssl_object"), outer)
                self.assertIs(tr.get_protocol(), tls._ssl_protocol)
                tls.write(b"inner")
                self.assertEqual(await srv.received(5), b"inner")
                srv_tls.write(b"back")
                self.assertEqual(await cli.received(4), b"back")
                tls.close()
                self.assertIsNone(await cli.lost)
                self.assertIsNone(await srv.lost)
                self.assertEqual((cli.events, srv.events), (["made", "eof", "lost"], ["made", "eof", "lost"]))

        self.run_coro(main())


if __name__ == "__main__":
    unittest.main()
