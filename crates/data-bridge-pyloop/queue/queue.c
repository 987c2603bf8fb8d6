/*
 * queue: see queue.h for the contract.
 *
 * The ring keeps its capacity a power of two so that wrapping an index is a
 * mask rather than a division; that is what keeps push and pop to a handful
 * of instructions on the loop's hottest path.
 */
#include "queue.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PYLOOP_RING_FIRST_CAPACITY 64

#if defined(__GNUC__) || defined(__clang__)
#define PYLOOP_UNLIKELY(condition) __builtin_expect(!!(condition), 0)
#define PYLOOP_COLD __attribute__((noinline, cold))
#else
#define PYLOOP_UNLIKELY(condition) (condition)
#define PYLOOP_COLD
#endif

void pyloop_ring_init(pyloop_ring *ring)
{
    ring->tasks = NULL;
    ring->capacity = 0;
    ring->head = 0;
    ring->count = 0;
}

void pyloop_ring_destroy(pyloop_ring *ring)
{
    free(ring->tasks);
    pyloop_ring_init(ring);
}

/* A fresh array is allocated (rather than realloc) because the queued tasks
 * have to be unwrapped anyway, and it leaves the ring untouched on failure. */
static PYLOOP_COLD int ring_grow(pyloop_ring *ring, size_t needed)
{
    size_t capacity = ring->capacity ? ring->capacity : PYLOOP_RING_FIRST_CAPACITY;
    pyloop_task *tasks;

    while (capacity < needed) {
        if (capacity > SIZE_MAX / 2)
            return -ENOMEM;
        capacity *= 2;
    }
    if (capacity == ring->capacity)
        return 0;
    /* Objects larger than PTRDIFF_MAX break pointer subtraction; refuse them
     * here rather than trusting every malloc to do so. */
    if (capacity > (size_t)PTRDIFF_MAX / sizeof(pyloop_task))
        return -ENOMEM;
    tasks = malloc(capacity * sizeof(pyloop_task));
    if (!tasks)
        return -ENOMEM;
    if (ring->count) {
        size_t first = ring->capacity - ring->head;

        if (first > ring->count)
            first = ring->count;
        memcpy(tasks, ring->tasks + ring->head, first * sizeof(pyloop_task));
        memcpy(tasks + first, ring->tasks, (ring->count - first) * sizeof(pyloop_task));
    }
    free(ring->tasks);
    ring->tasks = tasks;
    ring->capacity = capacity;
    ring->head = 0;
    return 0;
}

static inline void ring_store(pyloop_ring *ring, pyloop_callback fn, void *arg)
{
    pyloop_task *slot = &ring->tasks[(ring->head + ring->count) & (ring->capacity - 1)];

    slot->fn = fn;
    slot->arg = arg;
    ring->count++;
}

/* The full-ring case is a tail call, so the fast path never has to keep
 * `fn` and `arg` alive across a call (no frame, no saved registers). */
static PYLOOP_COLD int ring_push_slow(pyloop_ring *ring, pyloop_callback fn, void *arg)
{
    int rc = ring_grow(ring, ring->count + 1);

    if (rc)
        return rc;
    ring_store(ring, fn, arg);
    return 0;
}

int pyloop_ring_push(pyloop_ring *ring, pyloop_callback fn, void *arg)
{
    if (PYLOOP_UNLIKELY(ring->count == ring->capacity))
        return ring_push_slow(ring, fn, arg);
    ring_store(ring, fn, arg);
    return 0;
}

int pyloop_ring_pop(pyloop_ring *ring, pyloop_task *task)
{
    if (!ring->count)
        return 0;
    *task = ring->tasks[ring->head];
    ring->head = (ring->head + 1) & (ring->capacity - 1);
    ring->count--;
    return 1;
}

void pyloop_ring_trim(pyloop_ring *ring)
{
    size_t capacity = ring->capacity;
    pyloop_task *tasks;

    while (capacity > PYLOOP_RING_KEEP && ring->count <= capacity / 8)
        capacity = capacity / 4 > PYLOOP_RING_KEEP ? capacity / 4 : PYLOOP_RING_KEEP;
    if (capacity == ring->capacity)
        return;
    tasks = malloc(capacity * sizeof(pyloop_task));
    if (!tasks)
        return;
    if (ring->count) {
        size_t first = ring->capacity - ring->head;

        if (first > ring->count)
            first = ring->count;
        memcpy(tasks, ring->tasks + ring->head, first * sizeof(pyloop_task));
        memcpy(tasks + first, ring->tasks, (ring->count - first) * sizeof(pyloop_task));
    }
    free(ring->tasks);
    ring->tasks = tasks;
    ring->capacity = capacity;
    ring->head = 0;
}

int pyloop_ring_reserve(pyloop_ring *ring, size_t extra)
{
    if (extra <= ring->capacity - ring->count)
        return 0;
    if (extra > SIZE_MAX - ring->count)
        return -ENOMEM;
    return ring_grow(ring, ring->count + extra);
}

/* Copies `length` tasks to the ring's tail, which may itself wrap; the caller
 * has reserved the room and bumps the count once for all segments. */
static void ring_append_span(pyloop_ring *ring, size_t offset, const pyloop_task *source, size_t length)
{
    size_t tail = (ring->head + ring->count + offset) & (ring->capacity - 1);
    size_t first = ring->capacity - tail;

    if (first > length)
        first = length;
    memcpy(ring->tasks + tail, source, first * sizeof(pyloop_task));
    memcpy(ring->tasks, source + first, (length - first) * sizeof(pyloop_task));
}

