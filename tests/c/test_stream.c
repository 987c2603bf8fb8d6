/*
 * The stream layer (stream.h) over real socketpairs and pipes, on a real
 * pyloop_loop, in whichever phase this build is. Behaviour is asserted
 * through counters and the bytes the peer sees, never through timing: every
 * iteration the tests run is one that cannot block (a no-op callback is
 * queued first), and a "system call count" is read off what the peer can
 * observe (a SOCK_SEQPACKET peer receives one message per sendmsg).
 *
 * Tests that take a kind run over a socketpair (_i == KIND_SOCKET) and over
 * a pipe (_i == KIND_PIPE). A test that does not apply to the build would be
 * registered nowhere and listed on the line "stream: N skipped: ..." after
 * Check's closing line, as test_loop.c does; none needs that today.
 *
 * SIGPIPE keeps its default action, so a socket write that raised it would
 * kill the suite: the pipe tests that write to a closed reader ignore it for
 * their duration, as the host (CPython) does.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "stream.h"

enum { KIND_SOCKET, KIND_PIPE, KIND_SEQPACKET };
enum { STREAM_READS, STREAM_WRITES }; /* which end of a pipe the stream gets */
enum { NOTHING, CLOSE, READ_STOP };   /* what a callback does to its stream */

/* Bound on the iterations a test waits for something that must happen. */
#define SPIN_LIMIT 100000

/* ---- tests that apply to some builds only (see test_loop.c) ---- */

#define MAX_SKIPPED 32
static const char *skipped_names[MAX_SKIPPED];
static const char *skipped_needs[MAX_SKIPPED];
static int skipped_count;

