/*
 * Tests for queue/: the single-threaded ring and the locked inbox.
 *
 * PYLOOP_TEST_SCALE (a divisor, default 1) shrinks the stress test so that it
 * stays practical under valgrind.
 */
#include "queue.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hot_assert.h"
#include <string.h>

#define STRESS_PRODUCERS 8
#define STRESS_ITEMS_PER_PRODUCER 200000UL
/* How many single pops the stress consumer takes before switching to a drain. */
#define STRESS_POP_BURST 64

static void callback_a(struct pyloop_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
}

static void callback_b(struct pyloop_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
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

static void *value_arg(uintptr_t value)
{
    return (void *)value;
}

static uintptr_t arg_value(void *arg)
{
    return (uintptr_t)arg;
}

static int is_power_of_two(size_t value)
{
    return value && !(value & (value - 1));
}

static void push_value(pyloop_ring *ring, uintptr_t value)
{
    ck_assert_int_eq(pyloop_ring_push(ring, callback_a, value_arg(value)), 0);
}

static void pop_expect(pyloop_ring *ring, uintptr_t value)
{
    pyloop_task task;

    ck_assert_int_eq(pyloop_ring_pop(ring, &task), 1);
    ck_assert_ptr_eq((void *)task.fn, (void *)callback_a);
    ck_assert_uint_eq(arg_value(task.arg), value);
}

/* Arranges an empty ring so that its oldest task sits `head_back` slots
 * before the end of the storage and `count` tasks, valued from `first` on,
 * follow it (crossing the end when count > head_back). */
static void arrange_ring(pyloop_ring *ring, size_t head_back, size_t count, uintptr_t first)
{
    size_t capacity;
    size_t head;

    ck_assert_uint_eq(pyloop_ring_count(ring), 0);
    push_value(ring, 0);
    pop_expect(ring, 0);
    capacity = ring->capacity;
    ck_assert(head_back >= 1 && head_back < capacity && count <= capacity);
    head = capacity - head_back;
    while (ring->head != head) {
        push_value(ring, 0);
        pop_expect(ring, 0);
    }
    for (size_t i = 0; i < count; i++)
        push_value(ring, first + i);
    ck_assert_uint_eq(ring->capacity, capacity);
}

START_TEST(test_ring_fifo_order)
{
    pyloop_ring ring;
    pyloop_task task;
    uintptr_t i;

    pyloop_ring_init(&ring);
    ck_assert_ptr_null(ring.tasks);
    ck_assert_uint_eq(ring.capacity, 0);
    ck_assert_int_eq(pyloop_ring_pop(&ring, &task), 0);

    for (i = 0; i < 1000; i++)
        push_value(&ring, i);
    ck_assert_uint_eq(pyloop_ring_count(&ring), 1000);
    ck_assert(is_power_of_two(ring.capacity));
    for (i = 0; i < 1000; i++)
        pop_expect(&ring, i);
    ck_assert_uint_eq(pyloop_ring_count(&ring), 0);
    ck_assert_int_eq(pyloop_ring_pop(&ring, &task), 0);

    /* Distinct callbacks must come back paired with their own argument. */
    ck_assert_int_eq(pyloop_ring_push(&ring, callback_b, value_arg(7)), 0);
    ck_assert_int_eq(pyloop_ring_push(&ring, callback_a, value_arg(8)), 0);
    ck_assert_int_eq(pyloop_ring_pop(&ring, &task), 1);
    ck_assert_ptr_eq((void *)task.fn, (void *)callback_b);
    ck_assert_uint_eq(arg_value(task.arg), 7);
    pop_expect(&ring, 8);
    pyloop_ring_destroy(&ring);
}
END_TEST

START_TEST(test_ring_growth_wraparound)
{
    pyloop_ring ring;
    uintptr_t next_push = 0;
    uintptr_t next_pop = 0;
    size_t first_capacity;
    size_t capacity;
    int round;

    pyloop_ring_init(&ring);
    push_value(&ring, next_push++);
    first_capacity = ring.capacity;
    ck_assert(is_power_of_two(first_capacity));

    /* Each round fills the ring while its head is away from index 0, so the
     * growth has to stitch the tail segment back behind the head segment. */
    for (round = 0; round < 6; round++) {
        size_t shift;

        capacity = ring.capacity;
        while (pyloop_ring_count(&ring) < capacity)
            push_value(&ring, next_push++);
        shift = capacity / 3 + 1;
        for (size_t i = 0; i < shift; i++)
            pop_expect(&ring, next_pop++);
        for (size_t i = 0; i < shift; i++)
            push_value(&ring, next_push++);
        ck_assert_uint_eq(ring.capacity, capacity);
        ck_assert_uint_eq(pyloop_ring_count(&ring), capacity);
        ck_assert_uint_ne(ring.head, 0);

        push_value(&ring, next_push++);
        ck_assert_uint_eq(ring.capacity, capacity * 2);
        ck_assert_uint_eq(pyloop_ring_count(&ring), capacity + 1);
        for (size_t i = 0; i < pyloop_ring_count(&ring); i++)
            ck_assert_uint_eq(arg_value(pyloop_ring_at(&ring, i)->arg), next_pop + i);
    }
    ck_assert_uint_eq(ring.capacity, first_capacity << 6);

    /* Interleaved single pushes and pops walk the head around many times
     * without growing the ring. */
    capacity = ring.capacity;
    for (size_t i = 0; i < capacity * 5; i++) {
        push_value(&ring, next_push++);
        pop_expect(&ring, next_pop++);
    }
    ck_assert_uint_eq(ring.capacity, capacity);
    while (next_pop < next_push)
        pop_expect(&ring, next_pop++);
    ck_assert_uint_eq(pyloop_ring_count(&ring), 0);
    pyloop_ring_destroy(&ring);
}
END_TEST

START_TEST(test_ring_at_indexing)
{
    pyloop_ring ring;
    size_t count;

    pyloop_ring_init(&ring);
    arrange_ring(&ring, 4, 12, 100);
    count = pyloop_ring_count(&ring);
    ck_assert_uint_eq(count, 12);
    for (size_t i = 0; i < count; i++)
        ck_assert_uint_eq(arg_value(pyloop_ring_at(&ring, i)->arg), 100 + i);
    /* The fifth oldest is the first past the end of the storage. */
    ck_assert_ptr_eq(pyloop_ring_at(&ring, 3), &ring.tasks[ring.capacity - 1]);
    ck_assert_ptr_eq(pyloop_ring_at(&ring, 4), &ring.tasks[0]);
    /* ring_at hands out the stored slot itself, so writes through it stick. */
    pyloop_ring_at(&ring, 11)->arg = value_arg(5);
    for (size_t i = 0; i < count - 1; i++)
        pop_expect(&ring, 100 + i);
    pop_expect(&ring, 5);
    pyloop_ring_destroy(&ring);
}
END_TEST

START_TEST(test_ring_reserve)
{
    pyloop_ring ring;
    pyloop_task *tasks;
    uintptr_t oldest;
    size_t capacity;
    size_t count;

    pyloop_ring_init(&ring);
    ck_assert_int_eq(pyloop_ring_reserve(&ring, 0), 0);
    ck_assert_int_eq(pyloop_ring_reserve(&ring, 1000), 0);
    ck_assert(is_power_of_two(ring.capacity));
    ck_assert_uint_ge(ring.capacity, 1000);
    tasks = ring.tasks;
    capacity = ring.capacity;
    for (uintptr_t i = 0; i < capacity; i++)
        push_value(&ring, i);
    ck_assert_ptr_eq(ring.tasks, tasks);
    ck_assert_uint_eq(ring.capacity, capacity);
    ck_assert_int_eq(pyloop_ring_reserve(&ring, 0), 0);
    ck_assert_ptr_eq(ring.tasks, tasks);
    pyloop_ring_destroy(&ring);

    /* Reserving on a wrapped ring must keep its order, and the reserved room
     * must then take that many pushes without another allocation. */
    pyloop_ring_init(&ring);
    arrange_ring(&ring, 3, 5, 0);
    oldest = 0;
    capacity = ring.capacity;
    ck_assert_int_eq(pyloop_ring_reserve(&ring, capacity - 5), 0);
    ck_assert_uint_eq(ring.capacity, capacity);
    ck_assert_int_eq(pyloop_ring_reserve(&ring, capacity), 0);
    ck_assert_uint_eq(ring.capacity, capacity * 2);
    tasks = ring.tasks;
    count = pyloop_ring_count(&ring);
    for (size_t i = 0; i < capacity; i++)
        push_value(&ring, oldest + count + i);
    ck_assert_ptr_eq(ring.tasks, tasks);
    for (size_t i = 0; i < count + capacity; i++)
        pop_expect(&ring, oldest + i);

    /* Sizes whose byte count overflows are refused before any allocation,
     * which is the one portable way to watch the ring survive a failure. */
    push_value(&ring, 42);
    tasks = ring.tasks;
    capacity = ring.capacity;
    ck_assert_int_eq(pyloop_ring_reserve(&ring, SIZE_MAX), -ENOMEM);
    ck_assert_int_eq(pyloop_ring_reserve(&ring, SIZE_MAX / 2), -ENOMEM);
    ck_assert_int_eq(pyloop_ring_reserve(&ring, SIZE_MAX / sizeof(pyloop_task)), -ENOMEM);
    ck_assert_ptr_eq(ring.tasks, tasks);
    ck_assert_uint_eq(ring.capacity, capacity);
    ck_assert_uint_eq(pyloop_ring_count(&ring), 1);
    pop_expect(&ring, 42);
    pyloop_ring_destroy(&ring);
}
END_TEST

START_TEST(test_ring_destroy_then_reuse)
{
    pyloop_ring ring;
    pyloop_task task;

    pyloop_ring_init(&ring);
    pyloop_ring_destroy(&ring);
    for (uintptr_t i = 0; i < 100; i++)
        push_value(&ring, i);
    pop_expect(&ring, 0);
    pyloop_ring_destroy(&ring);
    ck_assert_ptr_null(ring.tasks);
    ck_assert_uint_eq(ring.capacity, 0);
    ck_assert_uint_eq(ring.head, 0);
    ck_assert_uint_eq(pyloop_ring_count(&ring), 0);
    ck_assert_int_eq(pyloop_ring_pop(&ring, &task), 0);

    for (uintptr_t i = 0; i < 300; i++)
        push_value(&ring, 1000 + i);
    for (uintptr_t i = 0; i < 300; i++)
        pop_expect(&ring, 1000 + i);
    pyloop_ring_destroy(&ring);
    pyloop_ring_destroy(&ring);
    ck_assert_ptr_null(ring.tasks);
}
END_TEST

START_TEST(test_inbox_push_pop_order)
{
    pyloop_inbox inbox;
    pyloop_task task;

    ck_assert_int_eq(pyloop_inbox_init(&inbox), 0);
    ck_assert_uint_eq(pyloop_inbox_count(&inbox), 0);
    ck_assert_int_eq(pyloop_inbox_pop(&inbox, &task), 0);
    for (uintptr_t i = 0; i < 500; i++)
        ck_assert_int_eq(pyloop_inbox_push(&inbox, i % 2 ? callback_b : callback_a, value_arg(i)), 0);
    ck_assert_uint_eq(pyloop_inbox_count(&inbox), 500);
    for (uintptr_t i = 0; i < 500; i++) {
        ck_assert_int_eq(pyloop_inbox_pop(&inbox, &task), 1);
        ck_assert_ptr_eq((void *)task.fn, (void *)(i % 2 ? callback_b : callback_a));
        ck_assert_uint_eq(arg_value(task.arg), i);
    }
    ck_assert_uint_eq(pyloop_inbox_count(&inbox), 0);
    ck_assert_int_eq(pyloop_inbox_pop(&inbox, &task), 0);
    pyloop_inbox_destroy(&inbox);
}
END_TEST

/* The inbox counterpart of arrange_ring, going through the locked calls. */
static void arrange_inbox(pyloop_inbox *inbox, size_t head_back, size_t count, uintptr_t first)
{
    pyloop_task task;
    size_t capacity;
    size_t head;

    ck_assert_uint_eq(pyloop_inbox_count(inbox), 0);
    ck_assert_int_eq(pyloop_inbox_push(inbox, callback_a, value_arg(0)), 0);
    ck_assert_int_eq(pyloop_inbox_pop(inbox, &task), 1);
    capacity = inbox->ring.capacity;
    ck_assert(head_back >= 1 && head_back < capacity && count <= capacity);
    head = capacity - head_back;
    while (inbox->ring.head != head) {
        ck_assert_int_eq(pyloop_inbox_push(inbox, callback_a, value_arg(0)), 0);
        ck_assert_int_eq(pyloop_inbox_pop(inbox, &task), 1);
    }
    for (size_t i = 0; i < count; i++)
        ck_assert_int_eq(pyloop_inbox_push(inbox, callback_b, value_arg(first + i)), 0);
    ck_assert_uint_eq(inbox->ring.capacity, capacity);
}

/* Drains an inbox arranged as (inbox_back, inbox_count) into a ring
 * arranged as (ring_back, ring_count); see arrange_ring. */
static void check_drain(size_t ring_back, size_t ring_count, size_t inbox_back, size_t inbox_count)
{
    pyloop_inbox inbox;
    pyloop_ring ring;
    pyloop_task *inbox_tasks;
    pyloop_task task;
    size_t inbox_capacity;
    size_t ring_capacity;

    pyloop_ring_init(&ring);
    arrange_ring(&ring, ring_back, ring_count, 0);
    ring_capacity = ring.capacity;
    ck_assert_int_eq(pyloop_inbox_init(&inbox), 0);
    arrange_inbox(&inbox, inbox_back, inbox_count, 1000000);
    inbox_tasks = inbox.ring.tasks;
    inbox_capacity = inbox.ring.capacity;

    ck_assert_int_eq(pyloop_inbox_drain_into(&inbox, &ring), (long)inbox_count);
    ck_assert_uint_eq(pyloop_inbox_count(&inbox), 0);
    ck_assert_uint_eq(inbox.ring.head, 0);
    ck_assert_ptr_eq(inbox.ring.tasks, inbox_tasks);
    ck_assert_uint_eq(inbox.ring.capacity, inbox_capacity);
    if (ring_count + inbox_count > ring_capacity)
        ck_assert_uint_gt(ring.capacity, ring_capacity);
    else
        ck_assert_uint_eq(ring.capacity, ring_capacity);
    ck_assert_uint_eq(pyloop_ring_count(&ring), ring_count + inbox_count);
    for (size_t i = 0; i < ring_count; i++)
        pop_expect(&ring, i);
    for (size_t i = 0; i < inbox_count; i++) {
        ck_assert_int_eq(pyloop_ring_pop(&ring, &task), 1);
        ck_assert_ptr_eq((void *)task.fn, (void *)callback_b);
        ck_assert_uint_eq(arg_value(task.arg), 1000000 + i);
    }
    ck_assert_uint_eq(pyloop_ring_count(&ring), 0);

    /* The inbox keeps working from its reset position. */
    ck_assert_int_eq(pyloop_inbox_push(&inbox, callback_a, value_arg(9)), 0);
    ck_assert_int_eq(pyloop_inbox_drain_into(&inbox, &ring), 1);
    pop_expect(&ring, 9);

    pyloop_inbox_destroy(&inbox);
    pyloop_ring_destroy(&ring);
}

START_TEST(test_inbox_drain_into_wrapped_ring)
{
    /* Counts assume the first allocation holds at least 64 tasks (asserted
     * by the arrange helpers); growth is expected from the actual size. */
    /* Destination wrapped, its free room one block in the middle. */
    check_drain(3, 10, 20, 40);
    /* Destination not wrapped yet, so the copy itself must wrap. */
    check_drain(40, 20, 10, 30);
    /* Destination wrapped and too full: the drain grows it first. */
    check_drain(5, 50, 20, 40);
    /* Destination's tail exactly at the end of its storage. */
    check_drain(30, 30, 8, 16);
    /* Empty destination whose head is nowhere near index 0. */
    check_drain(7, 0, 30, 60);
}
END_TEST

START_TEST(test_inbox_drain_empty_and_failure)
{
    pyloop_inbox inbox;
    pyloop_ring ring;
    pyloop_ring unreachable;
    pyloop_task task;

    ck_assert_int_eq(pyloop_inbox_init(&inbox), 0);
    pyloop_ring_init(&ring);
    ck_assert_int_eq(pyloop_inbox_drain_into(&inbox, &ring), 0);
    ck_assert_ptr_null(ring.tasks);

    for (uintptr_t i = 0; i < 10; i++)
        ck_assert_int_eq(pyloop_inbox_push(&inbox, callback_a, value_arg(i)), 0);
    /* A destination that claims to be nearly full at the largest capacity
     * cannot grow; the drain must fail before it touches the (absent)
     * storage and leave every task in the inbox. */
    unreachable.tasks = NULL;
    unreachable.capacity = (SIZE_MAX >> 1) + 1;
    unreachable.head = 0;
    unreachable.count = unreachable.capacity - 5;
    ck_assert_int_eq(pyloop_inbox_drain_into(&inbox, &unreachable), -ENOMEM);
    ck_assert_ptr_null(unreachable.tasks);
    ck_assert_uint_eq(unreachable.count, unreachable.capacity - 5);
    ck_assert_uint_eq(pyloop_inbox_count(&inbox), 10);
    for (uintptr_t i = 0; i < 10; i++) {
        ck_assert_int_eq(pyloop_inbox_pop(&inbox, &task), 1);
        ck_assert_uint_eq(arg_value(task.arg), i);
    }
    pyloop_inbox_destroy(&inbox);
    pyloop_ring_destroy(&ring);
}
END_TEST

typedef struct stress_shared {
    pyloop_inbox inbox;
    pthread_barrier_t start;
    unsigned long items_per_producer;
    atomic_int push_failed;
} stress_shared;

typedef struct stress_producer {
    stress_shared *shared;
    uint64_t id;
    pthread_t thread;
} stress_producer;

static void *stress_produce(void *argument)
{
    stress_producer *producer = argument;
    stress_shared *shared = producer->shared;

    pthread_barrier_wait(&shared->start);
    for (uint64_t sequence = 0; sequence < shared->items_per_producer; sequence++) {
        uintptr_t value = (uintptr_t)((producer->id << 32) | sequence);

        /* Check's assertions may not run off the test's own thread, so a
         * failure is only reported to the consumer. */
        if (pyloop_inbox_push(&shared->inbox, callback_a, value_arg(value))) {
            atomic_store(&shared->push_failed, 1);
            break;
        }
    }
    return NULL;
}

/* Each producer's items must arrive in exactly the order it pushed them; with
 * the total checked at the end, that also proves each arrived exactly once. */
static void stress_receive(const pyloop_task *task, uint64_t *next_sequence)
{
    uint64_t value = arg_value(task->arg);
    uint64_t id = value >> 32;
    uint64_t sequence = value & 0xffffffffu;

    hot_assert_ptr_eq((void *)task->fn, (void *)callback_a);
    hot_assert(id < STRESS_PRODUCERS);
    hot_assert_uint_eq(sequence, next_sequence[id]);
    next_sequence[id]++;
}

START_TEST(test_inbox_stress_producers)
{
    stress_shared shared;
    stress_producer producers[STRESS_PRODUCERS];
    uint64_t next_sequence[STRESS_PRODUCERS] = {0};
    unsigned long total;
    unsigned long received = 0;
    unsigned long received_by_pop = 0;
    unsigned long received_by_drain = 0;
    pyloop_ring ready;
    pyloop_task task;

    ck_assert(sizeof(uintptr_t) >= 8);
    shared.items_per_producer = STRESS_ITEMS_PER_PRODUCER / test_scale();
    if (shared.items_per_producer == 0)
        shared.items_per_producer = 1;
    atomic_init(&shared.push_failed, 0);
    total = shared.items_per_producer * STRESS_PRODUCERS;
    ck_assert_int_eq(pyloop_inbox_init(&shared.inbox), 0);
    ck_assert_int_eq(pthread_barrier_init(&shared.start, NULL, STRESS_PRODUCERS + 1), 0);
    pyloop_ring_init(&ready);

    for (uint64_t id = 0; id < STRESS_PRODUCERS; id++) {
        producers[id].shared = &shared;
        producers[id].id = id;
        ck_assert_int_eq(pthread_create(&producers[id].thread, NULL, stress_produce, &producers[id]), 0);
    }
    pthread_barrier_wait(&shared.start);

    /* Alternate the two consumer styles the loop has (one locked pop per
     * callback, and a whole-inbox drain) while the producers are running. */
    while (received < total && !atomic_load(&shared.push_failed)) {
        unsigned long received_before = received;

        for (int burst = 0; burst < STRESS_POP_BURST && pyloop_inbox_pop(&shared.inbox, &task); burst++) {
            stress_receive(&task, next_sequence);
            received++;
            received_by_pop++;
        }
        long moved = pyloop_inbox_drain_into(&shared.inbox, &ready);
        hot_assert(moved >= 0);
        hot_assert_uint_eq(pyloop_ring_count(&ready), (size_t)moved);
        while (pyloop_ring_pop(&ready, &task)) {
            stress_receive(&task, next_sequence);
            received++;
            received_by_drain++;
        }
        /* Spinning on an empty inbox would only steal the producers' CPU
         * (there may be fewer cores than threads, or valgrind's one). */
        if (received == received_before)
            sched_yield();
    }

    for (int id = 0; id < STRESS_PRODUCERS; id++)
        ck_assert_int_eq(pthread_join(producers[id].thread, NULL), 0);
    ck_assert_int_eq(atomic_load(&shared.push_failed), 0);
    ck_assert_uint_eq(received, total);
    ck_assert_uint_eq(pyloop_inbox_count(&shared.inbox), 0);
    for (int id = 0; id < STRESS_PRODUCERS; id++)
        ck_assert_uint_eq(next_sequence[id], shared.items_per_producer);
    /* With this many items both paths are all but certain to be exercised;
     * a tiny scaled-down run may legitimately finish in a single drain. */
    if (total >= 10000) {
        ck_assert_uint_gt(received_by_pop, 0);
        ck_assert_uint_gt(received_by_drain, 0);
    }

    pthread_barrier_destroy(&shared.start);
    pyloop_inbox_destroy(&shared.inbox);
    pyloop_ring_destroy(&ready);
}
END_TEST

START_TEST(test_ring_trim_gives_back_a_drained_burst_only)
{
    pyloop_ring ring;
    size_t i;

    pyloop_ring_init(&ring);
    for (i = 0; i < 100000; i++)
        push_value(&ring, i);
    pyloop_ring_trim(&ring); /* full: nothing to give back */
    ck_assert_uint_ge(ring.capacity, 100000);
    for (i = 0; i < 100000 - 100; i++)
        pop_expect(&ring, i);
    pyloop_ring_trim(&ring); /* 100 left: down to the floor, order kept */
    ck_assert_uint_eq(ring.capacity, PYLOOP_RING_KEEP);
    ck_assert(is_power_of_two(ring.capacity));
    for (i = 100000 - 100; i < 100000; i++)
        pop_expect(&ring, i);
    for (i = 0; i < PYLOOP_RING_KEEP / 8 + 1; i++)
        push_value(&ring, i);
    pyloop_ring_trim(&ring); /* at the floor already */
    ck_assert_uint_eq(ring.capacity, PYLOOP_RING_KEEP);
    pyloop_ring_destroy(&ring);
}
END_TEST

typedef struct waiter_job {
    pyloop_inbox *inbox;
    size_t low;
    int64_t stall_ns;
    int result;
    atomic_int started;
} waiter_job;

static void *wait_below_thread(void *arg)
{
    waiter_job *job = arg;
    atomic_store(&job->started, 1);
    job->result = pyloop_inbox_wait_below(job->inbox, job->low, job->stall_ns);
    return NULL;
}

static void fill_inbox(pyloop_inbox *inbox, int count)
{
    int i;
    for (i = 0; i < count; i++)
        ck_assert_int_eq(pyloop_inbox_push(inbox, callback_a, NULL), 0);
}

START_TEST(test_inbox_wait_below_returns_when_drained_cancelled_or_stalled)
{
    pyloop_inbox inbox;
    pyloop_ring ring;
    waiter_job job = {.inbox = &inbox, .low = 10, .stall_ns = INT64_C(10000000000)};
    pthread_t thread;

    ck_assert_int_eq(pyloop_inbox_init(&inbox), 0);
    pyloop_ring_init(&ring);

    /* No active consumer: returns at once. */
    fill_inbox(&inbox, 100);
    ck_assert_int_eq(pyloop_inbox_wait_below(&inbox, 10, INT64_C(10000000000)), -ECANCELED);
    /* Already below: returns at once. */
    pyloop_inbox_set_consumer(&inbox, 1);
    ck_assert_int_eq(pyloop_inbox_wait_below(&inbox, 100, INT64_C(10000000000)), 0);

    /* A drain releases the waiter. */
    atomic_init(&job.started, 0);
    ck_assert_int_eq(pthread_create(&thread, NULL, wait_below_thread, &job), 0);
    while (!atomic_load(&job.started))
        sched_yield();
    ck_assert_int_eq(pyloop_inbox_drain_into(&inbox, &ring), 100);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert_int_eq(job.result, 0);

    /* The consumer going away releases it. */
    fill_inbox(&inbox, 100);
    atomic_store(&job.started, 0);
    ck_assert_int_eq(pthread_create(&thread, NULL, wait_below_thread, &job), 0);
    while (!atomic_load(&job.started))
        sched_yield();
    pyloop_inbox_set_consumer(&inbox, 0);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert_int_eq(job.result, -ECANCELED);

    /* A consumer that takes nothing for the stall period: -ETIMEDOUT. */
    pyloop_inbox_set_consumer(&inbox, 1);
    ck_assert_int_eq(pyloop_inbox_wait_below(&inbox, 10, INT64_C(1000000)), -ETIMEDOUT);

    ck_assert_int_eq(pyloop_inbox_drain_into(&inbox, &ring), 100);
    pyloop_ring_destroy(&ring);
    pyloop_inbox_destroy(&inbox);
}
END_TEST

static Suite *queue_suite(void)
{
    Suite *suite = suite_create("queue");
    TCase *ring_case = tcase_create("ring");
    TCase *inbox_case = tcase_create("inbox");

    tcase_add_test(ring_case, test_ring_fifo_order);
    tcase_add_test(ring_case, test_ring_growth_wraparound);
    tcase_add_test(ring_case, test_ring_at_indexing);
    tcase_add_test(ring_case, test_ring_reserve);
    tcase_add_test(ring_case, test_ring_destroy_then_reuse);
    tcase_add_test(ring_case, test_ring_trim_gives_back_a_drained_burst_only);
    suite_add_tcase(suite, ring_case);

    tcase_set_timeout(inbox_case, 120);
    tcase_add_test(inbox_case, test_inbox_push_pop_order);
    tcase_add_test(inbox_case, test_inbox_drain_into_wrapped_ring);
    tcase_add_test(inbox_case, test_inbox_drain_empty_and_failure);
    tcase_add_test(inbox_case, test_inbox_stress_producers);
    tcase_add_test(inbox_case, test_inbox_wait_below_returns_when_drained_cancelled_or_stalled);
    suite_add_tcase(suite, inbox_case);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(queue_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    /* Every test here applies to every build; the line keeps each Check log
     * in one shape for .ci/summarize.py (see print_skipped in test_loop.c). */
    printf("queue: 0 skipped\n");
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
