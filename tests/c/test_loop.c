/*
 * The loop, through its public API, in whichever phase this build is.
 * Behaviour is asserted through the loop's counters (iterations, callbacks
 * run, wakeups), never through how long something took. Tests that only
 * make sense for one design say so in their name and are registered only in
 * builds they apply to: loop_suite() asks pyloop_build_info() and lists what
 * it left out on one line, "loop: N skipped: test (needs ...), ...", which
 * .ci/summarize.py counts. A test never returns early to pass vacuously.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"

static int is_native(void)
{
    return strcmp(pyloop_build_info()->call_soon_path, "ring") == 0;
}

/* The 3.1.x idle waits: a sleep or a timed condvar wait of at most 1 ms
 * (not a poller that blocks until something happens: epoll, poll). */
static int waits_in_slices(void)
{
    const char *wait = pyloop_build_info()->wait_strategy;
    return strcmp(wait, "sleep") == 0 || strcmp(wait, "adaptive") == 0 || strcmp(wait, "condvar") == 0;
}

/* The poller compiled in ("epoll", or "poll" where there is no epoll):
 * loop_impl's poller.h, which this suite does not include. */
extern const char pyloop_poller_name[];

static int polls_with_epoll(void)
{
    return strcmp(pyloop_poller_name, "epoll") == 0;
}

/* test_wakeups_written_by_call_soon states the wake rule of these builds. */
static int wake_rule_is_known(void)
{
    return is_native() || waits_in_slices();
}

/* ---- tests that apply to some builds only (libuv's RETURN_SKIP, decided
 * once, when the suite is built) ---- */

#define MAX_SKIPPED 32
static const char *skipped_names[MAX_SKIPPED];
static const char *skipped_needs[MAX_SKIPPED];
static int skipped_count;

/* Registers TEST in CASE if APPLIES, else records it as skipped, with what
 * it needs. A macro, so that Check's own tcase_add_test names the test. */