#define tcase_add_test_if(tcase, test, applies, needs)                           \
    do {                                                                        \
        if (applies)                                                            \
            tcase_add_test(tcase, test);                                        \
        else                                                                    \
            note_skipped(#test, needs);                                         \
    } while (0)

/* Unused while every test applies to every build. */
__attribute__((unused)) static void note_skipped(const char *name, const char *needs)
{
    if (skipped_count < MAX_SKIPPED) {
        skipped_names[skipped_count] = name;
        skipped_needs[skipped_count] = needs;
    }
    skipped_count++;
}

static void print_skipped(const char *suite)
{
    int i;

    printf("%s: %d skipped", suite, skipped_count);
    for (i = 0; i < skipped_count && i < MAX_SKIPPED; i++)
        printf("%s%s (%s)", i ? ", " : ": ", skipped_names[i], skipped_needs[i]);
    printf("\n");
    fflush(stdout);
}

static unsigned long test_scale(void)
{
    const char *text = getenv("PYLOOP_TEST_SCALE");
    char *end;
    unsigned long scale;

    if (!text || !*text)
        return 1;
    scale = strtoul(text, &end, 10);
    return (*end || scale == 0) ? 1 : scale;
}

/* ---- bytes ---- */

typedef struct bytes {
    unsigned char *data;
    size_t length, capacity;
} bytes;

static void bytes_append(bytes *into, const void *data, size_t length)
{
    if (into->length + length > into->capacity) {
        size_t capacity = into->capacity ? into->capacity : 4096;
        while (capacity < into->length + length)
            capacity *= 2;
        into->data = realloc(into->data, capacity);
        ck_assert_ptr_nonnull(into->data);
        into->capacity = capacity;
    }
    memcpy(into->data + into->length, data, length);
    into->length += length;
}

static void bytes_free(bytes *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* The bytes every write test sends: position k holds pattern_at(k). */
static unsigned char pattern_at(size_t k)
{
    return (unsigned char)(k * 131 + (k >> 9));
}

static unsigned char *pattern(size_t length)
{
    unsigned char *data = malloc(length ? length : 1);
    size_t k;

    ck_assert_ptr_nonnull(data);
    for (k = 0; k < length; k++)
        data[k] = pattern_at(k);
    return data;
}

/* `seen` is `skip` filler bytes ('F') followed by pattern[0, length). */
static void assert_pattern(const bytes *seen, size_t skip, size_t length)
{
    size_t k;

    ck_assert_uint_eq(seen->length, skip + length);
    for (k = 0; k < skip; k++)
        ck_assert_int_eq(seen->data[k], 'F');
    for (k = 0; k < length; k++)
        if (seen->data[skip + k] != pattern_at(k))
            ck_abort_msg("byte %zu of %zu: %d, expected %d", k, length, seen->data[skip + k], pattern_at(k));
}

static void assert_text(const bytes *seen, const char *text)
{
    ck_assert_uint_eq(seen->length, strlen(text));
    ck_assert(memcmp(seen->data, text, seen->length) == 0);
}

/* ---- buffers whose release is counted ---- */

typedef struct tracked {
    int released;
} tracked;

static void count_release(void *owner)
{
    ((tracked *)owner)->released++;
}

static pyloop_stream_buffer tracked_buffer(const void *data, size_t length, tracked *counter)
{
    return (pyloop_stream_buffer){data, length, count_release, counter};
}

static void assert_released_once(const tracked *counters, size_t count)
{
    size_t i;

    for (i = 0; i < count; i++)
        if (counters[i].released != 1)
            ck_abort_msg("buffer %zu released %d times", i, counters[i].released);
}

/* ---- the host: a C program using a stream ---- */

typedef struct host {
    pyloop_stream stream;
    pyloop_loop *loop;
    int kind, fd, peer;
    bytes got; /* what on_read delivered */
    unsigned char read_buffer[65536];
    int allocs, reads, eofs, errors, last_error, error_while_writing;
    int pauses, resumes, drains, holds, releases;
    size_t queue_at_pause, queue_at_resume;
    int alloc_result;
    int in_alloc, in_read, in_pause, in_drain; /* NOTHING, CLOSE or READ_STOP */
    char log[64];                              /* the order of events, one letter each */
    int log_length;
    int refs, free_on_last_release;
    /* the hooks: watchers set (reader, writer), tasks entered, and which
     * task runs now (0 none, 1 a read, 2 a send) */
    int watches[2], enters[2], exits, entered, reads_inside, drains_inside;
    int fd_gone; /* check_fd: the host "closed" its fd (it stays open) */
} host;

/* What the loop holds of the host right now: a watcher or a queued task. */
#define HELD(h) ((h)->holds - (h)->releases)

static int hosts_freed;

static host *host_of(pyloop_stream *stream)
{
    return stream->context;
}

static void note(host *h, char event)
{
    if (h->log_length < (int)sizeof(h->log) - 1)
        h->log[h->log_length++] = event;
}

static void act(host *h, int action)
{
    if (action == CLOSE)
        pyloop_stream_close(&h->stream);
    else if (action == READ_STOP)
        ck_assert_int_eq(pyloop_stream_read_stop(&h->stream), 0);
}

static int on_alloc(pyloop_stream *stream, void **data, size_t *length)
{
    host *h = host_of(stream);

    h->allocs++;
    act(h, h->in_alloc);
    if (h->alloc_result)
        return h->alloc_result;
    ck_assert_uint_eq(*length, 65536); /* the suggestion */
    *data = h->read_buffer;
    *length = sizeof(h->read_buffer);
    return 0;
}

static void on_read(pyloop_stream *stream, void *data, ssize_t nread)
{
    host *h = host_of(stream);

    ck_assert_int_ge(nread, 0);
    ck_assert_ptr_eq(data, h->read_buffer);
    h->reads++;
    h->reads_inside += h->entered == 1;
    note(h, 'R');
    if (nread == 0)
        h->eofs++;
    bytes_append(&h->got, data, (size_t)nread);
    act(h, h->in_read);
}

static void on_write_pause(pyloop_stream *stream)
{
    host *h = host_of(stream);

    h->pauses++;
    h->queue_at_pause = pyloop_stream_write_queue_size(stream);
    note(h, 'P');
    act(h, h->in_pause);
}

static void on_write_resume(pyloop_stream *stream)
{
    host *h = host_of(stream);

    h->resumes++;
    h->queue_at_resume = pyloop_stream_write_queue_size(stream);
    note(h, 'U');
}

static void on_drain(pyloop_stream *stream)
{
    host *h = host_of(stream);

    ck_assert_uint_eq(pyloop_stream_write_queue_size(stream), 0);
    h->drains++;
    h->drains_inside += h->entered == 2;
    note(h, 'D');
    act(h, h->in_drain);
}

static void on_error(pyloop_stream *stream, int error, int while_writing)
{
    host *h = host_of(stream);

    h->errors++;
    h->last_error = error;
    h->error_while_writing = while_writing;
    note(h, 'E');
}

static void host_free(host *h);

static void on_hold(pyloop_stream *stream)
{
    host *h = host_of(stream);

    h->holds++;
    h->refs++;
}

static void on_release(pyloop_stream *stream)
{
    host *h = host_of(stream);

    h->releases++;
    if (--h->refs == 0 && h->free_on_last_release)
        host_free(h);
}

static const pyloop_stream_callbacks host_callbacks = {
    .alloc = on_alloc,
    .on_read = on_read,
    .on_write_pause = on_write_pause,
    .on_write_resume = on_write_resume,
    .on_drain = on_drain,
    .on_error = on_error,
    .hold = on_hold,
    .release = on_release,
};

static void on_watch(pyloop_stream *stream, int writing)
{
    host_of(stream)->watches[writing != 0]++;
}

static void *on_task_enter(pyloop_stream *stream, int writing)
{
    host *h = host_of(stream);

    ck_assert_int_eq(h->entered, 0); /* tasks do not nest */
    h->entered = 1 + (writing != 0);
    h->enters[writing != 0]++;
    return &h->entered;
}

static void on_task_exit(pyloop_stream *stream, void *entered)
{
    host *h = host_of(stream);

    ck_assert_ptr_eq(entered, &h->entered); /* what task_enter returned */
    ck_assert_int_ne(h->entered, 0);
    h->entered = 0;
    h->exits++;
}

static const pyloop_stream_callbacks hooked_callbacks = {
    .alloc = on_alloc,
    .on_read = on_read,
    .on_write_pause = on_write_pause,
    .on_write_resume = on_write_resume,
    .on_drain = on_drain,
    .on_error = on_error,
    .hold = on_hold,
    .release = on_release,
    .on_watch = on_watch,
    .task_enter = on_task_enter,
    .task_exit = on_task_exit,
};

static int on_check_fd(pyloop_stream *stream)
{
    return host_of(stream)->fd_gone ? -EBADF : 0;
}

/* host_callbacks with check_fd: the host may close its fd behind the stream. */
static const pyloop_stream_callbacks checked_callbacks = {
    .alloc = on_alloc,
    .on_read = on_read,
    .on_write_pause = on_write_pause,
    .on_write_resume = on_write_resume,
    .on_drain = on_drain,
    .on_error = on_error,
    .hold = on_hold,
    .release = on_release,
    .check_fd = on_check_fd,
};

static void set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    ck_assert_int_ge(flags, 0);
    ck_assert_int_eq(fcntl(fd, F_SETFL, flags | O_NONBLOCK), 0);
}

/* fds[0] for the stream, fds[1] for the peer, both non-blocking. */
static void open_channel(int kind, int direction, int fds[2])
{
    int pair[2];

    if (kind == KIND_PIPE) {
        ck_assert_int_eq(pipe(pair), 0);
        fds[0] = direction == STREAM_READS ? pair[0] : pair[1];
        fds[1] = direction == STREAM_READS ? pair[1] : pair[0];
    } else {
        ck_assert_int_eq(socketpair(AF_UNIX, kind == KIND_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM, 0, pair), 0);
        fds[0] = pair[0];
        fds[1] = pair[1];
    }
    set_nonblocking(fds[0]);
    set_nonblocking(fds[1]);
}

static host *host_new(pyloop_loop *loop, int kind, int direction)
{
    host *h = calloc(1, sizeof(*h));
    int fds[2];

    ck_assert_ptr_nonnull(h);
    open_channel(kind, direction, fds);
    h->loop = loop;
    h->kind = kind;
    h->fd = fds[0];
    h->peer = fds[1];
    h->refs = 1; /* the test's own */
    ck_assert_int_eq(pyloop_stream_init(&h->stream, loop, h->fd, &host_callbacks, h), 0);
    return h;
}

static void close_peer(host *h)
{
    ck_assert_int_eq(close(h->peer), 0);
    h->peer = -1;
}

/* The struct is only freed once the loop holds no task for it. */
static void host_free(host *h)
{
    pyloop_stream_close(&h->stream);
    ck_assert_int_eq(h->holds, h->releases);
    ck_assert_int_eq(pyloop_fd_events(h->loop, h->fd, NULL, NULL), 0);
    close(h->fd);
    if (h->peer >= 0)
        close(h->peer);
    bytes_free(&h->got);
    free(h);
    hosts_freed++;
}

/* Small kernel buffers, so that writes are partial and queue. */
static void shrink(host *h)
{
    int size = 4096;

    if (h->kind == KIND_PIPE) {
        ck_assert_int_gt(fcntl(h->fd, F_SETPIPE_SZ, size), 0);
        return;
    }
    ck_assert_int_eq(setsockopt(h->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
    ck_assert_int_eq(setsockopt(h->peer, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)), 0);
}

/* Writes 'F' past the stream until the kernel refuses: the stream's next
 * send finds the fd not writable. Returns how many went. */
static size_t fill_kernel(host *h)
{
    char filler[4096];
    size_t total = 0;
    ssize_t n;

    memset(filler, 'F', sizeof(filler));
    while ((n = write(h->fd, filler, sizeof(filler))) > 0)
        total += (size_t)n;
    ck_assert_int_eq(errno, EAGAIN);
    return total;
}

static void peer_send(host *h, const char *text)
{
    ck_assert_int_eq(write(h->peer, text, strlen(text)), (ssize_t)strlen(text));
}

/* Everything the peer can read now; 1 once it has read end of file. */
static int peer_drain(host *h, bytes *into)
{
    unsigned char buffer[65536];
    ssize_t n;

    while ((n = read(h->peer, buffer, sizeof(buffer))) > 0)
        bytes_append(into, buffer, (size_t)n);
    if (n == 0)
        return 1;
    ck_assert_int_eq(errno, EAGAIN);
    return 0;
}

static int peer_has_nothing(host *h)
{
    char c;
    return read(h->peer, &c, 1) < 0 && errno == EAGAIN;
}

/* ---- the loop ---- */

static void noop(pyloop_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
}

/* One iteration that cannot block: something is ready. */
static void spin(pyloop_loop *loop)
{
    ck_assert_int_eq(pyloop_call_soon(loop, noop, NULL), 0);
    ck_assert_int_eq(pyloop_run_once(loop), 0);
}

static void spin_until(pyloop_loop *loop, const int *counter, int target)
{
    int i;

    for (i = 0; *counter < target && i < SPIN_LIMIT; i++)
        spin(loop);
    ck_assert_int_eq(*counter, target);
}

/* The peer reads all it can before each iteration until the stream's queue
 * is empty; then reads the rest. */
static void drain_through_peer(host *h, bytes *into)
{
    int i;

    for (i = 0; pyloop_stream_write_queue_size(&h->stream) && i < SPIN_LIMIT; i++) {
        peer_drain(h, into);
        spin(h->loop);
    }
    ck_assert_uint_eq(pyloop_stream_write_queue_size(&h->stream), 0);
    peer_drain(h, into);
}

typedef struct logged {
    host *h;
    char event;
} logged;

static void log_event(pyloop_loop *loop, void *arg)
{
    logged *call = arg;
    (void)loop;
    note(call->h, call->event);
}

static void interrupt_loop(pyloop_loop *loop, void *arg)
{
    (void)arg;
    pyloop_interrupt(loop);
}

static struct sigaction ignore_sigpipe(void)
{
    struct sigaction ignore, old;

    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    ck_assert_int_eq(sigaction(SIGPIPE, &ignore, &old), 0);
    return old;
}

/* ------------------------------------------------------------------ */
/* setup                                                               */
/* ------------------------------------------------------------------ */

START_TEST(test_init_checks_its_arguments)
{
    pyloop_loop *loop = pyloop_loop_new();
    pyloop_stream stream;
    pyloop_stream_callbacks no_reading = {0};
    int fds[2];

    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(pyloop_stream_init(NULL, loop, fds[0], &host_callbacks, NULL), -EINVAL);
    ck_assert_int_eq(pyloop_stream_init(&stream, NULL, fds[0], &host_callbacks, NULL), -EINVAL);
    ck_assert_int_eq(pyloop_stream_init(&stream, loop, -1, &host_callbacks, NULL), -EINVAL);
    ck_assert_int_eq(pyloop_stream_init(&stream, loop, fds[0], NULL, NULL), -EINVAL);
    /* A blocking fd would block the loop. */
    ck_assert_int_eq(pyloop_stream_init(&stream, loop, fds[0], &host_callbacks, NULL), -EINVAL);
    set_nonblocking(fds[0]);
    ck_assert_int_eq(pyloop_stream_init(&stream, loop, fds[0], &no_reading, NULL), 0);
    ck_assert_int_eq(stream.is_socket, 0);
    ck_assert_int_eq(pyloop_stream_read_start(&stream), -EINVAL); /* no alloc/on_read */
    ck_assert_int_eq(pyloop_stream_is_reading(&stream), 0);
    pyloop_stream_close(&stream);
    close(fds[0]);
    close(fds[1]);
    ck_assert_int_eq(pyloop_stream_init(&stream, loop, fds[0], &host_callbacks, NULL), -EBADF);

    ck_assert_int_eq(pyloop_stream_read_start(NULL), -EINVAL);
    ck_assert_int_eq(pyloop_stream_write(NULL, NULL, 0, 0), -EINVAL);
    ck_assert_int_eq(pyloop_stream_flush(NULL), -EINVAL);
    ck_assert_int_eq(pyloop_stream_shutdown(NULL), -EINVAL);
    ck_assert_int_eq(pyloop_stream_set_write_limits(NULL, 1, 0), -EINVAL);
    pyloop_stream_close(NULL);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_socket_is_found_once_at_init)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_READS);

    ck_assert_int_eq(h->stream.is_socket, _i != KIND_PIPE);
    ck_assert_ptr_eq(h->stream.context, h);
    ck_assert_int_eq(pyloop_stream_closed(&h->stream), 0);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* The loop has one reader and one writer per fd: the stream refuses to
 * replace another's. */
static void foreign_io(pyloop_loop *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    (void)arg;
}

START_TEST(test_a_foreign_watcher_is_refused)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, KIND_SOCKET, STREAM_READS);
    tracked counter = {0};
    pyloop_stream_buffer buffer = tracked_buffer("abc", 3, &counter);

    ck_assert_int_eq(pyloop_fd_set_reader(loop, h->fd, foreign_io, NULL), 0);
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), -EBUSY);
    ck_assert_int_eq(pyloop_fd_clear_reader(loop, h->fd), 0);
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);

    /* A write that needs the writer watcher fails the stream, and says so. */
    ck_assert_int_eq(pyloop_fd_set_writer(loop, h->fd, foreign_io, NULL), 0);
    fill_kernel(h);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &buffer, 1, 0), -EBUSY);
    ck_assert_int_eq(counter.released, 1);
    ck_assert_int_eq(h->errors, 0);
    ck_assert_int_eq(pyloop_stream_is_reading(&h->stream), 0);
    ck_assert_int_eq(pyloop_fd_events(loop, h->fd, NULL, NULL), PYLOOP_WRITABLE); /* not ours: left alone */
    ck_assert_int_eq(pyloop_fd_clear_writer(loop, h->fd), 0);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* ------------------------------------------------------------------ */
