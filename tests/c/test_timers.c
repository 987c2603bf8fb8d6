/*
 * Tests for timers/: the intrusive min-heap.
 *
 * PYLOOP_TEST_SCALE (a divisor, default 1) shrinks the random-operation test
 * so that it stays practical under valgrind.
 */
#include "timers.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hot_assert.h"

#define RANDOM_OPERATIONS 1000000UL
/* Bounds the live set so the linear reference model stays cheap. */
#define MODEL_MAX_LIVE 1000
/* Few distinct deadlines, so equal `when` values meet all the time. */
#define MODEL_DISTINCT_WHENS 32

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

/* xorshift64*: fixed seeds make every failure reproducible, and unlike
 * rand() the sequence is the same on every libc. */
static uint64_t random_next(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static size_t random_below(uint64_t *state, size_t bound)
{
    return (size_t)(random_next(state) % bound);
}

static double random_unit(uint64_t *state)
{
    return (double)(random_next(state) >> 11) * 0x1.0p-53;
}

static int key_before(const pyloop_heap_node *left, const pyloop_heap_node *right)
{
    if (left->when != right->when)
        return left->when < right->when;
    return left->sequence < right->sequence;
}

static void check_heap_shape(const pyloop_timer_heap *heap)
{
    ck_assert_uint_le(heap->count, heap->capacity);
    for (size_t i = 0; i < heap->count; i++) {
        hot_assert_uint_eq(pyloop_timer_heap_at(heap, i)->index, i);
        /* The entry's copy of the key is the node's key (NaN included). */
        hot_assert(memcmp(&heap->entries[i].when, &pyloop_timer_heap_at(heap, i)->when, sizeof(double)) == 0);
        if (i > 0)
            hot_assert(!key_before(pyloop_timer_heap_at(heap, i), pyloop_timer_heap_at(heap, (i - 1) / 2)));
    }
}

static void push_ok(pyloop_timer_heap *heap, pyloop_heap_node *node)
{
    ck_assert_int_eq(pyloop_timer_heap_push(heap, node), 0);
    ck_assert(pyloop_heap_node_queued(node));
}

static void pop_expect(pyloop_timer_heap *heap, const pyloop_heap_node *expected)
{
    pyloop_heap_node *node;

    ck_assert_ptr_eq(pyloop_timer_heap_peek(heap), expected);
    node = pyloop_timer_heap_pop(heap);
    ck_assert_ptr_eq(node, expected);
    ck_assert(!pyloop_heap_node_queued(node));
}

START_TEST(test_random_whens_pop_sorted)
{
    enum { node_count = 3000 };
    static pyloop_heap_node nodes[node_count];
    pyloop_timer_heap heap;
    pyloop_heap_node *previous = NULL;
    uint64_t random_state = 0x9E3779B97F4A7C15ULL;

    pyloop_timer_heap_init(&heap);
    ck_assert_ptr_null(pyloop_timer_heap_peek(&heap));
    ck_assert_ptr_null(pyloop_timer_heap_pop(&heap));
    for (size_t i = 0; i < node_count; i++) {
        pyloop_heap_node_init(&nodes[i], random_unit(&random_state) * 1000.0);
        ck_assert(!pyloop_heap_node_queued(&nodes[i]));
        push_ok(&heap, &nodes[i]);
    }
    ck_assert_uint_eq(pyloop_timer_heap_count(&heap), node_count);
    check_heap_shape(&heap);

    for (size_t i = 0; i < node_count; i++) {
        pyloop_heap_node *peeked = pyloop_timer_heap_peek(&heap);
        pyloop_heap_node *node = pyloop_timer_heap_pop(&heap);

        ck_assert_ptr_eq(node, peeked);
        ck_assert(!pyloop_heap_node_queued(node));
        if (previous)
            ck_assert(key_before(previous, node));
        previous = node;
        ck_assert_uint_eq(pyloop_timer_heap_count(&heap), node_count - 1 - i);
    }
    ck_assert_ptr_null(pyloop_timer_heap_pop(&heap));
    pyloop_timer_heap_destroy(&heap);
}
END_TEST

START_TEST(test_equal_whens_pop_in_push_order)
{
    enum { node_count = 300, distinct_whens = 3 };
    pyloop_heap_node nodes[node_count];
    pyloop_timer_heap heap;

    pyloop_timer_heap_init(&heap);
    /* Interleave the deadlines (pushing 2, 1, 0, 2, 1, 0...) so the ties are
     * scattered through the tree rather than appended in order. */
    for (size_t i = 0; i < node_count; i++) {
        pyloop_heap_node_init(&nodes[i], (double)(distinct_whens - 1 - i % distinct_whens));
        push_ok(&heap, &nodes[i]);
        if (i > 0)
            ck_assert_uint_gt(nodes[i].sequence, nodes[i - 1].sequence);
    }
    for (size_t when = 0; when < distinct_whens; when++) {
        for (size_t i = distinct_whens - 1 - when; i < node_count; i += distinct_whens)
            pop_expect(&heap, &nodes[i]);
    }
    ck_assert_uint_eq(pyloop_timer_heap_count(&heap), 0);
    pyloop_timer_heap_destroy(&heap);
}
END_TEST

/* Pops everything and checks it comes out as the sorted `when` values of the
 * nodes not flagged in `removed` (the nodes' `when`s are 0..count-1). */
static void pop_remaining(pyloop_timer_heap *heap, pyloop_heap_node *by_when, const int *removed, size_t count)
{
    for (size_t when = 0; when < count; when++) {
        if (!removed[when])
            pop_expect(heap, &by_when[when]);
    }
    ck_assert_uint_eq(pyloop_timer_heap_count(heap), 0);
}

static void remove_ok(pyloop_timer_heap *heap, pyloop_heap_node *node, int *removed, pyloop_heap_node *by_when)
{
    size_t before = pyloop_timer_heap_count(heap);

    ck_assert_int_eq(pyloop_timer_heap_remove(heap, node), 0);
    ck_assert(!pyloop_heap_node_queued(node));
    ck_assert_uint_eq(pyloop_timer_heap_count(heap), before - 1);
    removed[node - by_when] = 1;
    check_heap_shape(heap);
}

START_TEST(test_cancel_head_middle_tail)
{
    enum { node_count = 63 };
    pyloop_heap_node nodes[node_count];
    int removed[node_count] = {0};
    pyloop_timer_heap heap;
    uint64_t random_state = 12345;
    size_t order[node_count];

    /* nodes[w] has when == w; they are pushed in a shuffled order so the
     * array positions do not mirror the deadlines. */
    for (size_t i = 0; i < node_count; i++) {
        pyloop_heap_node_init(&nodes[i], (double)i);
        order[i] = i;
    }
    for (size_t i = node_count - 1; i > 0; i--) {
        size_t other = random_below(&random_state, i + 1);
        size_t swap = order[i];

        order[i] = order[other];
        order[other] = swap;
    }
    pyloop_timer_heap_init(&heap);
    for (size_t i = 0; i < node_count; i++)
        push_ok(&heap, &nodes[order[i]]);
    check_heap_shape(&heap);

    /* By deadline: the earliest, one in the middle, the latest. */
    remove_ok(&heap, &nodes[0], removed, nodes);
    ck_assert_ptr_eq(pyloop_timer_heap_peek(&heap), &nodes[1]);
    remove_ok(&heap, &nodes[node_count / 2], removed, nodes);
    remove_ok(&heap, &nodes[node_count - 1], removed, nodes);
    /* By array position: the root, the last slot (no hole to fill), and one
     * in the middle (its replacement may need to go up or down). */
    remove_ok(&heap, pyloop_timer_heap_at(&heap, 0), removed, nodes);
    remove_ok(&heap, pyloop_timer_heap_at(&heap, heap.count - 1), removed, nodes);
    remove_ok(&heap, pyloop_timer_heap_at(&heap, heap.count / 2), removed, nodes);
    remove_ok(&heap, pyloop_timer_heap_at(&heap, heap.count / 3), removed, nodes);
    pop_remaining(&heap, nodes, removed, node_count);

    /* A hole refilled from a different subtree with a smaller deadline than
     * the hole's parent must move up: remove a leaf of the root's left
     * subtree while the last slot holds a small deadline from the right. */
    {
        pyloop_heap_node shaped[7];
        /* Pushed in this order these land at the same array index. */
        const double whens[7] = {0, 10, 1, 11, 12, 2, 3};

        for (size_t i = 0; i < 7; i++) {
            pyloop_heap_node_init(&shaped[i], whens[i]);
            push_ok(&heap, &shaped[i]);
            ck_assert_uint_eq(shaped[i].index, i);
        }
        ck_assert_int_eq(pyloop_timer_heap_remove(&heap, &shaped[4]), 0);
        check_heap_shape(&heap);
        ck_assert_int_eq(pyloop_timer_heap_remove(&heap, &shaped[1]), 0);
        check_heap_shape(&heap);
        pop_expect(&heap, &shaped[0]);
        pop_expect(&heap, &shaped[2]);
        pop_expect(&heap, &shaped[5]);
        pop_expect(&heap, &shaped[6]);
        pop_expect(&heap, &shaped[3]);
        ck_assert_ptr_null(pyloop_timer_heap_pop(&heap));
    }
    pyloop_timer_heap_destroy(&heap);
}
END_TEST

START_TEST(test_remove_not_queued)
{
    pyloop_timer_heap heap;
    pyloop_timer_heap other_heap;
    pyloop_heap_node node;
    pyloop_heap_node other_node;
    pyloop_heap_node stranger;

    pyloop_timer_heap_init(&heap);
    pyloop_timer_heap_init(&other_heap);
    pyloop_heap_node_init(&node, 1.0);
    pyloop_heap_node_init(&other_node, 2.0);
    pyloop_heap_node_init(&stranger, 3.0);

    ck_assert_int_eq(pyloop_timer_heap_remove(&heap, &node), -ENOENT);

    push_ok(&heap, &node);
    ck_assert_int_eq(pyloop_timer_heap_remove(&heap, &node), 0);
    ck_assert_int_eq(pyloop_timer_heap_remove(&heap, &node), -ENOENT);

    push_ok(&heap, &node);
    pop_expect(&heap, &node);
    ck_assert_int_eq(pyloop_timer_heap_remove(&heap, &node), -ENOENT);

    /* Queued elsewhere at an index that is valid here too. */
    push_ok(&heap, &node);
    push_ok(&other_heap, &other_node);
    ck_assert_uint_eq(other_node.index, 0);
    ck_assert_int_eq(pyloop_timer_heap_remove(&heap, &other_node), -ENOENT);
    ck_assert_int_eq(pyloop_timer_heap_remove(&other_heap, &node), -ENOENT);
    ck_assert_uint_eq(pyloop_timer_heap_count(&heap), 1);
    ck_assert_uint_eq(pyloop_timer_heap_count(&other_heap), 1);
    ck_assert_ptr_eq(pyloop_timer_heap_peek(&heap), &node);
    ck_assert_ptr_eq(pyloop_timer_heap_peek(&other_heap), &other_node);

    /* A stale or corrupt index that points at someone else's slot. */
    stranger.index = 0;
    ck_assert_int_eq(pyloop_timer_heap_remove(&heap, &stranger), -ENOENT);
    stranger.index = 1;
    ck_assert_int_eq(pyloop_timer_heap_remove(&heap, &stranger), -ENOENT);
    ck_assert_ptr_eq(pyloop_timer_heap_peek(&heap), &node);

    pyloop_timer_heap_destroy(&heap);
    pyloop_timer_heap_destroy(&other_heap);
}
END_TEST

START_TEST(test_double_push_is_rejected)
{
    pyloop_timer_heap heap;
    pyloop_timer_heap other_heap;
    pyloop_heap_node node;
    uint64_t sequence;

    pyloop_timer_heap_init(&heap);
    pyloop_timer_heap_init(&other_heap);
    pyloop_heap_node_init(&node, 5.0);
    push_ok(&heap, &node);
    sequence = node.sequence;
    ck_assert_int_eq(pyloop_timer_heap_push(&heap, &node), -EALREADY);
    ck_assert_int_eq(pyloop_timer_heap_push(&other_heap, &node), -EALREADY);
    ck_assert_uint_eq(node.sequence, sequence);
    ck_assert_uint_eq(node.index, 0);
    ck_assert_uint_eq(pyloop_timer_heap_count(&heap), 1);
    ck_assert_uint_eq(pyloop_timer_heap_count(&other_heap), 0);
    pop_expect(&heap, &node);
    pyloop_timer_heap_destroy(&heap);
    pyloop_timer_heap_destroy(&other_heap);
}
END_TEST

START_TEST(test_removed_node_can_be_pushed_again)
{
    pyloop_timer_heap heap;
    pyloop_heap_node first;
    pyloop_heap_node second;
    pyloop_heap_node third;

    pyloop_timer_heap_init(&heap);
    pyloop_heap_node_init(&first, 1.0);
    pyloop_heap_node_init(&second, 1.0);
    pyloop_heap_node_init(&third, 1.0);
    push_ok(&heap, &first);
    push_ok(&heap, &second);
    push_ok(&heap, &third);

    /* A re-pushed node is a new arrival: it queues behind its equals. */
    ck_assert_int_eq(pyloop_timer_heap_remove(&heap, &first), 0);
    push_ok(&heap, &first);
    ck_assert_uint_gt(first.sequence, third.sequence);
    pop_expect(&heap, &second);
    push_ok(&heap, &second);
    pop_expect(&heap, &third);
    pop_expect(&heap, &first);
    pop_expect(&heap, &second);

    /* And a new deadline takes effect on the way back in. */
    push_ok(&heap, &first);
    push_ok(&heap, &second);
    ck_assert_int_eq(pyloop_timer_heap_remove(&heap, &second), 0);
    second.when = 0.5;
    push_ok(&heap, &second);
    pop_expect(&heap, &second);
    pop_expect(&heap, &first);
    pyloop_timer_heap_destroy(&heap);
}
END_TEST

START_TEST(test_destroy_unqueues_nodes)
{
    enum { node_count = 100 };
    pyloop_heap_node nodes[node_count];
    pyloop_timer_heap heap;

    pyloop_timer_heap_init(&heap);
    pyloop_timer_heap_destroy(&heap);
    for (size_t i = 0; i < node_count; i++) {
        pyloop_heap_node_init(&nodes[i], (double)(node_count - i));
        push_ok(&heap, &nodes[i]);
    }
    pyloop_timer_heap_destroy(&heap);
    ck_assert_ptr_null(heap.entries);
    ck_assert_uint_eq(heap.count, 0);
    ck_assert_uint_eq(heap.capacity, 0);
    for (size_t i = 0; i < node_count; i++)
        ck_assert(!pyloop_heap_node_queued(&nodes[i]));

    /* Both the heap and the nodes are reusable afterwards. */
    for (size_t i = 0; i < node_count; i++)
        push_ok(&heap, &nodes[i]);
    for (size_t i = node_count; i-- > 0;)
        pop_expect(&heap, &nodes[i]);
    pyloop_timer_heap_destroy(&heap);
    pyloop_timer_heap_destroy(&heap);
}
END_TEST

/* The loop refuses NaN deadlines; the heap only has to survive one (no
 * ordering is promised): every node must still come out exactly once. */
START_TEST(test_nan_when_does_not_corrupt)
{
    enum { node_count = 200 };
    pyloop_heap_node nodes[node_count];
    int popped[node_count] = {0};
    pyloop_timer_heap heap;
    pyloop_heap_node *node;
    uint64_t random_state = 77;

    pyloop_timer_heap_init(&heap);
    for (size_t i = 0; i < node_count; i++) {
        pyloop_heap_node_init(&nodes[i], i % 5 ? random_unit(&random_state) : NAN);
        push_ok(&heap, &nodes[i]);
    }
    for (size_t i = 0; i < node_count; i += 7)
        ck_assert_int_eq(pyloop_timer_heap_remove(&heap, &nodes[i]), 0);
    for (size_t i = 0; i < heap.count; i++)
        ck_assert_uint_eq(pyloop_timer_heap_at(&heap, i)->index, i);
    while ((node = pyloop_timer_heap_pop(&heap))) {
        ck_assert(!pyloop_heap_node_queued(node));
        ck_assert_int_eq(popped[node - nodes], 0);
        popped[node - nodes] = 1;
    }
    for (size_t i = 0; i < node_count; i++)
        ck_assert_int_eq(popped[i], i % 7 != 0);
    pyloop_timer_heap_destroy(&heap);
}
END_TEST

/* The reference model: the live nodes in an unordered array, with the
 * sequence numbers it expects the heap to have stamped, kept on its side. */
typedef struct model {
    pyloop_heap_node nodes[MODEL_MAX_LIVE];
    uint64_t sequence[MODEL_MAX_LIVE];
    size_t live[MODEL_MAX_LIVE];        /* ids of queued nodes */
    size_t live_position[MODEL_MAX_LIVE]; /* where each id sits in `live` */
    size_t live_count;
    size_t idle[MODEL_MAX_LIVE];        /* ids of nodes not queued */
    size_t idle_count;
    uint64_t next_sequence;
} model;

static size_t model_earliest(const model *reference)
{
    size_t best = reference->live[0];

    for (size_t i = 1; i < reference->live_count; i++) {
        size_t id = reference->live[i];
        double when = reference->nodes[id].when;
        double best_when = reference->nodes[best].when;

        if (when < best_when || (when == best_when && reference->sequence[id] < reference->sequence[best]))
            best = id;
    }
    return best;
}

static void model_mark_live(model *reference, size_t id)
{
    reference->sequence[id] = reference->next_sequence++;
    reference->live_position[id] = reference->live_count;
    reference->live[reference->live_count++] = id;
}

static void model_unlink(model *reference, size_t id)
{
    size_t position = reference->live_position[id];
    size_t last = reference->live[--reference->live_count];

    reference->live[position] = last;
    reference->live_position[last] = position;
}

static void model_mark_idle(model *reference, size_t id)
{
    model_unlink(reference, id);
    reference->idle[reference->idle_count++] = id;
}

static double random_when(uint64_t *random_state)
{
    return (double)random_below(random_state, MODEL_DISTINCT_WHENS) * 0.25;
}

static void model_push(model *reference, pyloop_timer_heap *heap, size_t id)
{
    pyloop_heap_node *node = &reference->nodes[id];

    hot_assert_int_eq(pyloop_timer_heap_push(heap, node), 0);
    model_mark_live(reference, id);
    hot_assert_uint_eq(node->sequence, reference->sequence[id]);
}

START_TEST(test_random_operations_match_model)
{
    static model reference;
    pyloop_timer_heap heap;
    uint64_t random_state = 0x0123456789ABCDEFULL;
    unsigned long operations = RANDOM_OPERATIONS / test_scale();
    unsigned long phase_left = 0;
    int growing = 0;
    size_t expected_head = 0; /* the model's earliest, valid while any are live */

    reference.live_count = 0;
    reference.idle_count = 0;
    reference.next_sequence = 0;
    for (size_t id = 0; id < MODEL_MAX_LIVE; id++) {
        pyloop_heap_node_init(&reference.nodes[id], 0.0);
        reference.idle[reference.idle_count++] = id;
    }
    pyloop_timer_heap_init(&heap);

    for (unsigned long step = 0; step < operations; step++) {
        size_t roll = random_below(&random_state, 100);

        /* Alternate stretches that grow and shrink the live set, so every
         * size from empty to the cap is visited repeatedly. */
        if (phase_left == 0) {
            growing = !growing;
            phase_left = 500 + random_below(&random_state, 8000);
        }
        phase_left--;
        if (!growing)
            roll = roll < 25 ? 0 : roll < 55 ? 70 : roll < 65 ? 60 : 99;

        if (roll < 55 && reference.live_count < MODEL_MAX_LIVE) {
            /* Add: a random idle node with a fresh deadline. */
            size_t pick = random_below(&random_state, reference.idle_count);
            size_t id = reference.idle[pick];

            reference.idle[pick] = reference.idle[--reference.idle_count];
            reference.nodes[id].when = random_when(&random_state);
            model_push(&reference, &heap, id);
        } else if (roll < 70 && reference.live_count) {
            /* Reschedule: what loop.c does when a running timer restarts. */
            size_t id = reference.live[random_below(&random_state, reference.live_count)];

            hot_assert_int_eq(pyloop_timer_heap_remove(&heap, &reference.nodes[id]), 0);
            model_unlink(&reference, id);
            reference.nodes[id].when = random_when(&random_state);
            model_push(&reference, &heap, id);
        } else if (roll < 85 && reference.live_count) {
            /* Cancel any queued node. */
            size_t id = reference.live[random_below(&random_state, reference.live_count)];

            hot_assert_int_eq(pyloop_timer_heap_remove(&heap, &reference.nodes[id]), 0);
            hot_assert(!pyloop_heap_node_queued(&reference.nodes[id]));
            model_mark_idle(&reference, id);
        } else if (reference.live_count) {
            size_t id = expected_head;

            hot_assert_ptr_eq(pyloop_timer_heap_pop(&heap), &reference.nodes[id]);
            hot_assert(!pyloop_heap_node_queued(&reference.nodes[id]));
            model_mark_idle(&reference, id);
        } else {
            hot_assert_ptr_eq(pyloop_timer_heap_pop(&heap), NULL);
        }

        /* The error paths, on nodes picked at random. */
        if ((step & 15) == 0 && reference.idle_count) {
            size_t id = reference.idle[random_below(&random_state, reference.idle_count)];
            hot_assert_int_eq(pyloop_timer_heap_remove(&heap, &reference.nodes[id]), -ENOENT);
        }
        if ((step & 15) == 8 && reference.live_count) {
            size_t id = reference.live[random_below(&random_state, reference.live_count)];
            hot_assert_int_eq(pyloop_timer_heap_push(&heap, &reference.nodes[id]), -EALREADY);
            hot_assert_uint_eq(reference.nodes[id].sequence, reference.sequence[id]);
        }

        hot_assert_uint_eq(pyloop_timer_heap_count(&heap), reference.live_count);
        hot_assert_uint_eq(heap.next_sequence, reference.next_sequence);
        if (reference.live_count) {
            expected_head = model_earliest(&reference);
            hot_assert_ptr_eq(pyloop_timer_heap_peek(&heap), &reference.nodes[expected_head]);
        } else {
            hot_assert_ptr_eq(pyloop_timer_heap_peek(&heap), NULL);
        }
        if ((step & 1023) == 0)
            check_heap_shape(&heap);
    }

    check_heap_shape(&heap);
    while (reference.live_count) {
        size_t id = model_earliest(&reference);

        hot_assert_ptr_eq(pyloop_timer_heap_pop(&heap), &reference.nodes[id]);
        model_mark_idle(&reference, id);
    }
    hot_assert_ptr_eq(pyloop_timer_heap_pop(&heap), NULL);
    pyloop_timer_heap_destroy(&heap);
}
END_TEST

START_TEST(test_heap_trim_gives_back_a_drained_burst_only)
{
    static pyloop_heap_node nodes[20000];
    pyloop_timer_heap heap;
    int i;

    pyloop_timer_heap_init(&heap);
    for (i = 0; i < 20000; i++) {
        pyloop_heap_node_init(&nodes[i], (double)(20000 - i));
        ck_assert_int_eq(pyloop_timer_heap_push(&heap, &nodes[i]), 0);
    }
    pyloop_timer_heap_trim(&heap);
    ck_assert_uint_ge(heap.capacity, 20000);
    for (i = 0; i < 20000 - 10; i++)
        ck_assert_ptr_eq(pyloop_timer_heap_pop(&heap), &nodes[20000 - 1 - i]);
    pyloop_timer_heap_trim(&heap);
    ck_assert_uint_eq(heap.capacity, PYLOOP_HEAP_KEEP);
    for (i = 0; i < 10; i++) /* the rest still pops in order */
        ck_assert_ptr_eq(pyloop_timer_heap_pop(&heap), &nodes[9 - i]);
    pyloop_timer_heap_destroy(&heap);
}
END_TEST

static Suite *timers_suite(void)
{
    Suite *suite = suite_create("timers");
    TCase *heap_case = tcase_create("heap");

    tcase_set_timeout(heap_case, 120);
    tcase_add_test(heap_case, test_random_whens_pop_sorted);
    tcase_add_test(heap_case, test_equal_whens_pop_in_push_order);
    tcase_add_test(heap_case, test_cancel_head_middle_tail);
    tcase_add_test(heap_case, test_remove_not_queued);
    tcase_add_test(heap_case, test_double_push_is_rejected);
    tcase_add_test(heap_case, test_removed_node_can_be_pushed_again);
    tcase_add_test(heap_case, test_destroy_unqueues_nodes);
    tcase_add_test(heap_case, test_nan_when_does_not_corrupt);
    tcase_add_test(heap_case, test_random_operations_match_model);
    tcase_add_test(heap_case, test_heap_trim_gives_back_a_drained_burst_only);
    suite_add_tcase(suite, heap_case);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(timers_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    /* Every test here applies to every build; the line keeps each Check log
     * in one shape for .ci/summarize.py (see print_skipped in test_loop.c). */
    printf("timers: 0 skipped\n");
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