int pyloop_inbox_init(pyloop_inbox *inbox)
{
    pthread_condattr_t attributes;
    int rc = pthread_mutex_init(&inbox->lock, NULL);

    if (rc)
        return -rc;
    pthread_condattr_init(&attributes);
    /* A stall is measured on the monotonic clock, immune to clock jumps. */
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&inbox->room, &attributes);
    pthread_condattr_destroy(&attributes);
    if (rc) {
        pthread_mutex_destroy(&inbox->lock);
        return -rc;
    }
    pyloop_ring_init(&inbox->ring);
    atomic_init(&inbox->size, 0);
    atomic_init(&inbox->takes, 0);
    inbox->waiting = 0;
    inbox->wake_at = 0;
    inbox->consumer_active = 0;
    return 0;
}

void pyloop_inbox_destroy(pyloop_inbox *inbox)
{
    pthread_cond_destroy(&inbox->room);
    pthread_mutex_destroy(&inbox->lock);
    pyloop_ring_destroy(&inbox->ring);
}

/* Under the lock, after tasks were taken out: count the take and release
 * the producers waiting for this much room. */
static void took_tasks(pyloop_inbox *inbox)
{
    atomic_fetch_add_explicit(&inbox->takes, 1, memory_order_relaxed);
    if (PYLOOP_UNLIKELY(inbox->waiting) && inbox->ring.count <= inbox->wake_at)
        pthread_cond_broadcast(&inbox->room);
}

void pyloop_inbox_trim(pyloop_inbox *inbox)
{
    pthread_mutex_lock(&inbox->lock);
    pyloop_ring_trim(&inbox->ring);
    pthread_mutex_unlock(&inbox->lock);
}

static void deadline_after(struct timespec *deadline, int64_t nanoseconds)
{
    clock_gettime(CLOCK_MONOTONIC, deadline);
    deadline->tv_sec += (time_t)(nanoseconds / 1000000000);
    deadline->tv_nsec += (long)(nanoseconds % 1000000000);
    if (deadline->tv_nsec >= 1000000000L) {
        deadline->tv_sec += 1;
        deadline->tv_nsec -= 1000000000L;
    }
}

int pyloop_inbox_wait_below(pyloop_inbox *inbox, size_t low, int64_t stall_ns)
{
    struct timespec deadline;
    uint_fast64_t takes;
    int rc = 0;

    pthread_mutex_lock(&inbox->lock);
    inbox->waiting++;
    inbox->wake_at = low;
    takes = atomic_load_explicit(&inbox->takes, memory_order_relaxed);
    deadline_after(&deadline, stall_ns);
    while (inbox->ring.count > low) {
        if (!inbox->consumer_active) {
            rc = -ECANCELED;
            break;
        }
        if (pthread_cond_timedwait(&inbox->room, &inbox->lock, &deadline) == ETIMEDOUT) {
            uint_fast64_t now_takes = atomic_load_explicit(&inbox->takes, memory_order_relaxed);
            if (now_takes == takes) {
                rc = -ETIMEDOUT;
                break;
            }
            /* Slow but moving: give it another stall period. */
            takes = now_takes;
            deadline_after(&deadline, stall_ns);
        }
    }
    inbox->waiting--;
    pthread_mutex_unlock(&inbox->lock);
    return rc;
}

void pyloop_inbox_set_consumer(pyloop_inbox *inbox, int active)
{
    pthread_mutex_lock(&inbox->lock);
    inbox->consumer_active = active;
    if (!active && inbox->waiting)
        pthread_cond_broadcast(&inbox->room);
    pthread_mutex_unlock(&inbox->lock);
}

int pyloop_inbox_push(pyloop_inbox *inbox, pyloop_callback fn, void *arg)
{
    int rc;

    pthread_mutex_lock(&inbox->lock);
    rc = pyloop_ring_push(&inbox->ring, fn, arg);
    atomic_store(&inbox->size, inbox->ring.count);
    pthread_mutex_unlock(&inbox->lock);
    return rc;
}

int pyloop_inbox_pop(pyloop_inbox *inbox, pyloop_task *task)
{
    int popped;

    if (!atomic_load_explicit(&inbox->size, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&inbox->lock);
    popped = pyloop_ring_pop(&inbox->ring, task);
    atomic_store(&inbox->size, inbox->ring.count);
    if (popped)
        took_tasks(inbox);
    pthread_mutex_unlock(&inbox->lock);
    return popped;
}

long pyloop_inbox_drain_into(pyloop_inbox *inbox, pyloop_ring *ring)
{
    pyloop_ring *source = &inbox->ring;
    size_t moved;
    size_t first;
    int rc;

    if (!atomic_load_explicit(&inbox->size, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&inbox->lock);
    moved = source->count;
    if (!moved) {
        pthread_mutex_unlock(&inbox->lock);
        return 0;
    }
    /* Growing the destination is the only step that can fail, so it happens
     * before anything moves: a failed drain leaves both queues as they were. */
    rc = pyloop_ring_reserve(ring, moved);
    if (rc) {
        pthread_mutex_unlock(&inbox->lock);
        return rc;
    }
    first = source->capacity - source->head;
    if (first > moved)
        first = moved;
    ring_append_span(ring, 0, source->tasks + source->head, first);
    ring_append_span(ring, first, source->tasks, moved - first);
    ring->count += moved;
    /* The storage stays, but for what a burst left (pyloop_ring_trim):
     * producers refill it at the steady-state size without malloc. */
    source->head = 0;
    source->count = 0;
    pyloop_ring_trim(source);
    atomic_store(&inbox->size, 0);
    took_tasks(inbox);
    pthread_mutex_unlock(&inbox->lock);
    return (long)moved;
}