/* reading                                                             */
/* ------------------------------------------------------------------ */

START_TEST(test_read_start_and_stop)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_READS);

    peer_send(h, "hello");
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0); /* already reading */
    ck_assert_int_eq(pyloop_stream_is_reading(&h->stream), 1);
    spin(loop); /* the iteration that sees the readiness reads */
    ck_assert_int_eq(h->reads, 1);
    assert_text(&h->got, "hello");

    ck_assert_int_eq(pyloop_stream_read_stop(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_read_stop(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_is_reading(&h->stream), 0);
    peer_send(h, "more");
    spin(loop);
    spin(loop);
    ck_assert_int_eq(h->reads, 1);

    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    spin(loop);
    ck_assert_int_eq(h->reads, 2);
    assert_text(&h->got, "hellomore");
    spin(loop); /* nothing more to read: nothing happens */
    ck_assert_int_eq(h->reads, 2);
    ck_assert_int_eq(h->allocs, 2);
    ck_assert_int_eq(h->holds, 2 + 2); /* the watcher twice, two read tasks */
    ck_assert_int_eq(HELD(h), 1);      /* the reader watcher, now */
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* asyncio's order: the read is a callback queued when the readiness is
 * seen, behind the callbacks that were ready before it. */
START_TEST(test_read_runs_behind_callbacks_ready_before_it)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_READS);
    logged a = {h, 'A'}, b = {h, 'B'};

    peer_send(h, "abc");
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    ck_assert_int_eq(pyloop_call_soon(loop, log_event, &a), 0);
    ck_assert_int_eq(pyloop_call_soon(loop, log_event, &b), 0);
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_str_eq(h->log, "ABR");
    assert_text(&h->got, "abc");
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* The readiness is seen again while the read task waits (level-triggered):
 * still one task, one read. */
START_TEST(test_one_read_task_per_readiness)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_READS);

    peer_send(h, "abc");
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    ck_assert_int_eq(pyloop_call_soon(loop, interrupt_loop, NULL), 0);
    ck_assert_int_eq(pyloop_run_once(loop), -ECANCELED); /* the read task stays queued */
    ck_assert_int_eq(h->holds, 2); /* the watcher and the task */
    ck_assert_int_eq(h->reads, 0);
    peer_send(h, "def");
    spin(loop); /* sees the fd readable again, adds no task */
    ck_assert_int_eq(h->holds, 2);
    ck_assert_int_eq(h->releases, 1);
    ck_assert_int_eq(h->reads, 1);
    assert_text(&h->got, "abcdef");
    spin(loop);
    ck_assert_int_eq(h->holds, 2);
    ck_assert_int_eq(h->reads, 1);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_end_of_file_is_reported_as_zero)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_READS);

    peer_send(h, "x");
    if (_i == KIND_PIPE)
        close_peer(h);
    else
        ck_assert_int_eq(shutdown(h->peer, SHUT_WR), 0);
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    spin_until(loop, &h->eofs, 1);
    ck_assert_int_eq(h->reads, 2); /* "x", then end of file */
    assert_text(&h->got, "x");
    ck_assert_int_eq(pyloop_stream_is_reading(&h->stream), 0); /* stopped before on_read(0) */
    spin(loop);
    ck_assert_int_eq(h->reads, 2);
    ck_assert_int_eq(h->errors, 0);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* A peer that closes with our bytes unread resets the connection: the
 * read fails, once, through on_error, and the stream stops. */
START_TEST(test_read_error_goes_to_on_error)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, KIND_SOCKET, STREAM_READS);
    tracked counter = {0};
    pyloop_stream_buffer late = tracked_buffer("late", 4, &counter);

    ck_assert_int_eq(write(h->fd, "unread", 6), 6);
    close_peer(h);
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    spin(loop);
    ck_assert_int_eq(h->errors, 1);
    ck_assert_int_eq(h->last_error, -ECONNRESET);
    ck_assert_int_eq(h->error_while_writing, 0);
    ck_assert_int_eq(h->reads, 0);
    ck_assert_int_eq(pyloop_stream_is_reading(&h->stream), 0);
    spin(loop);
    ck_assert_int_eq(h->errors, 1);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &late, 1, 0), -EPIPE);
    ck_assert_int_eq(counter.released, 1);
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), -EBADF);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_alloc_can_skip_stop_or_fail)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_READS);

    peer_send(h, "abc");
    h->alloc_result = 1; /* skip: the bytes stay for the next readiness */
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    spin(loop);
    spin(loop);
    ck_assert_int_eq(h->allocs, 2);
    ck_assert_int_eq(h->reads, 0);
    h->alloc_result = 0;
    spin(loop);
    ck_assert_int_eq(h->reads, 1);
    assert_text(&h->got, "abc");

    h->in_alloc = READ_STOP; /* stopping inside alloc skips the read */
    peer_send(h, "d");
    spin(loop);
    ck_assert_int_eq(h->allocs, 4);
    ck_assert_int_eq(h->reads, 1);
    ck_assert_int_eq(pyloop_stream_is_reading(&h->stream), 0);
    h->in_alloc = NOTHING;
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    spin(loop);
    assert_text(&h->got, "abcd");

    h->alloc_result = -ENOMEM; /* an error: on_error, and reading stops */
    peer_send(h, "e");
    spin(loop);
    ck_assert_int_eq(h->errors, 1);
    ck_assert_int_eq(h->last_error, -ENOMEM);
    ck_assert_int_eq(h->error_while_writing, 0);
    ck_assert_int_eq(pyloop_stream_is_reading(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), -EBADF);
    spin(loop);
    ck_assert_int_eq(h->errors, 1);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* Anything but 0, 1 or -errno from alloc is the host's bug: an error. */
START_TEST(test_alloc_breaking_the_contract_is_an_error)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_READS);

    peer_send(h, "abc");
    h->alloc_result = 2;
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    spin(loop);
    ck_assert_int_eq(h->errors, 1);
    ck_assert_int_eq(h->last_error, -EINVAL);
    ck_assert_int_eq(h->reads, 0);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_close_inside_alloc_skips_the_read)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_READS);

    peer_send(h, "abc");
    h->in_alloc = CLOSE;
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    spin(loop);
    ck_assert_int_eq(h->allocs, 1);
    ck_assert_int_eq(h->reads, 0);
    ck_assert_int_eq(pyloop_stream_closed(&h->stream), 1);
    spin(loop);
    ck_assert_int_eq(h->allocs, 1);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_close_inside_on_read)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_READS);

    peer_send(h, "abc");
    h->in_read = CLOSE;
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    spin(loop);
    ck_assert_int_eq(h->reads, 1);
    ck_assert_int_eq(pyloop_stream_closed(&h->stream), 1);
    ck_assert_int_eq(pyloop_stream_is_reading(&h->stream), 0);
    ck_assert_int_eq(pyloop_fd_events(loop, h->fd, NULL, NULL), 0);
    peer_send(h, "more");
    spin(loop);
    ck_assert_int_eq(h->reads, 1);
    ck_assert_int_eq(h->holds, 2); /* the watcher and the one task */
    ck_assert_int_eq(h->releases, 2);
    pyloop_stream_close(&h->stream); /* idempotent */
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* ------------------------------------------------------------------ */
/* writing                                                             */
/* ------------------------------------------------------------------ */

START_TEST(test_write_goes_out_at_once)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_WRITES);
    tracked counters[4] = {{0}};
    pyloop_stream_buffer buffers[4] = {
        tracked_buffer("ab", 2, &counters[0]),
        tracked_buffer(NULL, 0, &counters[1]), /* empty: accepted, released */
        tracked_buffer("cd", 2, &counters[2]),
        tracked_buffer("ef", 2, &counters[3]),
    };
    bytes seen = {0};

    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers, 4, 0), 0);
    /* The kernel took everything: released already, nothing queued, no
     * watcher, and no loop iteration needed. */
    assert_released_once(counters, 4);
    ck_assert_uint_eq(pyloop_stream_write_queue_size(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_is_writing(&h->stream), 0);
    ck_assert_int_eq(pyloop_fd_events(loop, h->fd, NULL, NULL), 0);
    peer_drain(h, &seen);
    assert_text(&seen, "abcdef");
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers, 0, 0), 0); /* nothing */
    spin(loop);
    ck_assert_int_eq(h->drains, 0); /* on_drain is for a queue the loop emptied */
    ck_assert_int_eq(h->holds, 0);
    bytes_free(&seen);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* A write the kernel takes part of: the rest queues by reference, later
 * writes queue behind it, and the loop sends it all in order. */
