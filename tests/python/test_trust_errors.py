"""Where asyncio raises (or does not), PyLoop raises the same way."""

import asyncio

import base


def _noop():
    pass


@base.both_loops
class _FdNumbersBeyondInt:
    """selectors take any int; the kernel's C int is where it overflows."""

    def test_add_reader_beyond_c_int_raises_overflow_error(self):
        with self.assertRaises(OverflowError):
            self.loop.add_reader(2 ** 31, _noop)

    def test_add_writer_beyond_c_int_raises_overflow_error(self):
        with self.assertRaises(OverflowError):
            self.loop.add_writer(2 ** 31, _noop)

    def test_remove_reader_beyond_c_int_returns_false(self):
        for fd in (2 ** 31, 2 ** 63):
            with self.subTest(fd=fd):
                self.assertIs(self.loop.remove_reader(fd), False)

    def test_remove_writer_beyond_c_int_returns_false(self):
        for fd in (2 ** 31, 2 ** 63):
            with self.subTest(fd=fd):
                self.assertIs(self.loop.remove_writer(fd), False)


@base.both_loops
class _HandleRunDirectly:

    def test_handle_run_reraises_interrupts_at_once(self):
        # asyncio's Handle._run re-raises these two; nothing is left behind
        # for a later run of the loop.
        for exc_type in (KeyboardInterrupt, SystemExit):
            with self.subTest(exc_type.__name__):
                def interrupt():
                    raise exc_type
                handle = self.loop.call_soon(interrupt)
                try:
                    with self.assertRaises(exc_type):
                        handle._run()
                finally:
                    handle.cancel()
                try:
                    self.run_briefly()
                except (KeyboardInterrupt, SystemExit) as exc:
                    self.fail("%r surfaced in a later run of the loop"
                              % (exc,))


def _asyncio_timer_has_when_attribute():
    handle = asyncio.TimerHandle(5, _noop, (), base._StubLoop(False))
    return hasattr(handle, "_when")


@base.both_loops
class _TimerWhenKeepsItsObject:

    def test_call_at_int_when_stays_the_same_int(self):
        # asyncio keeps the object it was given (aiohttp checks
        # isinstance(handle._when, int)).
        handle = self.loop.call_at(5, _noop)
        try:
            self.assertIsInstance(handle.when(), int)
            self.assertEqual(handle.when(), 5)
            if _asyncio_timer_has_when_attribute():
                self.assertIsInstance(handle._when, int)
                self.assertEqual(handle._when, 5)
        finally:
            handle.cancel()
