/*
 * queue: the loop's two callback queues.
 *
 *   pyloop_ring   single-threaded FIFO of tasks (the ready queue). Grows by
 *                 doubling, wraps around; pyloop_ring_trim gives back what a
 *                 burst left unused. Push and pop are O(1) and take no locks.
 *   pyloop_inbox  multi-producer FIFO guarded by a mutex (the thread-safe
 *                 channel). Producers push one task at a time; the consumer
 *                 either pops one at a time (the 3.1.x "locked channel") or
 *                 moves everything into a ring in one locked step (native).
 *                 Order is preserved per producer. A producer may wait for
 *                 the consumer to catch up (back-pressure, see below).
 *
 * A task is a function pointer and an argument. The queue never calls it and
 * never owns what `arg` points to; the loop does both.
 *
 * Errors are negative errno values (-ENOMEM when growth fails); the queue is
 * left unchanged by a failed push. No Python, no syscalls besides the mutex.
 */
#ifndef PYLOOP_QUEUE_H
#define PYLOOP_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct pyloop_loop;

typedef void (*pyloop_callback)(struct pyloop_loop *loop, void *arg);

typedef struct pyloop_task {
    pyloop_callback fn;
    void *arg;
} pyloop_task;

typedef struct pyloop_ring {
    pyloop_task *tasks;
    size_t capacity; /* always a power of two */
    size_t head;     /* index of the oldest task */
    size_t count;
} pyloop_ring;

/* A ring starts empty with no storage; the first push allocates. */
void pyloop_ring_init(pyloop_ring *ring);
void pyloop_ring_destroy(pyloop_ring *ring);
int pyloop_ring_push(pyloop_ring *ring, pyloop_callback fn, void *arg);
/* Returns 1 and fills *task, or 0 when empty. */
int pyloop_ring_pop(pyloop_ring *ring, pyloop_task *task);
/* Makes room for `extra` more tasks without further allocation. */
int pyloop_ring_reserve(pyloop_ring *ring, size_t extra);
/* Gives back storage a burst left unused: while at most an eighth of the
 * slots are in use, the capacity drops by quarters, never below
 * PYLOOP_RING_KEEP. Called once per loop iteration, a ring that held
 * millions shrinks as soon as it is drained, while one that refills each
 * iteration keeps its storage. Never fails: when the smaller array cannot be
 * allocated the ring stays as it is. */
#define PYLOOP_RING_KEEP 1024
void pyloop_ring_trim(pyloop_ring *ring);

static inline size_t pyloop_ring_count(const pyloop_ring *ring) { return ring->count; }

/* The i-th oldest task (0 <= i < count), for iteration without popping. */
static inline pyloop_task *pyloop_ring_at(const pyloop_ring *ring, size_t i)
{
    return &ring->tasks[(ring->head + i) & (ring->capacity - 1)];
}

typedef struct pyloop_inbox {
    pthread_mutex_t lock;
    pyloop_ring ring;
    /* ring.count, published (seq_cst) after each change under the lock, so
     * the consumer can look without locking. */
    atomic_size_t size;
    /* Back-pressure: producers blocked in pyloop_inbox_wait_below wait on
     * `room`; a consumer that takes tasks out signals it. */
    pthread_cond_t room;
    int waiting;            /* producers in pyloop_inbox_wait_below */
    size_t wake_at;         /* ...waiting for the count to reach this */
    int consumer_active;    /* 0: waits return at once (nobody would drain) */
    atomic_uint_fast64_t takes; /* pops + drains that took something */
} pyloop_inbox;

int pyloop_inbox_init(pyloop_inbox *inbox);
void pyloop_inbox_destroy(pyloop_inbox *inbox);
int pyloop_inbox_push(pyloop_inbox *inbox, pyloop_callback fn, void *arg);
/* Pops the oldest task under the lock: 1 and *task filled, or 0 when empty. */
int pyloop_inbox_pop(pyloop_inbox *inbox, pyloop_task *task);
/* Appends every queued task to `ring`, oldest first, in one locked step
 * (no lock at all when the inbox looks empty). Returns the number moved, or
 * -ENOMEM (nothing moved) if `ring` cannot grow. */
long pyloop_inbox_drain_into(pyloop_inbox *inbox, pyloop_ring *ring);
/* The count, without the lock: a sequentially consistent load of what the
 * last push/pop/drain published. A consumer that stores "I am about to
 * sleep" (seq_cst) and then reads this, against a producer that pushes and
 * then reads that flag, cannot both miss each other. */
static inline size_t pyloop_inbox_count(pyloop_inbox *inbox)
{
    return atomic_load(&inbox->size);
}
/* Under the lock, pyloop_ring_trim on the inbox's storage. */
void pyloop_inbox_trim(pyloop_inbox *inbox);

/* ---- back-pressure ----
 * A producer that finds the inbox too full calls pyloop_inbox_wait_below
 * (without any lock of its own held). It returns 0 once at most `low` tasks
 * wait, -ETIMEDOUT when no consumer took anything for `stall_ns` (the
 * consumer is stuck, say in a callback that waits for this producer: then
 * waiting longer would be a deadlock), and -ECANCELED at once, or as soon as
 * it happens, while the consumer is inactive (pyloop_inbox_set_consumer). */
int pyloop_inbox_wait_below(pyloop_inbox *inbox, size_t low, int64_t stall_ns);
/* The consumer says whether it is draining (1) or not (0); turning it off
 * releases every waiting producer. */
void pyloop_inbox_set_consumer(pyloop_inbox *inbox, int active);

#endif