START_TEST(test_partial_writes_queue_and_go_in_order)
{
    enum { SMALL = 60, LATER = 20 };
    size_t big = 200000, total = big, offset;
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_WRITES);
    tracked counters[1 + SMALL + LATER] = {{0}};
    pyloop_stream_buffer buffers[1 + SMALL + LATER];
    unsigned char *source;
    bytes seen = {0};
    int i;

    for (i = 0; i < SMALL + LATER; i++)
        total += (size_t)(i * 37 % 1000);
    source = pattern(total);
    buffers[0] = tracked_buffer(source, big, &counters[0]);
    for (offset = big, i = 1; i <= SMALL + LATER; i++) {
        size_t length = (size_t)((i - 1) * 37 % 1000);
        buffers[i] = tracked_buffer(source + offset, length, &counters[i]);
        offset += length;
    }
    shrink(h);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers, 1 + SMALL, 0), 0);
    ck_assert_uint_gt(pyloop_stream_write_queue_size(&h->stream), 0);
    ck_assert_uint_lt(pyloop_stream_write_queue_size(&h->stream), total);
    ck_assert_int_eq(pyloop_stream_is_writing(&h->stream), 1);
    ck_assert_int_eq(counters[0].released, 0); /* partly sent: still the stream's */
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers + 1 + SMALL, LATER, 0), 0);
    ck_assert_int_eq(counters[1 + SMALL].released, 0); /* queued behind, not sent ahead */
    peer_drain(h, &seen); /* what the kernel took at once, and nothing twice */
    ck_assert_uint_eq(pyloop_stream_write_queue_size(&h->stream) + seen.length, total);

    drain_through_peer(h, &seen);
    assert_pattern(&seen, 0, total);
    assert_released_once(counters, 1 + SMALL + LATER);
    ck_assert_int_eq(pyloop_stream_is_writing(&h->stream), 0);
    ck_assert_int_eq(h->drains, 1);
    ck_assert_int_eq(h->errors, 0);
    bytes_free(&seen);
    free(source);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* on_watch once per watcher set (where asyncio makes its reader or writer
 * Handle), task_enter/task_exit around each read task and send task, with
 * the host's callbacks inside; write() itself is no task. */
START_TEST(test_watch_and_task_hooks)
{
    size_t big = 200000;
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, KIND_SOCKET, STREAM_READS);
    unsigned char *source = pattern(big);
    pyloop_stream_buffer buffer = {source, big, NULL, NULL};
    bytes seen = {0};

    ck_assert_int_eq(pyloop_stream_init(&h->stream, loop, h->fd, &hooked_callbacks, h), 0);
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    ck_assert_int_eq(h->watches[0], 1);
    peer_send(h, "hello");
    spin(loop);
    ck_assert_int_eq(h->reads, 1);
    ck_assert_int_eq(h->reads_inside, 1);
    ck_assert_int_eq(h->enters[0], 1);
    ck_assert_int_eq(h->exits, 1);
    ck_assert_int_eq(pyloop_stream_read_stop(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    ck_assert_int_eq(h->watches[0], 2); /* resume_reading: a new reader */

    shrink(h);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &buffer, 1, 0), 0);
    ck_assert_int_eq(pyloop_stream_is_writing(&h->stream), 1);
    ck_assert_int_eq(h->watches[1], 1);
    ck_assert_int_eq(h->enters[1], 0);
    drain_through_peer(h, &seen);
    assert_pattern(&seen, 0, big);
    ck_assert_int_eq(h->drains, 1);
    ck_assert_int_eq(h->drains_inside, 1);
    ck_assert_int_ge(h->enters[1], 1);
    ck_assert_int_eq(h->watches[1], 1);
    ck_assert_int_eq(h->exits, h->enters[0] + h->enters[1]);
    ck_assert_int_eq(h->entered, 0);
    bytes_free(&seen);
    free(source);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* More buffers than one writev takes (IOV_MAX): all of them, in order. */
START_TEST(test_more_buffers_than_one_writev_takes)
{
    enum { COUNT = 3000, EACH = 5 };
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_WRITES);
    static tracked counters[2 * COUNT];
    static pyloop_stream_buffer buffers[COUNT];
    unsigned char *source = pattern(2 * COUNT * EACH);
    bytes seen = {0};
    size_t filled;
    int i;

    memset(counters, 0, sizeof(counters));
    for (i = 0; i < COUNT; i++)
        buffers[i] = tracked_buffer(source + i * EACH, EACH, &counters[i]);
    /* With room in the kernel: one call sends several writevs' worth. */
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers, COUNT, 0), 0);
    drain_through_peer(h, &seen);
    assert_pattern(&seen, 0, COUNT * EACH);
    assert_released_once(counters, COUNT);

    /* With none: everything queues, and the loop's sends take IOV_MAX
     * buffers at most each. */
    seen.length = 0;
    shrink(h);
    filled = fill_kernel(h);
    for (i = 0; i < COUNT; i++)
        buffers[i] = tracked_buffer(source + i * EACH, EACH, &counters[COUNT + i]);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers, COUNT, 0), 0);
    ck_assert_uint_eq(pyloop_stream_write_queue_size(&h->stream), COUNT * EACH);
    ck_assert_int_eq(counters[COUNT].released, 0);
    drain_through_peer(h, &seen);
    assert_pattern(&seen, filled, COUNT * EACH);
    assert_released_once(counters, 2 * COUNT);
    bytes_free(&seen);
    free(source);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* A SOCK_SEQPACKET peer receives one message per sendmsg: three deferred
 * writes and a flush are one system call. */
START_TEST(test_deferred_writes_leave_in_one_writev)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, KIND_SEQPACKET, STREAM_WRITES);
    tracked counters[5] = {{0}};
    pyloop_stream_buffer a = tracked_buffer("aaa", 3, &counters[0]);
    pyloop_stream_buffer b = tracked_buffer("bb", 2, &counters[1]);
    pyloop_stream_buffer c = tracked_buffer("c", 1, &counters[2]);
    pyloop_stream_buffer d = tracked_buffer("dd", 2, &counters[3]);
    pyloop_stream_buffer e = tracked_buffer("e", 1, &counters[4]);
    char message[64];

    ck_assert_int_eq(pyloop_stream_write(&h->stream, &a, 1, PYLOOP_STREAM_DEFER), 0);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &b, 1, PYLOOP_STREAM_DEFER), 0);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &c, 1, PYLOOP_STREAM_DEFER), 0);
    ck_assert_uint_eq(pyloop_stream_write_queue_size(&h->stream), 6);
    ck_assert_int_eq(pyloop_stream_is_writing(&h->stream), 0); /* deferred: no watcher */
    spin(loop);
    spin(loop);
    ck_assert(peer_has_nothing(h));
    ck_assert_int_eq(counters[0].released, 0);

    ck_assert_int_eq(pyloop_stream_flush(&h->stream), 0);
    ck_assert_uint_eq(pyloop_stream_write_queue_size(&h->stream), 0);
    assert_released_once(counters, 3);
    ck_assert_int_eq(recv(h->peer, message, sizeof(message), 0), 6);
    ck_assert(memcmp(message, "aaabbc", 6) == 0);
    ck_assert(peer_has_nothing(h)); /* one message: one sendmsg */
    ck_assert_int_eq(pyloop_stream_flush(&h->stream), 0); /* nothing queued: nothing sent */
    ck_assert(peer_has_nothing(h));

    /* An ordinary write behind deferred ones sends them all, in one call. */
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &d, 1, PYLOOP_STREAM_DEFER), 0);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &e, 1, 0), 0);
    ck_assert_int_eq(recv(h->peer, message, sizeof(message), 0), 3);
    ck_assert(memcmp(message, "dde", 3) == 0);
    ck_assert(peer_has_nothing(h));
    assert_released_once(counters, 5);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_deferred_writes_wait_for_flush)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_WRITES);
    tracked counters[3] = {{0}};
    pyloop_stream_buffer buffers[3] = {
        tracked_buffer("one ", 4, &counters[0]),
        tracked_buffer("two ", 4, &counters[1]),
        tracked_buffer("three", 5, &counters[2]),
    };
    bytes seen = {0};
    int i;

    for (i = 0; i < 3; i++)
        ck_assert_int_eq(pyloop_stream_write(&h->stream, &buffers[i], 1, PYLOOP_STREAM_DEFER), 0);
    spin(loop);
    ck_assert(peer_has_nothing(h));
    ck_assert_uint_eq(pyloop_stream_write_queue_size(&h->stream), 13);
    ck_assert_int_eq(pyloop_stream_flush(&h->stream), 0);
    ck_assert_uint_eq(pyloop_stream_write_queue_size(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_is_writing(&h->stream), 0);
    assert_released_once(counters, 3);
    peer_drain(h, &seen);
    assert_text(&seen, "one two three");
    bytes_free(&seen);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_write_arguments_are_checked_and_buffers_released)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, KIND_SOCKET, STREAM_WRITES);
    tracked counters[3] = {{0}};
    pyloop_stream_buffer bad[2] = {
        tracked_buffer("ok", 2, &counters[0]),
        tracked_buffer(NULL, 5, &counters[1]), /* no data, but a length */
    };
    pyloop_stream_buffer fine = tracked_buffer("x", 1, &counters[2]);

    ck_assert_int_eq(pyloop_stream_write(&h->stream, NULL, 1, 0), -EINVAL);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, bad, 2, 0), -EINVAL);
    assert_released_once(counters, 2); /* refused buffers are released too */
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &fine, 1, 4), -EINVAL); /* unknown flag */
    ck_assert_int_eq(counters[2].released, 1);
    ck_assert_int_eq(h->errors, 0);
    ck_assert(peer_has_nothing(h));
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* Release runs once per buffer in every path: sent, dropped by close,
 * dropped by an error, refused after close. */