#define tcase_add_test_if(tcase, test, applies, needs)                           \
    do {                                                                        \
        if (applies)                                                            \
            tcase_add_test(tcase, test);                                        \
        else                                                                    \
            note_skipped(#test, needs);                                         \
    } while (0)

static void note_skipped(const char *name, const char *needs)
{
    if (skipped_count < MAX_SKIPPED) {
        skipped_names[skipped_count] = name;
        skipped_needs[skipped_count] = needs;
    }
    skipped_count++;
}

/* One line for the log: "loop: 2 skipped: test_a (needs x), test_b (needs y)". */
static void print_skipped(const char *suite)
{
    int i;

    printf("%s: %d skipped", suite, skipped_count);
    for (i = 0; i < skipped_count && i < MAX_SKIPPED; i++)
        printf("%s%s (%s)", i ? ", " : ": ", skipped_names[i], skipped_needs[i]);
    printf("\n");
    fflush(stdout);
}

static pyloop_stats stats_of(pyloop_loop *loop)
{
    pyloop_stats stats;
    pyloop_get_stats(loop, &stats);
    return stats;
}

/* ---- small callbacks ---- */

typedef struct record {
    int values[4096];
    int count;
} record;

typedef struct recorded_call {
    record *into;
    int value;
} recorded_call;

static void append_value(pyloop_loop *loop, void *arg)
{
    recorded_call *call = arg;
    (void)loop;
    call->into->values[call->into->count++] = call->value;
}

static void stop_loop(pyloop_loop *loop, void *arg)
{
    (void)arg;
    pyloop_stop(loop);
}

static void count_call(pyloop_loop *loop, void *arg)
{
    (void)loop;
    (*(int *)arg)++;
}

/* ---- callbacks ---- */

START_TEST(test_call_soon_runs_in_fifo_order)
{
    pyloop_loop *loop = pyloop_loop_new();
    static record seen;
    static recorded_call calls[1000];
    int i;

    seen.count = 0;
    for (i = 0; i < 1000; i++) {
        calls[i] = (recorded_call){&seen, i};
        ck_assert_int_eq(pyloop_call_soon(loop, append_value, &calls[i]), 0);
    }
    ck_assert_int_eq(pyloop_call_soon(loop, stop_loop, NULL), 0);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(seen.count, 1000);
    for (i = 0; i < 1000; i++)
        ck_assert_int_eq(seen.values[i], i);
    ck_assert_uint_eq(stats_of(loop).callbacks_run, 1001);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_null_callback_is_rejected)
{
    pyloop_loop *loop = pyloop_loop_new();
    ck_assert_int_eq(pyloop_call_soon(loop, NULL, NULL), -EINVAL);
    ck_assert_int_eq(pyloop_call_soon_threadsafe(loop, NULL, NULL), -EINVAL);
    pyloop_loop_free(loop);
}
END_TEST

/* call_soon_threadsafe then call_soon, both seen by the loop thread in that
 * order: they run in that order, whichever queue each went through. */
START_TEST(test_threadsafe_and_call_soon_keep_one_order)
{
    pyloop_loop *loop = pyloop_loop_new();
    static record seen;
    static recorded_call calls[4];
    int i;

    seen.count = 0;
    for (i = 0; i < 4; i++)
        calls[i] = (recorded_call){&seen, i};
    pyloop_call_soon_threadsafe(loop, append_value, &calls[0]);
    pyloop_call_soon(loop, append_value, &calls[1]);
    pyloop_call_soon_threadsafe(loop, append_value, &calls[2]);
    pyloop_call_soon(loop, append_value, &calls[3]);
    pyloop_stop(loop);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(seen.count, 4);
    for (i = 0; i < 4; i++)
        ck_assert_int_eq(seen.values[i], i);
    pyloop_loop_free(loop);
}
END_TEST

/* A callback that stops the loop and schedules another: the other one must
 * not run before pyloop_run returns, and must run on the next run. */
static int after_stop_ran;
static void stop_and_schedule(pyloop_loop *loop, void *arg)
{
    (void)arg;
    pyloop_stop(loop);
    pyloop_call_soon(loop, count_call, &after_stop_ran);
}

START_TEST(test_stop_finishes_the_iteration_only)
{
    pyloop_loop *loop = pyloop_loop_new();

    after_stop_ran = 0;
    pyloop_call_soon(loop, stop_and_schedule, NULL);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(after_stop_ran, 0);
    ck_assert_int_eq(pyloop_is_running(loop), 0);
    pyloop_stop(loop);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(after_stop_ran, 1);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_stop_before_run_runs_one_iteration)
{
    pyloop_loop *loop = pyloop_loop_new();
    int ran = 0, i;

    for (i = 0; i < 10; i++)
        pyloop_call_soon(loop, count_call, &ran);
    pyloop_stop(loop);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(ran, 10);
    ck_assert_uint_eq(stats_of(loop).iterations, 1);
    ck_assert_int_eq(pyloop_stopping(loop), 0);
    pyloop_loop_free(loop);
}
END_TEST

/* stop() called twice by two queued callbacks: both run in the first run,
 * and the next run starts clean (CPython's test_stop_called_twice idea). */
START_TEST(test_stop_called_twice)
{
    pyloop_loop *loop = pyloop_loop_new();
    int ran = 0;

    pyloop_call_soon(loop, stop_loop, NULL);
    pyloop_call_soon(loop, stop_loop, NULL);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_uint_eq(stats_of(loop).callbacks_run, 2);
    pyloop_call_soon(loop, count_call, &ran);
    pyloop_call_soon(loop, stop_loop, NULL);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(ran, 1);
    pyloop_loop_free(loop);
}
END_TEST

static int nested_result;
static void run_nested(pyloop_loop *loop, void *arg)
{
    (void)arg;
    nested_result = pyloop_run(loop);
    pyloop_stop(loop);
}

START_TEST(test_run_while_running_is_refused)
{
    pyloop_loop *loop = pyloop_loop_new();

    nested_result = 0;
    pyloop_call_soon(loop, run_nested, NULL);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(nested_result, -EBUSY);
    pyloop_loop_free(loop);
}
END_TEST

/* pyloop_interrupt leaves the rest of the iteration queued, in order. */
static void interrupt_loop(pyloop_loop *loop, void *arg)
{
    (void)arg;
    pyloop_interrupt(loop);
}

START_TEST(test_interrupt_keeps_the_rest_queued)
{
    pyloop_loop *loop = pyloop_loop_new();
    static record seen;
    static recorded_call calls[3];

    seen.count = 0;
    calls[0] = (recorded_call){&seen, 0};
    calls[1] = (recorded_call){&seen, 1};
    calls[2] = (recorded_call){&seen, 2};
    pyloop_call_soon(loop, append_value, &calls[0]);
    pyloop_call_soon(loop, interrupt_loop, NULL);
    pyloop_call_soon(loop, append_value, &calls[1]);
    pyloop_call_soon(loop, append_value, &calls[2]);
    ck_assert_int_eq(pyloop_run(loop), -ECANCELED);
    ck_assert_int_eq(seen.count, 1);
    pyloop_call_soon(loop, stop_loop, NULL);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(seen.count, 3);
    ck_assert_int_eq(seen.values[1], 1);
    ck_assert_int_eq(seen.values[2], 2);
    pyloop_loop_free(loop);
}
END_TEST

static int visit_count(pyloop_callback fn, void *arg, void *context)
{
    (void)fn;
    (void)arg;
    (*(int *)context)++;
    return 0;
}

START_TEST(test_foreach_pending_sees_queued_work)
{
    pyloop_loop *loop = pyloop_loop_new();
    pyloop_timer timer;
    int ran = 0, visited = 0;

    pyloop_call_soon(loop, count_call, &ran);
    pyloop_call_soon_threadsafe(loop, count_call, &ran);
    pyloop_timer_init(&timer, count_call, &ran);
    pyloop_timer_start(loop, &timer, pyloop_time(loop) + 3600);
    ck_assert_int_eq(pyloop_foreach_pending(loop, visit_count, &visited), 0);
    ck_assert_int_eq(visited, 3);
    pyloop_timer_cancel(loop, &timer);
    pyloop_loop_free(loop);
}
END_TEST

/* ---- timers ---- */

typedef struct timer_probe {
    pyloop_timer timer;
    double when;
    int index;
    double fired_at;
    int fired;
} timer_probe;

static timer_probe probes[500];
static int fire_order[500];
static int fired_count;
static int fire_target;

static void on_probe(pyloop_loop *loop, void *arg)
{
    timer_probe *probe = arg;
    probe->fired_at = pyloop_time(loop);
    probe->fired++;
    fire_order[fired_count++] = probe->index;
    if (fired_count == fire_target)
        pyloop_stop(loop);
}

static uint64_t xorshift_state = 88172645463325252ull;
static uint64_t next_random(void)
{
    xorshift_state ^= xorshift_state << 13;
    xorshift_state ^= xorshift_state >> 7;
    xorshift_state ^= xorshift_state << 17;
    return xorshift_state;
}

START_TEST(test_timers_never_fire_early_and_fire_in_order)
{
    pyloop_loop *loop = pyloop_loop_new();
    double start = pyloop_time(loop);
    int i;

    fired_count = 0;
    fire_target = 200;
    for (i = 0; i < 200; i++) {
        /* 0..19 ms, in whole ms so that many deadlines tie. */
        probes[i] = (timer_probe){.index = i, .when = start + (double)(next_random() % 20) / 1000.0};
        pyloop_timer_init(&probes[i].timer, on_probe, &probes[i]);
        ck_assert_int_eq(pyloop_timer_start(loop, &probes[i].timer, probes[i].when), 0);
    }
    ck_assert_uint_eq(pyloop_timer_count(loop), 200);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(fired_count, 200);
    for (i = 0; i < 200; i++) {
        const timer_probe *probe = &probes[fire_order[i]];
        ck_assert_int_eq(probe->fired, 1);
        ck_assert_msg(probe->fired_at >= probe->when, "timer %d fired %.9f s early", probe->index,
                      probe->when - probe->fired_at);
        if (i > 0) {
            const timer_probe *previous = &probes[fire_order[i - 1]];
            ck_assert(previous->when < probe->when || (previous->when == probe->when && previous->index < probe->index));
        }
    }
    ck_assert_uint_eq(stats_of(loop).timers_fired, 200);
    ck_assert_uint_eq(pyloop_timer_count(loop), 0);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_equal_deadlines_fire_in_start_order)
{
    pyloop_loop *loop = pyloop_loop_new();
    double when = pyloop_time(loop) + 0.002;
    int i;

    fired_count = 0;
    fire_target = 50;
    for (i = 0; i < 50; i++) {
        probes[i] = (timer_probe){.index = i, .when = when};
        pyloop_timer_init(&probes[i].timer, on_probe, &probes[i]);
        pyloop_timer_start(loop, &probes[i].timer, when);
    }
    ck_assert_int_eq(pyloop_run(loop), 0);
    for (i = 0; i < 50; i++)
        ck_assert_int_eq(fire_order[i], i);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_cancelled_timers_never_run)
{
    pyloop_loop *loop = pyloop_loop_new();
    double now = pyloop_time(loop);
    int i;

    fired_count = 0;
    fire_target = 25;
    for (i = 0; i < 50; i++) {
        probes[i] = (timer_probe){.index = i, .when = now + 0.001 * (i % 5)};
        pyloop_timer_init(&probes[i].timer, on_probe, &probes[i]);
        pyloop_timer_start(loop, &probes[i].timer, probes[i].when);
    }
    for (i = 0; i < 50; i += 2) {
        ck_assert_int_eq(pyloop_timer_cancel(loop, &probes[i].timer), 0);
        ck_assert_int_eq(pyloop_timer_cancel(loop, &probes[i].timer), -ENOENT);
    }
    ck_assert_int_eq(pyloop_run(loop), 0);
    for (i = 0; i < 50; i++)
        ck_assert_int_eq(probes[i].fired, i % 2);
    ck_assert_int_eq(pyloop_timer_cancel(loop, &probes[1].timer), -ENOENT);
    pyloop_loop_free(loop);
}
END_TEST

/* A host's clock (an instance's patched `time` in the Python binding)
 * decides which timers are due and how long a wait may block. */
typedef struct host_clock {
    double now;
    int reads;
} host_clock;

static double read_host_clock(pyloop_loop *loop, void *context)
{
    host_clock *clock = context;
    (void)loop;
    clock->reads++;
    return clock->now;
}

START_TEST(test_host_clock_decides_which_timers_are_due)
{
    pyloop_loop *loop = pyloop_loop_new();
    /* Deadlines far past CLOCK_MONOTONIC's: only the host's clock reaches them. */
    const double base = 1e9;
    host_clock clock = {.now = base + 1.5};
    timer_probe *first = &probes[0], *second = &probes[1], *real = &probes[2];
    int ran = 0;
    uint64_t waits;

    fired_count = 0;
    fire_target = 0;
    for (int i = 0; i < 3; i++) {
        probes[i] = (timer_probe){.index = i};
        pyloop_timer_init(&probes[i].timer, on_probe, &probes[i]);
    }
    pyloop_set_clock(loop, read_host_clock, &clock);
    ck_assert_int_eq(pyloop_timer_start(loop, &first->timer, base + 1), 0);
    ck_assert_int_eq(pyloop_timer_start(loop, &second->timer, base + 2), 0);
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_int_eq(first->fired, 1);
    ck_assert_int_eq(second->fired, 0);
    /* asyncio reads self.time() in every iteration, with or without
     * timers due; the timeout is read only for a wait that would block. */
    clock.reads = 0;
    ck_assert_int_eq(pyloop_call_soon(loop, count_call, &ran), 0);
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_int_eq(ran, 1);
    ck_assert_int_eq(clock.reads, 1);
    /* A wait blocks until the host's clock says the deadline has come:
     * 20 ms before it, one blocking wait, and the timer is still not due
     * by a clock that stood still meanwhile. */
    waits = stats_of(loop).blocking_waits;
    clock.now = base + 2 - 0.02;
    clock.reads = 0;
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_uint_eq(stats_of(loop).blocking_waits, waits + 1);
    ck_assert_int_eq(clock.reads, 2);
    ck_assert_int_eq(second->fired, 0);
    /* A failed host clock (NaN): nothing due, and no blocking wait. */
    clock.now = 0.0 / 0.0;
    waits = stats_of(loop).blocking_waits;
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_uint_eq(stats_of(loop).blocking_waits, waits);
    ck_assert_int_eq(second->fired, 0);
    clock.now = base + 3;
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_int_eq(second->fired, 1);
    /* Back on CLOCK_MONOTONIC. */
    pyloop_set_clock(loop, NULL, NULL);
    ck_assert_int_eq(pyloop_timer_start(loop, &real->timer, pyloop_time(loop) - 1), 0);
    clock.reads = 0;
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_int_eq(real->fired, 1);
    ck_assert_int_eq(clock.reads, 0);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_timer_rejects_nan_and_restarts)
{
    pyloop_loop *loop = pyloop_loop_new();
    timer_probe *probe = &probes[0];

    fired_count = 0;
    fire_target = 1;
    *probe = (timer_probe){.index = 0};
    pyloop_timer_init(&probe->timer, on_probe, probe);
    ck_assert_int_eq(pyloop_timer_start(loop, &probe->timer, 0.0 / 0.0), -EINVAL);
    ck_assert_int_eq(pyloop_timer_started(&probe->timer), 0);
    ck_assert_int_eq(pyloop_timer_start(loop, &probe->timer, pyloop_time(loop) + 3600), 0);
    /* Restarting moves the deadline instead of queueing twice. */
    probe->when = pyloop_time(loop);
    ck_assert_int_eq(pyloop_timer_start(loop, &probe->timer, probe->when), 0);
    ck_assert_uint_eq(pyloop_timer_count(loop), 1);
    ck_assert(pyloop_next_deadline(loop) == probe->when);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(probe->fired, 1);
    ck_assert(pyloop_next_deadline(loop) < 0);
    pyloop_loop_free(loop);
}
END_TEST

/* A due timer runs behind the callbacks that were ready before it. */
START_TEST(test_due_timer_runs_after_ready_callbacks)
{
    pyloop_loop *loop = pyloop_loop_new();
    static record seen;
    static recorded_call first, second;
    pyloop_timer timer;

    seen.count = 0;
    first = (recorded_call){&seen, 1};
    second = (recorded_call){&seen, 2};
    pyloop_timer_init(&timer, append_value, &second);
    pyloop_timer_start(loop, &timer, pyloop_time(loop) - 1.0);
    pyloop_call_soon(loop, append_value, &first);
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_int_eq(seen.count, 2);
    ck_assert_int_eq(seen.values[0], 1);
    ck_assert_int_eq(seen.values[1], 2);
    pyloop_loop_free(loop);
}
END_TEST

/* ---- fd watchers ---- */

typedef struct io_probe {
    int calls;
    int last_fd;
    int last_events;
} io_probe;

static void on_io(pyloop_loop *loop, int fd, int events, void *arg)
{
    io_probe *probe = arg;
    (void)loop;
    probe->calls++;
    probe->last_fd = fd;
    probe->last_events = events;
}

static void on_io_drain_and_stop(pyloop_loop *loop, int fd, int events, void *arg)
{
    char buffer[16];
    on_io(loop, fd, events, arg);
    ck_assert_int_gt(read(fd, buffer, sizeof(buffer)), 0);
    pyloop_stop(loop);
}

START_TEST(test_reader_fires_when_pipe_has_data)
{
    pyloop_loop *loop = pyloop_loop_new();
    io_probe probe = {0};
    int fds[2];
    void *reader_arg = NULL;

    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(pyloop_fd_set_reader(loop, fds[0], on_io_drain_and_stop, &probe), 0);
    ck_assert_int_eq(pyloop_fd_events(loop, fds[0], &reader_arg, NULL), PYLOOP_READABLE);
    ck_assert_ptr_eq(reader_arg, &probe);
    pyloop_stop(loop); /* one iteration that does not block */
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(probe.calls, 0);
    ck_assert_int_eq(write(fds[1], "x", 1), 1);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(probe.calls, 1);
    ck_assert_int_eq(probe.last_fd, fds[0]);
    ck_assert_int_eq(probe.last_events, PYLOOP_READABLE);
    ck_assert_uint_ge(stats_of(loop).io_events, 1);

    /* Removed: data arrives, nothing is called. */
    ck_assert_int_eq(pyloop_fd_clear_reader(loop, fds[0]), 0);
    ck_assert_int_eq(pyloop_fd_clear_reader(loop, fds[0]), -ENOENT);
    ck_assert_int_eq(write(fds[1], "y", 1), 1);
    pyloop_stop(loop);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(probe.calls, 1);
    close(fds[0]);
    close(fds[1]);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_writer_and_reader_on_one_socket)
{
    pyloop_loop *loop = pyloop_loop_new();
    io_probe reader = {0}, writer = {0}, replacement = {0};
    int pair[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    ck_assert_int_eq(pyloop_fd_set_writer(loop, pair[0], on_io, &writer), 0);
    ck_assert_int_eq(pyloop_fd_set_reader(loop, pair[0], on_io, &reader), 0);
    ck_assert_int_eq(pyloop_fd_events(loop, pair[0], NULL, NULL), PYLOOP_READABLE | PYLOOP_WRITABLE);
    pyloop_stop(loop);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(writer.calls, 1);
    ck_assert_int_eq(writer.last_events, PYLOOP_WRITABLE);
    ck_assert_int_eq(reader.calls, 0);

    /* Modify: a new writer callback replaces the old one. */
    ck_assert_int_eq(pyloop_fd_set_writer(loop, pair[0], on_io, &replacement), 0);
    ck_assert_int_eq(write(pair[1], "z", 1), 1);
    pyloop_stop(loop);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(writer.calls, 1);
    ck_assert_int_eq(replacement.calls, 1);
    ck_assert_int_eq(reader.calls, 1);

    ck_assert_int_eq(pyloop_fd_clear_writer(loop, pair[0]), 0);
    ck_assert_int_eq(pyloop_fd_events(loop, pair[0], NULL, NULL), PYLOOP_READABLE);
    ck_assert_int_eq(pyloop_fd_clear_reader(loop, pair[0]), 0);
    ck_assert_int_eq(pyloop_fd_events(loop, pair[0], NULL, NULL), 0);
    close(pair[0]);
    close(pair[1]);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_bad_fds_give_errors)
{
    pyloop_loop *loop = pyloop_loop_new();
    io_probe probe = {0};
    int fds[2], file;
    char path[] = "/tmp/pyloop-test-XXXXXX";

    ck_assert_int_eq(pyloop_fd_set_reader(loop, -1, on_io, &probe), -EINVAL);
    ck_assert_int_eq(pyloop_fd_set_writer(loop, -5, on_io, &probe), -EINVAL);
    ck_assert_int_eq(pyloop_fd_set_reader(loop, 1000000, on_io, &probe), -EBADF);
    ck_assert_int_eq(pyloop_fd_clear_reader(loop, 1000000), -ENOENT);
    ck_assert_int_eq(pyloop_fd_clear_writer(loop, -1), -EINVAL);

    ck_assert_int_eq(pipe(fds), 0);
    close(fds[0]);
    ck_assert_int_eq(pyloop_fd_set_reader(loop, fds[0], on_io, &probe), -EBADF);
    ck_assert_int_eq(pyloop_fd_events(loop, fds[0], NULL, NULL), 0);
    close(fds[1]);

    file = mkstemp(path);
    ck_assert_int_ge(file, 0);
    unlink(path);
    ck_assert_int_eq(pyloop_fd_set_reader(loop, file, on_io, &probe), -EPERM);
    close(file);

    /* The loop still works after every refusal. */
    pyloop_stop(loop);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(probe.calls, 0);
    pyloop_loop_free(loop);
}
END_TEST

/* A watcher whose fd was closed behind the loop's back can be forgotten,
 * and a new fd with the same number can be watched. */
START_TEST(test_closed_watched_fd_is_forgotten_and_reused)
{
    pyloop_loop *loop = pyloop_loop_new();
    io_probe probe = {0};
    int fds[2], again[2];

    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(pyloop_fd_set_reader(loop, fds[0], on_io, &probe), 0);
    close(fds[0]);
    close(fds[1]);
    ck_assert_int_eq(pyloop_fd_forget(loop, fds[0]), 0);
    ck_assert_int_eq(pyloop_fd_forget(loop, fds[0]), -ENOENT);
    ck_assert_int_eq(pipe(again), 0);
    ck_assert_int_eq(pyloop_fd_set_reader(loop, again[0], on_io_drain_and_stop, &probe), 0);
    ck_assert_int_eq(write(again[1], "q", 1), 1);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(probe.calls, 1);
    pyloop_fd_clear_reader(loop, again[0]);
    close(again[0]);
    close(again[1]);
    pyloop_loop_free(loop);
}
END_TEST

/* The kernel dropped a watched fd's registration when the fd was closed
 * behind the loop's back; a newcomer under the same number must not be
 * registered in its place when the old slot changes (uvloop #645, #738):
 * the old watcher would read the stranger's data. */
START_TEST(test_stale_registration_never_comes_back_on_a_reused_fd)
{
    pyloop_loop *loop = pyloop_loop_new();
    io_probe probe = {0};
    int fds[2], again[2];

    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(pyloop_fd_set_reader(loop, fds[0], on_io, &probe), 0);
    close(fds[0]);
    ck_assert_int_eq(pipe(again), 0);
    ck_assert_int_eq(again[0], fds[0]); /* the lowest free number */
    ck_assert_int_eq(write(again[1], "s", 1), 1);
    /* Adding the other direction to the stale slot fails, as selectors'
     * modify() does, instead of watching the newcomer. */
    ck_assert_int_lt(pyloop_fd_set_writer(loop, fds[0], on_io, &probe), 0);
    ck_assert_int_eq(pyloop_call_soon(loop, stop_loop, NULL), 0);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(probe.calls, 0);
    pyloop_fd_clear_reader(loop, fds[0]);
    close(again[0]);
    close(again[1]);
    close(fds[1]);
    pyloop_loop_free(loop);
}
END_TEST

/* A fork() child shares the parent's epoll instance and eventfd: whatever
 * it does with its copy of the loop (watch, unwatch, wake, run, close),
 * the parent's watchers keep firing and its wakeups keep arriving. */
START_TEST(test_forked_child_never_changes_the_parents_watchers)
{
    pyloop_loop *loop = pyloop_loop_new();
    io_probe probe = {0};
    int pair[2], report[2], status;
    char verdict = 9;
    pid_t pid;

    /* The child reports through a pipe, not its exit status: under
     * valgrind (make check-valgrind) a child's exit runs a leak check that
     * counts Check's own memory, still reachable, as an error. */
    ck_assert_int_eq(pipe(report), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    ck_assert_int_eq(pyloop_fd_set_reader(loop, pair[0], on_io_drain_and_stop, &probe), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* The child's loop works on objects of its own... */
        io_probe child_probe = {0};
        int fds[2];
        char code = 0;
        if (pipe(fds) < 0 || pyloop_fd_set_reader(loop, fds[0], on_io_drain_and_stop, &child_probe) < 0 ||
            write(fds[1], "c", 1) != 1 || pyloop_run(loop) < 0 || child_probe.calls != 1)
            code = 2;
        else if (pyloop_call_soon_threadsafe(loop, stop_loop, NULL) < 0 || pyloop_run(loop) < 0)
            code = 3;
        /* ...and its clean-up leaves the parent's set alone. */
        pyloop_fd_clear_reader(loop, pair[0]);
        pyloop_fd_forget(loop, fds[0]);
        pyloop_loop_free(loop);
        _exit(write(report[1], &code, 1) == 1 ? 0 : 4);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    close(report[1]);
    ck_assert_int_eq(read(report[0], &verdict, 1), 1);
    ck_assert_int_eq(verdict, 0);
    close(report[0]);
    ck_assert_int_eq(write(pair[1], "p", 1), 1);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(probe.calls, 1);
    ck_assert_int_eq(probe.last_fd, pair[0]);
    pyloop_fd_clear_reader(loop, pair[0]);
    close(pair[0]);
    close(pair[1]);
    pyloop_loop_free(loop);
}
END_TEST

/* A loop kept busy by a callback chain still services I/O: the chain keeps
 * going until the reader has fired (no starvation, whatever the phase). */
typedef struct busy_chain {
    int links;
    int reader_fired;
} busy_chain;

static void busy_link(pyloop_loop *loop, void *arg)
{
    busy_chain *chain = arg;
    chain->links++;
    if (chain->reader_fired)
        pyloop_stop(loop);
    else
        pyloop_call_soon(loop, busy_link, chain);
}

static void busy_reader(pyloop_loop *loop, int fd, int events, void *arg)
{
    busy_chain *chain = arg;
    char byte;
    (void)loop;
    (void)events;
    ck_assert_int_eq(read(fd, &byte, 1), 1);
    chain->reader_fired++;
}

START_TEST(test_busy_loop_still_services_io)
{
    pyloop_loop *loop = pyloop_loop_new();
    busy_chain chain = {0};
    int fds[2];

    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(pyloop_fd_set_reader(loop, fds[0], busy_reader, &chain), 0);
    ck_assert_int_eq(write(fds[1], "b", 1), 1);
    pyloop_call_soon(loop, busy_link, &chain);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(chain.reader_fired, 1);
    ck_assert_int_ge(chain.links, 1);
    pyloop_fd_clear_reader(loop, fds[0]);
    close(fds[0]);
    close(fds[1]);
    pyloop_loop_free(loop);
}
END_TEST

/* ---- asyncio's I/O guarantee, re-entrancy, close (native unless said) ---- */

typedef struct chain_io {
    pyloop_loop *loop;
    int write_fd;
    int steps;      /* chain callbacks run so far */
    int write_at;   /* the step that makes the socket readable */
    int read_at;    /* the step count when the reader ran (0: not yet) */
    int last;
} chain_io;

static void chain_io_step(pyloop_loop *loop, void *arg)
{
    chain_io *chain = arg;
    chain->steps++;
    if (chain->steps == chain->write_at)
        ck_assert_int_eq(write(chain->write_fd, "x", 1), 1);
    if (chain->steps < chain->last)
        ck_assert_int_eq(pyloop_call_soon(loop, chain_io_step, chain), 0);
    else
        pyloop_stop(loop);
}

static void chain_io_reader(pyloop_loop *loop, int fd, int events, void *arg)
{
    chain_io *chain = arg;
    char byte;
    (void)loop;
    (void)events;
    ck_assert_int_eq(read(fd, &byte, 1), 1);
    if (!chain->read_at)
        chain->read_at = chain->steps;
}

/* Runs a 50-step chain that writes at step 10 to a socketpair whose other
 * end has a reader; returns the step at which the reader ran. */
static int run_chain_io(int quiet)
{
    pyloop_loop *loop = pyloop_loop_new();
    chain_io chain = {.loop = loop, .write_at = 10, .last = 50};
    int pair[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    chain.write_fd = pair[1];
    ck_assert_int_eq(pyloop_fd_set_reader(loop, pair[0], chain_io_reader, &chain), 0);
    ck_assert_int_eq(pyloop_fd_set_quiet(loop, pair[0], quiet), 0);
    ck_assert_int_eq(pyloop_call_soon(loop, chain_io_step, &chain), 0);
    ck_assert_int_eq(pyloop_run(loop), 0);
    if (!chain.read_at) { /* a quiet fd is seen once the loop would block */
        ck_assert_int_eq(pyloop_run_once(loop), 0);
        ck_assert_int_eq(chain.read_at, 50);
    }
    close(pair[0]);
    close(pair[1]);
    pyloop_loop_free(loop);
    return chain.read_at;
}

START_TEST(test_native_busy_iteration_sees_io_a_callback_caused)
{
    /* As asyncio's select(0): the write in step 10's iteration is seen by the
     * next one, whose look at I/O runs the reader before step 11 (the C core
     * runs fd callbacks as it dispatches them; the binding queues them). */
    ck_assert_int_eq(run_chain_io(0), 10);
}
END_TEST

START_TEST(test_native_quiet_fd_is_not_looked_at_while_busy)
{
    /* Only a quiet fd watched: no look at I/O until the chain is over. */
    ck_assert_int_eq(run_chain_io(1), 50);
}
END_TEST

START_TEST(test_quiet_mark_goes_with_the_last_watcher)
{
    pyloop_loop *loop = pyloop_loop_new();
    int pair[2];
    io_probe probe = {0};

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    ck_assert_int_eq(pyloop_fd_set_quiet(loop, pair[0], 1), -ENOENT);
    ck_assert_int_eq(pyloop_fd_set_reader(loop, pair[0], on_io, &probe), 0);
    ck_assert_int_eq(pyloop_fd_set_quiet(loop, pair[0], 1), 0);
    ck_assert_int_eq(pyloop_fd_clear_reader(loop, pair[0]), 0);
    ck_assert_int_eq(pyloop_fd_set_quiet(loop, pair[0], 0), -ENOENT);
    close(pair[0]);
    close(pair[1]);
    pyloop_loop_free(loop);
}
END_TEST

static void nest_run_once(pyloop_loop *loop, void *arg)
{
    int *results = arg;
    results[0] = pyloop_run_once(loop);
    results[1] = pyloop_run(loop);
    results[2] = pyloop_loop_close(loop);
    results[3] = pyloop_is_running(loop);
}

START_TEST(test_run_once_and_run_and_close_refuse_inside_an_iteration)
{
    pyloop_loop *loop = pyloop_loop_new();
    int results[4] = {1, 1, 1, 0}, count = 0;

    ck_assert_int_eq(pyloop_call_soon(loop, nest_run_once, results), 0);
    ck_assert_int_eq(pyloop_call_soon(loop, count_call, &count), 0);
    ck_assert_int_eq(pyloop_run_once(loop), 0); /* outside any run */
    ck_assert_int_eq(results[0], -EBUSY);
    ck_assert_int_eq(results[1], -EBUSY);
    ck_assert_int_eq(results[2], -EBUSY);
    ck_assert_int_eq(results[3], 1);
    ck_assert_int_eq(count, 1); /* ran once, not again by a nested iteration */
    ck_assert_int_eq(pyloop_is_running(loop), 0);
    pyloop_loop_free(loop);
}
END_TEST

static int forget_task(pyloop_callback fn, void *arg, void *context)
{
    (void)fn;
    (void)arg;
    (*(int *)context)++;
    return 0;
}

static void clear_everything(pyloop_loop *loop, void *arg)
{
    pyloop_clear_pending(loop, forget_task, arg);
}

START_TEST(test_callback_that_empties_the_queue_ends_the_batch)
{
    pyloop_loop *loop = pyloop_loop_new();
    int dropped = 0, count = 0, i;

    ck_assert_int_eq(pyloop_call_soon(loop, clear_everything, &dropped), 0);
    for (i = 0; i < 5; i++)
        ck_assert_int_eq(pyloop_call_soon(loop, count_call, &count), 0);
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_int_eq(dropped, 5);
    ck_assert_int_eq(count, 0);
    pyloop_loop_free(loop);
}
END_TEST

static int open_fds(void)
{
    int fd, count = 0;
    for (fd = 0; fd < 1024; fd++)
        count += fcntl(fd, F_GETFD) != -1;
    return count;
}

START_TEST(test_close_releases_fds_and_storage_and_refuses_work)
{
    int before = open_fds();
    pyloop_loop *loop = pyloop_loop_new();
    pyloop_timer timer;
    pyloop_stats stats;
    int count = 0, i, pair[2];

    ck_assert_int_gt(open_fds(), before);
    for (i = 0; i < 5000; i++)
        ck_assert_int_eq(pyloop_call_soon(loop, count_call, &count), 0);
    pyloop_stop(loop);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(pyloop_loop_close(loop), 0);
    ck_assert_int_eq(pyloop_loop_close(loop), 0); /* idempotent */
    ck_assert_int_eq(open_fds(), before);
    pyloop_get_stats(loop, &stats);
    ck_assert_uint_eq(stats.ready_capacity, 0);
    ck_assert_uint_eq(stats.inbox_capacity, 0);
    ck_assert_uint_eq(stats.timers_capacity, 0);
    ck_assert_int_eq(pyloop_run(loop), -EBADF);
    ck_assert_int_eq(pyloop_run_once(loop), -EBADF);
    ck_assert_int_eq(pyloop_call_soon(loop, count_call, &count), -EBADF);
    ck_assert_int_eq(pyloop_call_soon_threadsafe(loop, count_call, &count), -EBADF);
    pyloop_timer_init(&timer, count_call, &count);
    ck_assert_int_eq(pyloop_timer_start(loop, &timer, 0.0), -EBADF);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    ck_assert_int_eq(pyloop_fd_set_reader(loop, pair[0], on_io, NULL), -EBADF);
    pyloop_stop(loop); /* harmless */
    close(pair[0]);
    close(pair[1]);
    pyloop_loop_free(loop);
}
END_TEST

/* ---- storage follows use ---- */

START_TEST(test_queues_give_back_a_drained_burst)
{
    pyloop_loop *loop = pyloop_loop_new();
    static pyloop_timer timers[20000];
    pyloop_stats stats;
    int count = 0, i;

    for (i = 0; i < 20000; i++) {
        ck_assert_int_eq(pyloop_call_soon(loop, count_call, &count), 0);
        ck_assert_int_eq(pyloop_call_soon_threadsafe(loop, count_call, &count), 0);
        pyloop_timer_init(&timers[i], count_call, &count);
        ck_assert_int_eq(pyloop_timer_start(loop, &timers[i], 0.0), 0);
    }
    pyloop_get_stats(loop, &stats);
    ck_assert_uint_ge(stats.ready_capacity + stats.inbox_capacity, 20000);
    ck_assert_uint_ge(stats.timers_capacity, 20000);
    while (count < 60000)
        ck_assert_int_eq(pyloop_run_once(loop), 0);
    pyloop_stop(loop); /* one more iteration, without blocking */
    ck_assert_int_eq(pyloop_run(loop), 0);
    pyloop_get_stats(loop, &stats);
    ck_assert_uint_le(stats.ready_capacity, PYLOOP_RING_KEEP);
    ck_assert_uint_le(stats.inbox_capacity, PYLOOP_RING_KEEP);
    ck_assert_uint_le(stats.timers_capacity, PYLOOP_HEAP_KEEP);
    pyloop_loop_free(loop);
}
END_TEST

/* ---- back-pressure ---- */

typedef struct flood {
    pyloop_loop *loop;
    int total;          /* callbacks the producer sends */
    atomic_int sent;
    int needed;         /* times pyloop_throttle_needed said yes */
    int *ran_in_order;  /* values seen by the loop, in order */
    int ran;
    atomic_int go;
} flood;

typedef struct flood_call {
    flood *flood;
    int value;
} flood_call;

static void flood_record(pyloop_loop *loop, void *arg)
{
    flood_call *call = arg;
    (void)loop;
    call->flood->ran_in_order[call->flood->ran++] = call->value;
}

static void *flood_producer(void *arg)
{
    flood *job = arg;
    static flood_call calls[PYLOOP_THROTTLE_HIGH * 3];
    int i;

    while (!atomic_load(&job->go))
        sched_yield();
    for (i = 0; i < job->total; i++) {
        calls[i] = (flood_call){job, i};
        ck_assert_int_eq(pyloop_call_soon_threadsafe(job->loop, flood_record, &calls[i]), 0);
        atomic_fetch_add(&job->sent, 1);
        if (pyloop_throttle_needed(job->loop)) {
            job->needed++;
            pyloop_throttle(job->loop);
        }
    }
    ck_assert_int_eq(pyloop_call_soon_threadsafe(job->loop, stop_loop, NULL), 0);
    return NULL;
}

/* The loop's first callback holds the loop until the producer has queued
 * more than the high mark, so the producer must be throttled. */
static void hold_until_flooded(pyloop_loop *loop, void *arg)
{
    flood *job = arg;
    (void)loop;
    atomic_store(&job->go, 1);
    while (atomic_load(&job->sent) <= PYLOOP_THROTTLE_HIGH)
        sched_yield();
}

START_TEST(test_flooding_producer_waits_for_the_running_loop)
{
    pyloop_loop *loop = pyloop_loop_new();
    static int ran_in_order[PYLOOP_THROTTLE_HIGH * 3];
    flood job = {.loop = loop, .total = PYLOOP_THROTTLE_HIGH * 3, .ran_in_order = ran_in_order};
    pthread_t thread;
    int i;

    atomic_init(&job.go, 0);
    atomic_init(&job.sent, 0);
    ck_assert_int_eq(pthread_create(&thread, NULL, flood_producer, &job), 0);
    ck_assert_int_eq(pyloop_call_soon(loop, hold_until_flooded, &job), 0);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert_int_ge(job.needed, 1);
    ck_assert_uint_ge(stats_of(loop).throttled, 1);
    ck_assert_int_eq(job.ran, job.total); /* each once, in order */
    for (i = 0; i < job.total; i++)
        ck_assert_int_eq(ran_in_order[i], i);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_throttle_never_blocks_without_a_running_loop)
{
    pyloop_loop *loop = pyloop_loop_new();
    int count = 0, i;

    /* Nobody drains: the producer is told to throttle, and pyloop_throttle
     * returns at once, so this ends. */
    for (i = 0; i <= PYLOOP_THROTTLE_HIGH + 10; i++) {
        ck_assert_int_eq(pyloop_call_soon_threadsafe(loop, count_call, &count), 0);
        if (pyloop_throttle_needed(loop))
            pyloop_throttle(loop);
    }
    ck_assert_int_eq(pyloop_throttle_needed(loop), 1);
    /* stop-then-run is one iteration; a batch-limited build needs several
     * to drain, and every one of them must make progress. */
    for (i = 0; count < PYLOOP_THROTTLE_HIGH + 11 && i <= PYLOOP_THROTTLE_HIGH + 11; i++) {
        pyloop_stop(loop);
        ck_assert_int_eq(pyloop_run(loop), 0);
    }
    ck_assert_int_eq(count, PYLOOP_THROTTLE_HIGH + 11);
    ck_assert_int_eq(pyloop_throttle_needed(loop), 0);
    pyloop_loop_free(loop);
}
END_TEST

/* The loop's callback waits for the producer to finish: a producer that
 * waited for the loop without end would deadlock here. */
static void join_producer(pyloop_loop *loop, void *arg)
{
    flood *job = arg;
    (void)loop;
    atomic_store(&job->go, 1);
    while (atomic_load(&job->sent) < job->total)
        sched_yield();
}

START_TEST(test_stuck_loop_costs_producers_a_stall_not_a_deadlock)
{
    pyloop_loop *loop = pyloop_loop_new();
    static int ran_in_order[PYLOOP_THROTTLE_HIGH * 3];
    flood job = {.loop = loop, .total = PYLOOP_THROTTLE_HIGH * 3, .ran_in_order = ran_in_order};
    pthread_t thread;

    atomic_init(&job.go, 0);
    atomic_init(&job.sent, 0);
    ck_assert_int_eq(pthread_create(&thread, NULL, flood_producer, &job), 0);
    ck_assert_int_eq(pyloop_call_soon(loop, join_producer, &job), 0);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert_int_eq(job.ran, job.total);
    pyloop_loop_free(loop);
}
END_TEST

/* ---- threads ---- */

typedef struct thread_job {
    pyloop_loop *loop;
    int count;
    int *counter;
} thread_job;

static void *send_then_stop(void *arg)
{
    thread_job *job = arg;
    int i;
    for (i = 0; i < job->count; i++)
        ck_assert_int_eq(pyloop_call_soon_threadsafe(job->loop, count_call, job->counter), 0);
    ck_assert_int_eq(pyloop_call_soon_threadsafe(job->loop, stop_loop, NULL), 0);
    return NULL;
}

START_TEST(test_wakeup_from_another_thread)
{
    pyloop_loop *loop = pyloop_loop_new();
    int counter = 0;
    thread_job job = {loop, 1000, &counter};
    pthread_t thread;

    ck_assert_int_eq(pthread_create(&thread, NULL, send_then_stop, &job), 0);
    ck_assert_int_eq(pyloop_run(loop), 0);
    pthread_join(thread, NULL);
    /* Everything sent before the stop ran before run() returned. */
    ck_assert_int_eq(counter, 1000);
    pyloop_loop_free(loop);
}
END_TEST

static void *stop_from_thread(void *arg)
{
    pyloop_stop(arg);
    return NULL;
}

static void start_stopper(pyloop_loop *loop, void *arg)
{
    pthread_create(arg, NULL, stop_from_thread, loop);
}

START_TEST(test_stop_from_another_thread_ends_a_blocked_run)
{
    pyloop_loop *loop = pyloop_loop_new();
    pthread_t thread;

    pyloop_call_soon(loop, start_stopper, &thread);
    ck_assert_int_eq(pyloop_run(loop), 0);
    pthread_join(thread, NULL);
    pyloop_loop_free(loop);
}
END_TEST

/* Each loop runs a self-rescheduling chain and timers on its own thread. */
typedef struct chain {
    int remaining;
    int timers_seen;
    pyloop_timer timers[100];
} chain;

static void chain_step(pyloop_loop *loop, void *arg)
{
    chain *state = arg;
    if (--state->remaining > 0)
        pyloop_call_soon(loop, chain_step, state);
    else if (state->timers_seen == 100)
        pyloop_stop(loop);
}

static void chain_timer(pyloop_loop *loop, void *arg)
{
    chain *state = arg;
    if (++state->timers_seen == 100 && state->remaining == 0)
        pyloop_stop(loop);
}

static void *run_chain_loop(void *arg)
{
    chain *state = arg;
    pyloop_loop *loop = pyloop_loop_new();
    int i;

    for (i = 0; i < 100; i++) {
        pyloop_timer_init(&state->timers[i], chain_timer, state);
        pyloop_timer_start(loop, &state->timers[i], pyloop_time(loop) + 0.0001 * i);
    }
    pyloop_call_soon(loop, chain_step, state);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_uint_eq(stats_of(loop).timers_fired, 100);
    pyloop_loop_free(loop);
    return NULL;
}

START_TEST(test_two_loops_in_two_threads)
{
    static chain first, second;
    pthread_t threads[2];

    first = (chain){.remaining = 20000};
    second = (chain){.remaining = 30000};
    ck_assert_int_eq(pthread_create(&threads[0], NULL, run_chain_loop, &first), 0);
    ck_assert_int_eq(pthread_create(&threads[1], NULL, run_chain_loop, &second), 0);
    pthread_join(threads[0], NULL);
    pthread_join(threads[1], NULL);
    ck_assert_int_eq(first.remaining, 0);
    ck_assert_int_eq(second.remaining, 0);
    ck_assert_int_eq(first.timers_seen, 100);
    ck_assert_int_eq(second.timers_seen, 100);
}
END_TEST

/* ---- host hooks ---- */

typedef struct hook_log {
    int before;
    int after;
    int unbalanced;
} hook_log;

static void hook_before(pyloop_loop *loop, void *context)
{
    hook_log *log = context;
    (void)loop;
    if (log->before != log->after)
        log->unbalanced++;
    log->before++;
}

static void hook_after(pyloop_loop *loop, void *context)
{
    hook_log *log = context;
    (void)loop;
    log->after++;
    if (log->before != log->after)
        log->unbalanced++;
}

START_TEST(test_hooks_wrap_every_blocking_wait)
{
    pyloop_loop *loop = pyloop_loop_new();
    hook_log log = {0};
    pyloop_timer timer;

    pyloop_set_wait_hooks(loop, hook_before, hook_after, &log);
    pyloop_timer_init(&timer, stop_loop, NULL);
    pyloop_timer_start(loop, &timer, pyloop_time(loop) + 0.005);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_ge(log.before, 1);
    ck_assert_int_eq(log.before, log.after);
    ck_assert_int_eq(log.unbalanced, 0);
    ck_assert_uint_eq(stats_of(loop).blocking_waits, (uint64_t)log.before);
    pyloop_loop_free(loop);
}
END_TEST

/* ---- phase-specific behaviour ---- */

/* native: callbacks queued by a callback run in the next iteration. */
static void schedule_counter(pyloop_loop *loop, void *arg)
{
    pyloop_call_soon(loop, count_call, arg);
}

START_TEST(test_native_new_callbacks_wait_for_next_iteration)
{
    pyloop_loop *loop = pyloop_loop_new();
    int ran = 0;

    pyloop_call_soon(loop, schedule_counter, &ran);
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_int_eq(ran, 0);
    ck_assert_uint_eq(stats_of(loop).callbacks_run, 1);
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_int_eq(ran, 1);
    pyloop_loop_free(loop);
}
END_TEST

/* native: waiting on a timer costs no wakeups at all, and one blocking wait. */
START_TEST(test_native_idle_loop_makes_no_wakeups)
{
    pyloop_loop *loop = pyloop_loop_new();
    pyloop_timer timer;
    pyloop_stats stats;

    pyloop_timer_init(&timer, stop_loop, NULL);
    pyloop_timer_start(loop, &timer, pyloop_time(loop) + 0.03);
    ck_assert_int_eq(pyloop_run(loop), 0);
    stats = stats_of(loop);
    ck_assert_uint_eq(stats.wakeups_written, 0);
    ck_assert_uint_eq(stats.wakeups_consumed, 0);
    ck_assert_uint_eq(stats.blocking_waits, 1);
    ck_assert_uint_eq(stats.iterations, 1);
    pyloop_loop_free(loop);
}
END_TEST

/* native: a loop that is not polling is not woken (the sender's push is
 * seen before the next wait). */
START_TEST(test_native_no_wakeup_when_loop_is_not_waiting)
{
    pyloop_loop *loop = pyloop_loop_new();
    int ran = 0, i;

    for (i = 0; i < 100; i++)
        pyloop_call_soon_threadsafe(loop, count_call, &ran);
    pyloop_call_soon_threadsafe(loop, stop_loop, NULL);
    ck_assert_int_eq(pyloop_run(loop), 0);
    ck_assert_int_eq(ran, 100);
    ck_assert_uint_eq(stats_of(loop).wakeups_written, 0);
    pyloop_loop_free(loop);
}
END_TEST

/* native: a burst of 10k threadsafe calls against a sleeping loop costs one
 * eventfd write. The after-wait hook holds the loop until the sender is done,
 * which makes "the loop is still asleep" a fact rather than a race. */
typedef struct burst {
    pyloop_loop *loop;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int loop_asleep;
    int sender_done;
    int ran;
} burst;

static void burst_before_wait(pyloop_loop *loop, void *context)
{
    burst *state = context;
    (void)loop;
    pthread_mutex_lock(&state->lock);
    state->loop_asleep = 1;
    pthread_cond_broadcast(&state->changed);
    pthread_mutex_unlock(&state->lock);
}

static void burst_after_wait(pyloop_loop *loop, void *context)
{
    burst *state = context;
    (void)loop;
    pthread_mutex_lock(&state->lock);
    while (!state->sender_done)
        pthread_cond_wait(&state->changed, &state->lock);
    pthread_mutex_unlock(&state->lock);
}

static void count_burst(pyloop_loop *loop, void *arg)
{
    burst *state = arg;
    if (++state->ran == 10000)
        pyloop_stop(loop);
}

static void *send_burst(void *arg)
{
    burst *state = arg;
    int i;

    pthread_mutex_lock(&state->lock);
    while (!state->loop_asleep)
        pthread_cond_wait(&state->changed, &state->lock);
    pthread_mutex_unlock(&state->lock);
    for (i = 0; i < 10000; i++)
        pyloop_call_soon_threadsafe(state->loop, count_burst, state);
    pthread_mutex_lock(&state->lock);
    state->sender_done = 1;
    pthread_cond_broadcast(&state->changed);
    pthread_mutex_unlock(&state->lock);
    return NULL;
}

START_TEST(test_native_burst_costs_one_wakeup)
{
    static burst state;
    pthread_t sender;
    pyloop_stats stats;

    memset(&state, 0, sizeof(state));
    pthread_mutex_init(&state.lock, NULL);
    pthread_cond_init(&state.changed, NULL);
    state.loop = pyloop_loop_new();
    pyloop_set_wait_hooks(state.loop, burst_before_wait, burst_after_wait, &state);
    ck_assert_int_eq(pthread_create(&sender, NULL, send_burst, &state), 0);
    ck_assert_int_eq(pyloop_run(state.loop), 0);
    pthread_join(sender, NULL);
    stats = stats_of(state.loop);
    ck_assert_int_eq(state.ran, 10000);
    ck_assert_uint_eq(stats.wakeups_written, 1);
    ck_assert_uint_eq(stats.wakeups_consumed, 1);
    pyloop_loop_free(state.loop);
    pthread_cond_destroy(&state.changed);
    pthread_mutex_destroy(&state.lock);
}
END_TEST

/* 3.1.x: the batch rule. With a limit, one iteration runs at most that many
 * callbacks, newly queued ones included; without one it drains the channel. */
static int rescheduled;
static void reschedule_self(pyloop_loop *loop, void *arg)
{
    (void)arg;
    if (++rescheduled < 1000)
        pyloop_call_soon(loop, reschedule_self, NULL);
}

START_TEST(test_locked_channel_batch_rule)
{
    unsigned limit = pyloop_build_info()->batch_limit;
    pyloop_loop *loop = pyloop_loop_new();
    int ran = 0, i;

    for (i = 0; i < 1000; i++)
        pyloop_call_soon(loop, count_call, &ran);
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_int_eq(ran, limit ? (int)limit : 1000);
    ck_assert_uint_eq(stats_of(loop).callbacks_run, limit ? limit : 1000);
    while (ran < 1000)
        ck_assert_int_eq(pyloop_run_once(loop), 0);

    rescheduled = 0;
    pyloop_call_soon(loop, reschedule_self, NULL);
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_int_eq(rescheduled, limit ? (int)limit : 1000);
    while (rescheduled < 1000)
        ck_assert_int_eq(pyloop_run_once(loop), 0);
    pyloop_loop_free(loop);
}
END_TEST

/* native with an explicit batch limit: at most that many of the snapshot. */
START_TEST(test_native_batch_limit_caps_the_snapshot)
{
    unsigned limit = pyloop_build_info()->batch_limit;
    pyloop_loop *loop = pyloop_loop_new();
    int ran = 0, i;

    for (i = 0; i < (int)limit * 3; i++)
        pyloop_call_soon(loop, count_call, &ran);
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_int_eq(ran, (int)limit);
    pyloop_loop_free(loop);
}
END_TEST

/* The wake rule of each wait strategy, counted. */
START_TEST(test_wakeups_written_by_call_soon)
{
    const char *wait = pyloop_build_info()->wait_strategy;
    pyloop_loop *loop = pyloop_loop_new();
    int ran = 0, i;
    uint64_t written;

    for (i = 0; i < 100; i++)
        pyloop_call_soon(loop, count_call, &ran);
    written = stats_of(loop).wakeups_written;
    if (is_native())
        ck_assert_uint_eq(written, 0); /* the loop thread never wakes itself */
    else if (strcmp(wait, "condvar") == 0)
        ck_assert_uint_eq(written, 100); /* 3.1.3: every call_soon signals */
    else if (strcmp(wait, "sleep") == 0 || strcmp(wait, "adaptive") == 0)
        ck_assert_uint_eq(written, 0); /* nothing can wake a sleep */
    else
        ck_abort_msg("no wake rule stated for wait %s", wait); /* not registered there */
    while (ran < 100) /* ready work: these iterations never block */
        ck_assert_int_eq(pyloop_run_once(loop), 0);
    pyloop_loop_free(loop);
}
END_TEST

/* 3.1.x: an idle loop without timers keeps waking up every millisecond:
 * each iteration with nothing to do is one blocking wait (sleep or condvar). */
static void count_idle_iterations(pyloop_loop *loop, void *context)
{
    int *left = context;
    (void)loop;
    if (--*left == 0)
        pyloop_stop(loop);
}

START_TEST(test_locked_channel_idle_loop_sleeps_in_slices)
{
    pyloop_loop *loop = pyloop_loop_new();
    int left = 5;

    pyloop_set_wait_hooks(loop, NULL, count_idle_iterations, &left);
    ck_assert_int_eq(pyloop_run(loop), 0);
    /* No timers, no fds: every iteration waited once, at most 1 ms each. */
    ck_assert_uint_eq(stats_of(loop).blocking_waits, 5);
    ck_assert_uint_eq(stats_of(loop).iterations, 5);
    pyloop_loop_free(loop);
}
END_TEST

static Suite *loop_suite(void)
{
    Suite *suite = suite_create("loop");
    TCase *callbacks = tcase_create("callbacks");
    TCase *timers = tcase_create("timers");
    TCase *io = tcase_create("io");
    TCase *threads = tcase_create("threads");
    TCase *phase = tcase_create("phase");

    tcase_add_test(callbacks, test_call_soon_runs_in_fifo_order);
    tcase_add_test(callbacks, test_null_callback_is_rejected);
    tcase_add_test(callbacks, test_threadsafe_and_call_soon_keep_one_order);
    tcase_add_test(callbacks, test_stop_finishes_the_iteration_only);
    tcase_add_test(callbacks, test_stop_before_run_runs_one_iteration);
    tcase_add_test(callbacks, test_stop_called_twice);
    tcase_add_test(callbacks, test_run_while_running_is_refused);
    tcase_add_test(callbacks, test_interrupt_keeps_the_rest_queued);
    tcase_add_test(callbacks, test_foreach_pending_sees_queued_work);
    tcase_add_test(callbacks, test_hooks_wrap_every_blocking_wait);
    suite_add_tcase(suite, callbacks);

    tcase_add_test(timers, test_timers_never_fire_early_and_fire_in_order);
    tcase_add_test(timers, test_equal_deadlines_fire_in_start_order);
    tcase_add_test(timers, test_cancelled_timers_never_run);
    tcase_add_test(timers, test_timer_rejects_nan_and_restarts);
    tcase_add_test(timers, test_host_clock_decides_which_timers_are_due);
    tcase_add_test(timers, test_due_timer_runs_after_ready_callbacks);
    suite_add_tcase(suite, timers);

    tcase_add_test(io, test_reader_fires_when_pipe_has_data);
    tcase_add_test(io, test_writer_and_reader_on_one_socket);
    tcase_add_test(io, test_bad_fds_give_errors);
    tcase_add_test(io, test_closed_watched_fd_is_forgotten_and_reused);
    tcase_add_test_if(io, test_stale_registration_never_comes_back_on_a_reused_fd, polls_with_epoll(),
                      "needs the epoll poller: poll(2) keeps no registration, a reused number is polled as new, "
                      "as selectors' PollSelector does");
    tcase_add_test(io, test_forked_child_never_changes_the_parents_watchers);
    tcase_add_test(io, test_busy_loop_still_services_io);
    tcase_add_test(io, test_quiet_mark_goes_with_the_last_watcher);
    suite_add_tcase(suite, io);

    tcase_add_test(callbacks, test_run_once_and_run_and_close_refuse_inside_an_iteration);
    tcase_add_test(callbacks, test_callback_that_empties_the_queue_ends_the_batch);
    tcase_add_test(callbacks, test_close_releases_fds_and_storage_and_refuses_work);
    tcase_add_test(callbacks, test_queues_give_back_a_drained_burst);

    tcase_set_timeout(threads, 120);
    tcase_add_test(threads, test_wakeup_from_another_thread);
    tcase_add_test(threads, test_stop_from_another_thread_ends_a_blocked_run);
    tcase_add_test(threads, test_two_loops_in_two_threads);
    tcase_add_test(threads, test_flooding_producer_waits_for_the_running_loop);
    tcase_add_test(threads, test_throttle_never_blocks_without_a_running_loop);
    tcase_add_test(threads, test_stuck_loop_costs_producers_a_stall_not_a_deadlock);
    suite_add_tcase(suite, threads);

    /* Registered only where they apply; the rest is reported as skipped. */
    tcase_set_timeout(phase, 60);
    tcase_add_test_if(phase, test_native_new_callbacks_wait_for_next_iteration, is_native(), "needs native");
    tcase_add_test_if(phase, test_native_idle_loop_makes_no_wakeups, is_native(), "needs native");
    tcase_add_test_if(phase, test_native_no_wakeup_when_loop_is_not_waiting, is_native(), "needs native");
    tcase_add_test_if(phase, test_native_burst_costs_one_wakeup, is_native(), "needs native");
    tcase_add_test_if(phase, test_native_busy_iteration_sees_io_a_callback_caused,
                      is_native() && !pyloop_build_info()->batch_limit, "needs native without a batch limit");
    tcase_add_test_if(phase, test_native_quiet_fd_is_not_looked_at_while_busy,
                      is_native() && !pyloop_build_info()->batch_limit, "needs native without a batch limit");
    tcase_add_test_if(phase, test_native_batch_limit_caps_the_snapshot, is_native() && pyloop_build_info()->batch_limit,
                      "needs native with a batch limit");
    tcase_add_test_if(phase, test_locked_channel_batch_rule, !is_native(), "needs a 3.1.x locked channel");
    tcase_add_test_if(phase, test_wakeups_written_by_call_soon, wake_rule_is_known(),
                      "needs native, or a sleep or condvar wait");
    tcase_add_test_if(phase, test_locked_channel_idle_loop_sleeps_in_slices, !is_native() && waits_in_slices(),
                      "needs a 3.1.x locked channel with a sleep or condvar wait");
    suite_add_tcase(suite, phase);
    return suite;
}

int main(void)
{
    const pyloop_build *build = pyloop_build_info();
    SRunner *runner = srunner_create(loop_suite());
    int failed;

    printf("loop build: phase %s, batch limit %u, wait %s, call_soon path %s\n", build->phase,
           build->batch_limit, build->wait_strategy, build->call_soon_path);
    fflush(stdout); /* before Check forks */
    srunner_run_all(runner, CK_NORMAL);
    print_skipped("loop");
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