START_TEST(test_close_releases_queued_buffers)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_WRITES);
    tracked counters[4] = {{0}};
    pyloop_stream_buffer buffers[3] = {
        tracked_buffer("abc", 3, &counters[0]),
        tracked_buffer("def", 3, &counters[1]),
        tracked_buffer("ghi", 3, &counters[2]),
    };
    pyloop_stream_buffer late = tracked_buffer("late", 4, &counters[3]);

    fill_kernel(h);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers, 2, 0), 0);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers + 2, 1, PYLOOP_STREAM_DEFER), 0);
    ck_assert_uint_eq(pyloop_stream_write_queue_size(&h->stream), 9);
    ck_assert_int_eq(counters[0].released, 0);
    pyloop_stream_close(&h->stream);
    assert_released_once(counters, 3);
    ck_assert_uint_eq(pyloop_stream_write_queue_size(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_is_writing(&h->stream), 0);
    ck_assert_int_eq(pyloop_fd_events(loop, h->fd, NULL, NULL), 0);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &late, 1, 0), -EPIPE);
    ck_assert_int_eq(counters[3].released, 1);
    ck_assert_int_eq(pyloop_stream_flush(&h->stream), -EPIPE);
    ck_assert_int_eq(pyloop_stream_shutdown(&h->stream), -EPIPE);
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), -EBADF);
    pyloop_stream_close(&h->stream);
    assert_released_once(counters, 4);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* The peer is gone before the write: the send fails at once, the caller gets
 * the error (on_error is not called), the buffers are released. */
START_TEST(test_send_error_is_returned_not_reported)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_WRITES);
    struct sigaction old = ignore_sigpipe();
    tracked counters[2] = {{0}};
    pyloop_stream_buffer buffers[2] = {
        tracked_buffer("abc", 3, &counters[0]),
        tracked_buffer("def", 3, &counters[1]),
    };

    if (_i != KIND_PIPE) /* sockets must not need it: MSG_NOSIGNAL */
        sigaction(SIGPIPE, &old, NULL);
    close_peer(h);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers, 1, 0), -EPIPE);
    ck_assert_int_eq(counters[0].released, 1);
    ck_assert_int_eq(h->errors, 0);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers + 1, 1, 0), -EPIPE); /* failed */
    ck_assert_int_eq(counters[1].released, 1);
    ck_assert_int_eq(pyloop_stream_flush(&h->stream), -EPIPE);
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), -EBADF);
    spin(loop);
    ck_assert_int_eq(h->errors, 0);
    sigaction(SIGPIPE, &old, NULL);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* The host closed its fd behind the stream (check_fd says so; the number
 * may be a newcomer's by now): no write, read or watch reaches the number.
 * A write fails with -EBADF at once, a queued read reports it through
 * on_error, and the bytes stay where they are. */
START_TEST(test_an_fd_the_host_closed_is_never_touched)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *writer = host_new(loop, _i, STREAM_WRITES), *reader = host_new(loop, _i, STREAM_READS);
    tracked counter = {0};
    pyloop_stream_buffer buffer = tracked_buffer("abc", 3, &counter);
    bytes seen = {0};
    char byte;

    ck_assert_int_eq(pyloop_stream_init(&writer->stream, loop, writer->fd, &checked_callbacks, writer), 0);
    ck_assert_int_eq(pyloop_stream_init(&reader->stream, loop, reader->fd, &checked_callbacks, reader), 0);
    writer->fd_gone = 1;
    ck_assert_int_eq(pyloop_stream_write(&writer->stream, &buffer, 1, 0), -EBADF);
    ck_assert_int_eq(counter.released, 1);
    ck_assert_int_eq(writer->errors, 0); /* returned, not reported */
    peer_drain(writer, &seen);
    ck_assert_uint_eq(seen.length, 0);

    ck_assert_int_eq(pyloop_stream_read_start(&reader->stream), 0);
    ck_assert_int_eq(write(reader->peer, "x", 1), 1);
    reader->fd_gone = 1;
    spin(loop);
    spin(loop);
    ck_assert_int_eq(reader->errors, 1);
    ck_assert_int_eq(reader->last_error, -EBADF);
    ck_assert_int_eq(reader->error_while_writing, 0);
    ck_assert_uint_eq(reader->got.length, 0);
    ck_assert_int_eq(read(reader->fd, &byte, 1), 1); /* still there */
    bytes_free(&seen);
    host_free(writer);
    host_free(reader);
    pyloop_loop_free(loop);
}
END_TEST

/* A stream whose host closed its fd still watches the number when a new
 * stream gets that number: the old one fails (-EBADF, as its next call
 * would) and the newcomer watches the number instead of getting -EBUSY. */
START_TEST(test_a_stale_stream_gives_way_to_the_newcomer)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *old = host_new(loop, KIND_SOCKET, STREAM_READS);
    host *newcomer = calloc(1, sizeof(*newcomer));

    ck_assert_ptr_nonnull(newcomer);
    ck_assert_int_eq(pyloop_stream_init(&old->stream, loop, old->fd, &checked_callbacks, old), 0);
    ck_assert_int_eq(pyloop_stream_read_start(&old->stream), 0);
    old->fd_gone = 1;
    /* The newcomer under the same number (here: the same fd). */
    newcomer->loop = loop;
    newcomer->fd = old->fd;
    newcomer->peer = -1;
    newcomer->refs = 1;
    ck_assert_int_eq(pyloop_stream_init(&newcomer->stream, loop, newcomer->fd, &checked_callbacks, newcomer), 0);
    ck_assert_int_eq(pyloop_stream_read_start(&newcomer->stream), 0);
    ck_assert_int_eq(old->errors, 1);
    ck_assert_int_eq(old->last_error, -EBADF);
    ck_assert_int_eq(HELD(old), 0);
    ck_assert_int_eq(write(old->peer, "n", 1), 1);
    spin(loop);
    spin(loop);
    assert_text(&newcomer->got, "n");
    ck_assert_uint_eq(old->got.length, 0);
    pyloop_stream_close(&newcomer->stream);
    ck_assert_int_eq(HELD(newcomer), 0);
    bytes_free(&newcomer->got);
    free(newcomer);
    host_free(old);
    pyloop_loop_free(loop);
}
END_TEST

/* The peer goes away while buffers are queued: the loop's send fails, once,
 * through on_error, and every queued buffer is released. */
START_TEST(test_queued_send_error_goes_to_on_error)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_WRITES);
    struct sigaction old = ignore_sigpipe();
    tracked counters[3] = {{0}};
    pyloop_stream_buffer buffers[3] = {
        tracked_buffer("abc", 3, &counters[0]),
        tracked_buffer("def", 3, &counters[1]),
        tracked_buffer("ghi", 3, &counters[2]),
    };

    if (_i != KIND_PIPE)
        sigaction(SIGPIPE, &old, NULL);
    fill_kernel(h);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers, 3, 0), 0);
    ck_assert_int_eq(pyloop_stream_is_writing(&h->stream), 1);
    close_peer(h);
    spin(loop);
    ck_assert_int_eq(h->errors, 1);
    if (_i == KIND_PIPE)
        ck_assert_int_eq(h->last_error, -EPIPE);
    else
        ck_assert(h->last_error == -EPIPE || h->last_error == -ECONNRESET);
    ck_assert_int_eq(h->error_while_writing, 1);
    assert_released_once(counters, 3);
    ck_assert_uint_eq(pyloop_stream_write_queue_size(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_is_writing(&h->stream), 0);
    spin(loop);
    ck_assert_int_eq(h->errors, 1);
    ck_assert_int_eq(h->drains, 0);
    sigaction(SIGPIPE, &old, NULL);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* A reset while reading and writing: one on_error, ECONNRESET or EPIPE
 * (whichever direction the loop tries first), everything released. */
START_TEST(test_peer_reset_reports_one_error)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, KIND_SOCKET, STREAM_WRITES);
    tracked counters[2] = {{0}};
    pyloop_stream_buffer buffers[2] = {
        tracked_buffer("abc", 3, &counters[0]),
        tracked_buffer("def", 3, &counters[1]),
    };

    shrink(h);
    fill_kernel(h); /* the peer closes with these unread: a reset */
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers, 2, 0), 0);
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    close_peer(h);
    spin(loop);
    ck_assert_int_eq(h->errors, 1);
    ck_assert(h->last_error == -ECONNRESET || h->last_error == -EPIPE);
    ck_assert_int_eq(pyloop_stream_is_reading(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_is_writing(&h->stream), 0);
    assert_released_once(counters, 2);
    spin(loop);
    spin(loop);
    ck_assert_int_eq(h->errors, 1);
    ck_assert_int_eq(h->reads, 0);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* ------------------------------------------------------------------ */
/* flow control and drain                                              */
/* ------------------------------------------------------------------ */

START_TEST(test_write_limits_are_validated)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, KIND_SOCKET, STREAM_WRITES);
    size_t high, low;

    pyloop_stream_get_write_limits(&h->stream, &high, &low);
    ck_assert_uint_eq(high, 65536);
    ck_assert_uint_eq(low, 16384);
    ck_assert_int_eq(pyloop_stream_set_write_limits(&h->stream, 10, 20), -EINVAL); /* high < low */
    pyloop_stream_get_write_limits(&h->stream, &high, &low);
    ck_assert_uint_eq(high, 65536);
    ck_assert_int_eq(pyloop_stream_set_write_limits(&h->stream, 0, 1), -EINVAL);
    ck_assert_int_eq(pyloop_stream_set_write_limits(&h->stream, 0, 0), 0);
    pyloop_stream_get_write_limits(&h->stream, &high, &low);
    ck_assert_uint_eq(high, 0);
    ck_assert_uint_eq(low, 0);
    ck_assert_int_eq(pyloop_stream_set_write_limits(&h->stream, 100, 100), 0);
    ck_assert_int_eq(pyloop_stream_set_write_limits(&h->stream, 100, 0), 0);
    pyloop_stream_get_write_limits(&h->stream, &high, NULL);
    ck_assert_uint_eq(high, 100);
    ck_assert_int_eq(h->pauses, 0); /* nothing queued */
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* Pause once the queue is above high after a write, never at high; resume
 * in the loop's send that brings it to low, not before. */
START_TEST(test_pause_and_resume_at_the_thresholds)
{
    const size_t high = 40000, low = 20000, extra = 5000;
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_WRITES);
    unsigned char *source = pattern(high + 1 + extra);
    pyloop_stream_buffer first = {source, high, NULL, NULL};
    pyloop_stream_buffer one = {source + high, 1, NULL, NULL};
    pyloop_stream_buffer more = {source + high + 1, extra, NULL, NULL};
    bytes seen = {0};
    size_t filled;
    int rounds_above_low = 0, i;

    shrink(h);
    filled = fill_kernel(h);
    ck_assert_int_eq(pyloop_stream_set_write_limits(&h->stream, high, low), 0);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &first, 1, 0), 0);
    ck_assert_uint_eq(pyloop_stream_write_queue_size(&h->stream), high);
    ck_assert_int_eq(h->pauses, 0); /* at high: not above it */
    ck_assert_int_eq(pyloop_stream_write_paused(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &one, 1, 0), 0);
    ck_assert_int_eq(h->pauses, 1);
    ck_assert_uint_eq(h->queue_at_pause, high + 1);
    ck_assert_int_eq(pyloop_stream_write_paused(&h->stream), 1);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &more, 1, 0), 0);
    ck_assert_int_eq(h->pauses, 1); /* once */

    for (i = 0; pyloop_stream_write_queue_size(&h->stream) && i < SPIN_LIMIT; i++) {
        peer_drain(h, &seen);
        spin(loop);
        if (pyloop_stream_write_queue_size(&h->stream) > low) {
            ck_assert_int_eq(h->resumes, 0);
            rounds_above_low++;
        } else {
            ck_assert_int_eq(h->resumes, 1);
        }
    }
    peer_drain(h, &seen);
    ck_assert_int_gt(rounds_above_low, 1); /* the kernel took it bit by bit */
    ck_assert_uint_le(h->queue_at_resume, low);
    ck_assert_int_eq(pyloop_stream_write_paused(&h->stream), 0);
    ck_assert_int_eq(h->pauses, 1);
    ck_assert_int_eq(h->drains, 1);
    assert_pattern(&seen, filled, high + 1 + extra);
    bytes_free(&seen);
    free(source);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* high 0: any byte left queued pauses; resume, then drain, at empty. And
 * lowering the limits under the queue pauses at once, as asyncio does. */
START_TEST(test_zero_high_water_and_limits_lowered_under_the_queue)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_WRITES);
    pyloop_stream_buffer x = {"x", 1, NULL, NULL};
    char digits[100];
    pyloop_stream_buffer hundred = {digits, sizeof(digits), NULL, NULL};
    bytes seen = {0};

    memset(digits, '7', sizeof(digits));

    ck_assert_int_eq(pyloop_stream_set_write_limits(&h->stream, 0, 0), 0);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &x, 1, 0), 0); /* sent at once */
    ck_assert_int_eq(h->pauses, 0);
    fill_kernel(h);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &x, 1, 0), 0);
    ck_assert_int_eq(h->pauses, 1);
    drain_through_peer(h, &seen);
    ck_assert_str_eq(h->log, "PUD");
    ck_assert_uint_eq(h->queue_at_resume, 0);

    ck_assert_int_eq(pyloop_stream_set_write_limits(&h->stream, 1000, 500), 0);
    fill_kernel(h);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &hundred, 1, 0), 0);
    ck_assert_int_eq(h->pauses, 1);
    ck_assert_int_eq(pyloop_stream_set_write_limits(&h->stream, 50, 10), 0);
    ck_assert_int_eq(h->pauses, 2);
    ck_assert_uint_eq(h->queue_at_pause, 100);
    drain_through_peer(h, &seen);
    ck_assert_str_eq(h->log, "PUDPUD");
    bytes_free(&seen);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_on_drain_when_the_loop_empties_the_queue)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_WRITES);
    pyloop_stream_buffer text = {"text", 4, NULL, NULL};
    bytes seen = {0};
    size_t filled;
    int i;

    ck_assert_int_eq(pyloop_stream_write(&h->stream, &text, 1, 0), 0);
    spin(loop);
    ck_assert_int_eq(h->drains, 0);
    filled = fill_kernel(h);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &text, 1, 0), 0);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &text, 1, 0), 0);
    spin(loop); /* not writable: nothing */
    ck_assert_int_eq(h->drains, 0);
    ck_assert_uint_eq(pyloop_stream_write_queue_size(&h->stream), 8);
    drain_through_peer(h, &seen);
    ck_assert_int_eq(h->drains, 1);
    ck_assert_int_eq(pyloop_stream_is_writing(&h->stream), 0);
    for (i = 0; i < 3; i++)
        spin(loop);
    ck_assert_int_eq(h->drains, 1);
    ck_assert_uint_eq(seen.length, 4 + filled + 8);
    ck_assert(memcmp(seen.data + seen.length - 8, "texttext", 8) == 0);
    bytes_free(&seen);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_close_inside_on_drain)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_WRITES);
    tracked counters[2] = {{0}};
    pyloop_stream_buffer buffers[2] = {
        tracked_buffer("abc", 3, &counters[0]),
        tracked_buffer("def", 3, &counters[1]),
    };
    bytes seen = {0};

    h->in_drain = CLOSE;
    fill_kernel(h);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers, 2, 0), 0);
    drain_through_peer(h, &seen);
    ck_assert_int_eq(h->drains, 1);
    ck_assert_int_eq(pyloop_stream_closed(&h->stream), 1);
    ck_assert_int_eq(pyloop_fd_events(loop, h->fd, NULL, NULL), 0);
    assert_released_once(counters, 2);
    ck_assert(memcmp(seen.data + seen.length - 6, "abcdef", 6) == 0);
    spin(loop);
    ck_assert_int_eq(h->drains, 1);
    bytes_free(&seen);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* on_write_pause runs inside write: closing there drops the queue, the
 * write still returns 0 (it was accepted). */
START_TEST(test_close_inside_on_write_pause)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_WRITES);
    tracked counters[3] = {{0}};
    pyloop_stream_buffer buffers[3] = {
        tracked_buffer("abcd", 4, &counters[0]),
        tracked_buffer("efgh", 4, &counters[1]),
        tracked_buffer("ijkl", 4, &counters[2]),
    };

    h->in_pause = CLOSE;
    ck_assert_int_eq(pyloop_stream_set_write_limits(&h->stream, 10, 0), 0);
    fill_kernel(h);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers, 3, 0), 0);
    ck_assert_int_eq(h->pauses, 1);
    ck_assert_uint_eq(h->queue_at_pause, 12);
    ck_assert_int_eq(pyloop_stream_closed(&h->stream), 1);
    assert_released_once(counters, 3);
    ck_assert_uint_eq(pyloop_stream_write_queue_size(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_is_writing(&h->stream), 0);
    ck_assert_int_eq(pyloop_fd_events(loop, h->fd, NULL, NULL), 0);
    spin(loop);
    ck_assert_int_eq(h->holds, 1); /* the writer watcher, until close */
    ck_assert_int_eq(HELD(h), 0);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* ------------------------------------------------------------------ */
/* shutdown                                                            */
/* ------------------------------------------------------------------ */

START_TEST(test_shutdown_now_gives_the_peer_end_of_file)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, KIND_SOCKET, STREAM_WRITES);
    tracked counter = {0};
    pyloop_stream_buffer bye = {"bye", 3, NULL, NULL};
    pyloop_stream_buffer late = tracked_buffer("late", 4, &counter);
    bytes seen = {0};

    ck_assert_int_eq(pyloop_stream_write(&h->stream, &bye, 1, 0), 0);
    ck_assert_int_eq(pyloop_stream_shutdown(&h->stream), 0);
    ck_assert_int_eq(peer_drain(h, &seen), 1); /* end of file, at once */
    assert_text(&seen, "bye");
    ck_assert_int_eq(pyloop_stream_shutdown(&h->stream), 0); /* again: nothing */
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &late, 1, 0), -EPIPE);
    ck_assert_int_eq(counter.released, 1);
    ck_assert_int_eq(pyloop_stream_flush(&h->stream), 0);
    /* Half-closed: reading goes on. */
    peer_send(h, "reply");
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    spin(loop);
    assert_text(&h->got, "reply");
    ck_assert_int_eq(h->errors, 0);
    bytes_free(&seen);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_shutdown_waits_for_the_queue_to_drain)
{
    const size_t length = 100000;
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, KIND_SOCKET, STREAM_WRITES);
    unsigned char *source = pattern(length);
    pyloop_stream_buffer data = {source, length, NULL, NULL};
    pyloop_stream_buffer late = {"late", 4, NULL, NULL};
    bytes seen = {0};
    size_t filled;
    int eof = 0, i;

    shrink(h);
    filled = fill_kernel(h);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &data, 1, 0), 0);
    ck_assert_int_eq(pyloop_stream_shutdown(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &late, 1, 0), -EPIPE);
    for (i = 0; !eof && i < SPIN_LIMIT; i++) {
        eof = peer_drain(h, &seen);
        /* End of file only once everything was sent. */
        ck_assert(!eof || pyloop_stream_write_queue_size(&h->stream) == 0);
        ck_assert(!eof || h->drains == 1);
        spin(loop);
    }
    ck_assert_int_eq(eof, 1);
    assert_pattern(&seen, filled, length);
    ck_assert_int_eq(h->drains, 1);
    ck_assert_int_eq(h->errors, 0);
    ck_assert_int_eq(pyloop_stream_is_writing(&h->stream), 0);
    bytes_free(&seen);
    free(source);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

START_TEST(test_shutdown_flushes_deferred_buffers)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, KIND_SOCKET, STREAM_WRITES);
    pyloop_stream_buffer text = {"deferred", 8, NULL, NULL};
    bytes seen = {0};

    ck_assert_int_eq(pyloop_stream_write(&h->stream, &text, 1, PYLOOP_STREAM_DEFER), 0);
    ck_assert_int_eq(pyloop_stream_shutdown(&h->stream), 0);
    ck_assert_int_eq(peer_drain(h, &seen), 1);
    assert_text(&seen, "deferred");
    bytes_free(&seen);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* A host object whose constructor never ran holds a zeroed struct: every
 * call refuses it, and nothing reaches fd 0 (here a pipe to look into). */
START_TEST(test_a_zeroed_stream_is_as_a_closed_one)
{
    pyloop_stream stream;
    pyloop_stream_buffer text = {"stray", 5, NULL, NULL};
    int fds[2], saved = dup(0);
    char byte;

    memset(&stream, 0, sizeof(stream));
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    ck_assert_int_eq(dup2(fds[1], 0), 0);
    ck_assert_int_eq(pyloop_stream_write(&stream, &text, 1, 0), -EPIPE);
    ck_assert_int_eq(pyloop_stream_flush(&stream), -EPIPE);
    ck_assert_int_eq(pyloop_stream_shutdown(&stream), -EPIPE);
    ck_assert_int_eq(pyloop_stream_read_start(&stream), -EBADF);
    ck_assert_int_eq(pyloop_stream_set_write_limits(&stream, 0, 0), 0);
    ck_assert_int_eq(pyloop_stream_write_queue_size(&stream), 0);
    pyloop_stream_close(&stream);
    ck_assert_int_eq(dup2(saved, 0), 0);
    close(saved);
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &byte, 1), 0); /* nothing written: end of file */
    close(fds[0]);
}
END_TEST

/* asyncio's write_eof raises what shutdown(2) raised (a peer that reset)
 * and the transport reads on, so the reset still arrives through the read:
 * a failing shutdown is returned, and the stream is not failed by it. */
START_TEST(test_failed_shutdown_is_returned_and_reading_goes_on)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, KIND_SOCKET, STREAM_WRITES);
    pyloop_stream_buffer late = {"late", 4, NULL, NULL};
    int unconnected = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0); /* TCP: unix sockets shut down unconnected */

    /* The same fd number, now a socket shutdown(2) fails on (ENOTCONN). */
    ck_assert_int_ge(unconnected, 0);
    ck_assert_int_eq(dup2(unconnected, h->fd), h->fd);
    close(unconnected);
    ck_assert_int_eq(pyloop_stream_shutdown(&h->stream), -ENOTCONN);
    ck_assert_int_eq(h->errors, 0);
    ck_assert_int_eq(pyloop_stream_closed(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0); /* not failed */
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &late, 1, 0), -EPIPE); /* but shut */
    ck_assert_int_eq(pyloop_stream_shutdown(&h->stream), 0);                 /* once */
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* A pipe has no half-close: shutdown refuses writes; the host closes the fd. */
START_TEST(test_shutdown_of_a_pipe_only_refuses_writes)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, KIND_PIPE, STREAM_WRITES);
    pyloop_stream_buffer text = {"abc", 3, NULL, NULL};
    bytes seen = {0};

    ck_assert_int_eq(pyloop_stream_write(&h->stream, &text, 1, 0), 0);
    ck_assert_int_eq(pyloop_stream_shutdown(&h->stream), 0);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, &text, 1, 0), -EPIPE);
    ck_assert_int_eq(peer_drain(h, &seen), 0); /* no end of file yet */
    assert_text(&seen, "abc");
    ck_assert_int_eq(h->errors, 0);
    bytes_free(&seen);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* ------------------------------------------------------------------ */
/* tasks, hold and release                                             */
/* ------------------------------------------------------------------ */

static void close_host_stream(pyloop_loop *loop, void *arg)
{
    host *h = arg;
    (void)loop;
    /* per direction, a watcher and a task queued behind us */
    ck_assert_int_eq(HELD(h), h->kind == KIND_PIPE ? 2 : 4);
    pyloop_stream_close(&h->stream);
}

/* A callback ready before the readiness closes the stream: the read and
 * write tasks queued behind it still run, as no-ops, and release. */
START_TEST(test_close_with_tasks_still_queued)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_READS);
    tracked counter = {0};
    pyloop_stream_buffer buffer = tracked_buffer("abc", 3, &counter);
    bytes seen = {0};

    if (_i != KIND_PIPE) { /* a pipe's read end cannot write */
        shrink(h);
        fill_kernel(h);
        ck_assert_int_eq(pyloop_stream_write(&h->stream, &buffer, 1, 0), 0);
        ck_assert_int_eq(pyloop_stream_is_writing(&h->stream), 1);
        peer_drain(h, &seen); /* writable now */
    }
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    peer_send(h, "zzz"); /* readable now */
    ck_assert_int_eq(pyloop_call_soon(loop, close_host_stream, h), 0);
    ck_assert_int_eq(pyloop_run_once(loop), 0);
    ck_assert_int_eq(h->holds, _i == KIND_PIPE ? 2 : 4);
    ck_assert_int_eq(h->releases, h->holds);
    ck_assert_int_eq(h->allocs, 0);
    ck_assert_int_eq(h->reads, 0);
    ck_assert_int_eq(h->drains, 0);
    ck_assert_int_eq(h->errors, 0);
    ck_assert_int_eq(counter.released, _i == KIND_PIPE ? 0 : 1);
    spin(loop);
    ck_assert_int_eq(h->releases, h->holds);
    bytes_free(&seen);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* The host drops its own reference after close while a task is queued: the
 * task's release is the last access, and may free the struct. */
START_TEST(test_last_release_may_free_the_host)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_READS);

    hosts_freed = 0;
    h->free_on_last_release = 1;
    peer_send(h, "abc");
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    ck_assert_int_eq(pyloop_call_soon(loop, interrupt_loop, NULL), 0);
    ck_assert_int_eq(pyloop_run_once(loop), -ECANCELED);
    ck_assert_int_eq(h->refs, 3); /* the host, the watcher, the task */
    pyloop_stream_close(&h->stream);
    ck_assert_int_eq(h->refs, 2); /* close let the watcher's go */
    h->refs--; /* the host lets go: only the queued task keeps it */
    ck_assert_int_eq(hosts_freed, 0);
    spin(loop);
    ck_assert_int_eq(hosts_freed, 1);
    pyloop_loop_free(loop);
}
END_TEST

/* A stream that reads is held by its watcher alone: the host may let go of
 * it, and the loop still reads; it is freed once end of file stops the
 * reading (a collected host would otherwise lose a live connection). */
START_TEST(test_watcher_holds_the_host)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_READS);

    hosts_freed = 0;
    h->free_on_last_release = 1;
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    ck_assert_int_eq(h->refs, 2); /* the host and the watcher */
    h->refs--;
    spin(loop);
    ck_assert_int_eq(hosts_freed, 0);
    peer_send(h, "abc");
    spin(loop);
    ck_assert_int_eq(hosts_freed, 0);
    assert_text(&h->got, "abc");
    close_peer(h);
    spin(loop); /* end of file: reading stops, the last hold goes */
    ck_assert_int_eq(hosts_freed, 1);
    pyloop_loop_free(loop);
}
END_TEST

typedef struct found {
    pyloop_stream *stream;
    int dropped, others;
} found;

static int find_stream_task(pyloop_callback fn, void *arg, void *context)
{
    found *seen = context;
    if (pyloop_stream_of_task(fn, arg))
        seen->stream = pyloop_stream_of_task(fn, arg);
    return 0;
}

static int drop_stream_task(pyloop_callback fn, void *arg, void *context)
{
    found *seen = context;
    if (pyloop_stream_drop_task(fn, arg))
        seen->dropped++;
    else
        seen->others++;
    return 0;
}

/* A host that clears the loop's queue tells the stream's tasks apart and
 * drops them: hold and release stay balanced. */
START_TEST(test_clear_pending_drops_stream_tasks)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_READS);
    found seen = {0};

    peer_send(h, "abc");
    ck_assert_int_eq(pyloop_stream_read_start(&h->stream), 0);
    ck_assert_int_eq(pyloop_call_soon(loop, interrupt_loop, NULL), 0);
    ck_assert_int_eq(pyloop_run_once(loop), -ECANCELED);
    ck_assert_int_eq(pyloop_call_soon(loop, noop, h), 0);
    ck_assert_ptr_null(pyloop_stream_of_task(noop, h));
    ck_assert_int_eq(pyloop_foreach_pending(loop, find_stream_task, &seen), 0);
    ck_assert_ptr_eq(seen.stream, &h->stream);
    pyloop_clear_pending(loop, drop_stream_task, &seen);
    ck_assert_int_eq(seen.dropped, 1);
    ck_assert_int_eq(seen.others, 1);
    ck_assert_int_eq(h->releases, 1);
    ck_assert_int_eq(h->reads, 0);
    spin(loop); /* still reading: the readiness queues a new task */
    ck_assert_int_eq(h->holds, 3); /* the watcher, the dropped task, the new one */
    ck_assert_int_eq(HELD(h), 1);
    ck_assert_int_eq(h->reads, 1);
    assert_text(&h->got, "abc");
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* A buffer's release runs with the buffer out of the queue: it may write
 * (behind what is queued) or close. */
typedef struct reentrant {
    host *h;
    int action; /* 'w': write "Z", 'c': close */
    int released;
} reentrant;

static void reentrant_release(void *owner)
{
    reentrant *r = owner;
    pyloop_stream_buffer z = {"Z", 1, NULL, NULL};

    r->released++;
    if (r->action == 'w')
        ck_assert_int_eq(pyloop_stream_write(&r->h->stream, &z, 1, 0), 0);
    else if (r->action == 'c')
        pyloop_stream_close(&r->h->stream);
}

START_TEST(test_buffer_release_may_write_or_close)
{
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_WRITES);
    reentrant r[3] = {{h, 'w', 0}, {h, 0, 0}, {h, 'c', 0}};
    pyloop_stream_buffer buffers[3] = {
        {"A", 1, reentrant_release, &r[0]},
        {"B", 1, reentrant_release, &r[1]},
        {"C", 1, reentrant_release, &r[2]},
    };
    tracked counters[2] = {{0}};
    pyloop_stream_buffer after[2] = {
        tracked_buffer("D", 1, &counters[0]),
        tracked_buffer("E", 1, &counters[1]),
    };
    bytes seen = {0};
    size_t filled;

    /* Sent at once: A's release writes Z, which goes after B. */
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers, 2, 0), 0);
    peer_drain(h, &seen);
    assert_text(&seen, "ABZ");
    ck_assert_int_eq(r[0].released, 1);
    ck_assert_int_eq(r[1].released, 1);

    /* Sent by the loop: the same, behind the filler. */
    seen.length = 0;
    r[0].released = r[1].released = 0;
    filled = fill_kernel(h);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers, 2, 0), 0);
    drain_through_peer(h, &seen);
    ck_assert_uint_eq(seen.length, filled + 3);
    ck_assert(memcmp(seen.data + filled, "ABZ", 3) == 0);
    ck_assert_int_eq(r[0].released, 1);

    /* C's release closes: what is queued behind it is dropped, once. */
    seen.length = 0;
    filled = fill_kernel(h);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers + 2, 1, 0), 0);
    ck_assert_int_eq(pyloop_stream_write(&h->stream, after, 2, 0), 0);
    drain_through_peer(h, &seen);
    ck_assert_int_eq(r[2].released, 1);
    assert_released_once(counters, 2);
    ck_assert_int_eq(pyloop_stream_closed(&h->stream), 1);
    ck_assert_int_eq(h->errors, 0);
    bytes_free(&seen);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

/* ------------------------------------------------------------------ */
/* stress                                                              */
/* ------------------------------------------------------------------ */

static uint64_t next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Random writes (deferred or not, empty buffers included), flushes and peer
 * reads of random sizes under small kernel buffers: the peer sees every byte
 * once, in order; every buffer is released once; pause and resume pair up. */
START_TEST(test_random_writes_and_reads)
{
    const size_t total = 1000000 / test_scale();
    const int max_buffers = 40;
    pyloop_loop *loop = pyloop_loop_new();
    host *h = host_new(loop, _i, STREAM_WRITES);
    unsigned char *source = pattern(total);
    size_t capacity = total / 8 + 64, used = 0, written = 0;
    tracked *counters = calloc(capacity, sizeof(*counters));
    pyloop_stream_buffer buffers[40];
    uint64_t state = 0x9e3779b97f4a7c15u + (uint64_t)_i;
    bytes seen = {0};

    ck_assert_ptr_nonnull(counters);
    shrink(h);
    ck_assert_int_eq(pyloop_stream_set_write_limits(&h->stream, 20000, 5000), 0);
    while (written < total && used + (size_t)max_buffers <= capacity) {
        int count = (int)(next_random(&state) % (uint64_t)max_buffers) + 1, i;
        unsigned flags = next_random(&state) % 3 == 0 ? PYLOOP_STREAM_DEFER : 0;
        for (i = 0; i < count && written < total; i++) {
            size_t length = (size_t)(next_random(&state) % 3000);
            if (next_random(&state) % 10 == 0)
                length = 0;
            if (length > total - written)
                length = total - written;
            buffers[i] = tracked_buffer(source + written, length, &counters[used++]);
            written += length;
        }
        ck_assert_int_eq(pyloop_stream_write(&h->stream, buffers, (size_t)i, flags), 0);
        if (next_random(&state) % 4 == 0)
            ck_assert_int_eq(pyloop_stream_flush(&h->stream), 0);
        if (next_random(&state) % 2 == 0) {
            unsigned char chunk[20000];
            ssize_t n = read(h->peer, chunk, (size_t)(next_random(&state) % sizeof(chunk)) + 1);
            if (n > 0)
                bytes_append(&seen, chunk, (size_t)n);
        }
        spin(loop);
        ck_assert_int_le(h->pauses - h->resumes, 1);
        ck_assert_int_ge(h->pauses - h->resumes, 0);
    }
    ck_assert_int_eq(pyloop_stream_flush(&h->stream), 0);
    drain_through_peer(h, &seen);
    assert_pattern(&seen, 0, written);
    assert_released_once(counters, used);
    ck_assert_int_eq(h->pauses, h->resumes);
    ck_assert_int_eq(h->errors, 0);
    bytes_free(&seen);
    free(counters);
    free(source);
    host_free(h);
    pyloop_loop_free(loop);
}
END_TEST

static Suite *stream_suite(void)
{
    Suite *suite = suite_create("stream");
    TCase *setup = tcase_create("setup");
    TCase *reading = tcase_create("reading");
    TCase *writing = tcase_create("writing");
    TCase *flow = tcase_create("flow");
    TCase *shutdown_ = tcase_create("shutdown");
    TCase *tasks = tcase_create("tasks");
    TCase *stress = tcase_create("stress");

    /* _i: KIND_SOCKET, KIND_PIPE */
    tcase_add_test(setup, test_init_checks_its_arguments);
    tcase_add_loop_test(setup, test_socket_is_found_once_at_init, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_test(setup, test_a_foreign_watcher_is_refused);
    tcase_add_loop_test(setup, test_an_fd_the_host_closed_is_never_touched, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_test(setup, test_a_stale_stream_gives_way_to_the_newcomer);
    suite_add_tcase(suite, setup);

    tcase_add_loop_test(reading, test_read_start_and_stop, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(reading, test_read_runs_behind_callbacks_ready_before_it, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(reading, test_one_read_task_per_readiness, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(reading, test_end_of_file_is_reported_as_zero, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_test(reading, test_read_error_goes_to_on_error);
    tcase_add_loop_test(reading, test_alloc_can_skip_stop_or_fail, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(reading, test_alloc_breaking_the_contract_is_an_error, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(reading, test_close_inside_alloc_skips_the_read, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(reading, test_close_inside_on_read, KIND_SOCKET, KIND_PIPE + 1);
    suite_add_tcase(suite, reading);

    tcase_set_timeout(writing, 60);
    tcase_add_loop_test(writing, test_write_goes_out_at_once, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(writing, test_partial_writes_queue_and_go_in_order, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(writing, test_more_buffers_than_one_writev_takes, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_test(writing, test_deferred_writes_leave_in_one_writev);
    tcase_add_test(writing, test_watch_and_task_hooks);
    tcase_add_loop_test(writing, test_deferred_writes_wait_for_flush, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_test(writing, test_write_arguments_are_checked_and_buffers_released);
    tcase_add_loop_test(writing, test_close_releases_queued_buffers, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(writing, test_send_error_is_returned_not_reported, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(writing, test_queued_send_error_goes_to_on_error, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_test(writing, test_peer_reset_reports_one_error);
    tcase_add_loop_test(writing, test_buffer_release_may_write_or_close, KIND_SOCKET, KIND_PIPE + 1);
    suite_add_tcase(suite, writing);

    tcase_set_timeout(flow, 60);
    tcase_add_test(flow, test_write_limits_are_validated);
    tcase_add_loop_test(flow, test_pause_and_resume_at_the_thresholds, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(flow, test_zero_high_water_and_limits_lowered_under_the_queue, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(flow, test_on_drain_when_the_loop_empties_the_queue, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(flow, test_close_inside_on_drain, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(flow, test_close_inside_on_write_pause, KIND_SOCKET, KIND_PIPE + 1);
    suite_add_tcase(suite, flow);

    tcase_add_test(shutdown_, test_shutdown_now_gives_the_peer_end_of_file);
    tcase_add_test(shutdown_, test_shutdown_waits_for_the_queue_to_drain);
    tcase_add_test(shutdown_, test_shutdown_flushes_deferred_buffers);
    tcase_add_test(shutdown_, test_failed_shutdown_is_returned_and_reading_goes_on);
    tcase_add_test(shutdown_, test_a_zeroed_stream_is_as_a_closed_one);
    tcase_add_test(shutdown_, test_shutdown_of_a_pipe_only_refuses_writes);
    suite_add_tcase(suite, shutdown_);

    tcase_add_loop_test(tasks, test_close_with_tasks_still_queued, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(tasks, test_last_release_may_free_the_host, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(tasks, test_watcher_holds_the_host, KIND_SOCKET, KIND_PIPE + 1);
    tcase_add_loop_test(tasks, test_clear_pending_drops_stream_tasks, KIND_SOCKET, KIND_PIPE + 1);
    suite_add_tcase(suite, tasks);

    tcase_set_timeout(stress, 300);
    tcase_add_loop_test(stress, test_random_writes_and_reads, KIND_SOCKET, KIND_PIPE + 1);
    suite_add_tcase(suite, stress);
    return suite;
}

int main(void)
{
    const pyloop_build *build = pyloop_build_info();
    SRunner *runner = srunner_create(stream_suite());
    int failed;

    printf("stream build: phase %s, batch limit %u, wait %s\n", build->phase, build->batch_limit,
           build->wait_strategy);
    fflush(stdout); /* before Check forks */
    srunner_run_all(runner, CK_NORMAL);
    print_skipped("stream");
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
