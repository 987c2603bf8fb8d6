/*
 * timers: see timers.h for the contract.
 *
 * The sift functions move a hole instead of swapping pairs: each displaced
 * entry is written once and its node's index updated once, and the moving
 * entry is stored only at its final position.
 */
#include "timers.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define PYLOOP_HEAP_FIRST_CAPACITY 16

void pyloop_heap_node_init(pyloop_heap_node *node, double when)
{
    node->when = when;
    node->sequence = 0;
    node->index = PYLOOP_HEAP_NOT_QUEUED;
}

void pyloop_timer_heap_init(pyloop_timer_heap *heap)
{
    heap->entries = NULL;
    heap->count = 0;
    heap->capacity = 0;
    heap->next_sequence = 0;
}

void pyloop_timer_heap_destroy(pyloop_timer_heap *heap)
{
    size_t i;

    /* The nodes belong to their timers, which may outlive the heap and must
     * not believe they are still scheduled in freed memory. */
    for (i = 0; i < heap->count; i++)
        heap->entries[i].node->index = PYLOOP_HEAP_NOT_QUEUED;
    free(heap->entries);
    pyloop_timer_heap_init(heap);
}

/* Written with two strict comparisons so that a NaN `when` (which the loop
 * rejects, but a direct caller might not) falls through to the sequence and
 * still yields a consistent answer instead of corrupting the heap walk. Only
 * equal keys read the nodes. */
static inline int entry_before(const pyloop_heap_entry *left, const pyloop_heap_entry *right)
{
    if (left->when < right->when)
        return 1;
    if (right->when < left->when)
        return 0;
    return left->node->sequence < right->node->sequence;
}

static inline void place(pyloop_timer_heap *heap, size_t index, pyloop_heap_entry entry)
{
    heap->entries[index] = entry;
    entry.node->index = index;
}

static void sift_up(pyloop_timer_heap *heap, size_t index, pyloop_heap_entry entry)
{
    while (index > 0) {
        size_t parent = (index - 1) / 2;

        if (!entry_before(&entry, &heap->entries[parent]))
            break;
        place(heap, index, heap->entries[parent]);
        index = parent;
    }
    place(heap, index, entry);
}

/* The child of `index` that sorts first, or 0 (never a child) at a leaf. */
static inline size_t first_child(const pyloop_timer_heap *heap, size_t index)
{
    size_t child = 2 * index + 1;

    if (child >= heap->count)
        return 0;
    if (child + 1 < heap->count && entry_before(&heap->entries[child + 1], &heap->entries[child]))
        child++;
    return child;
}

static void sift_down(pyloop_timer_heap *heap, size_t index, pyloop_heap_entry entry)
{
    size_t child;

    while ((child = first_child(heap, index)) && entry_before(&heap->entries[child], &entry)) {
        place(heap, index, heap->entries[child]);
        index = child;
    }
    place(heap, index, entry);
}

/* Refills the root after a pop (Floyd): the hole walks down along the smaller
 * children to a leaf, one comparison per level, then `entry` (the old last
 * entry, which usually belongs near the bottom) climbs back up from there,
 * typically a step or two. Half the comparisons of sift_down from the root. */
static void refill_root(pyloop_timer_heap *heap, pyloop_heap_entry entry)
{
    size_t index = 0, child;

    while ((child = first_child(heap, index))) {
        place(heap, index, heap->entries[child]);
        index = child;
    }
    sift_up(heap, index, entry);
}

static int heap_grow(pyloop_timer_heap *heap)
{
    size_t capacity = heap->capacity ? heap->capacity : PYLOOP_HEAP_FIRST_CAPACITY / 2;
    pyloop_heap_entry *entries;

    /* Arrays beyond PTRDIFF_MAX bytes break pointer arithmetic; the check
     * also keeps the doubling below from overflowing. */
    if (capacity > (size_t)PTRDIFF_MAX / 2 / sizeof(*entries))
        return -ENOMEM;
    capacity *= 2;
    /* realloc keeps the old array intact when it fails, which is what lets a
     * failed push leave the heap exactly as it was. */
    entries = realloc(heap->entries, capacity * sizeof(*entries));
    if (!entries)
        return -ENOMEM;
    heap->entries = entries;
    heap->capacity = capacity;
    return 0;
}

void pyloop_timer_heap_trim(pyloop_timer_heap *heap)
{
    size_t capacity = heap->capacity;
    pyloop_heap_entry *entries;

    while (capacity > PYLOOP_HEAP_KEEP && heap->count <= capacity / 8)
        capacity = capacity / 4 > PYLOOP_HEAP_KEEP ? capacity / 4 : PYLOOP_HEAP_KEEP;
    if (capacity == heap->capacity)
        return;
    entries = realloc(heap->entries, capacity * sizeof(*entries));
    if (!entries)
        return;
    heap->entries = entries;
    heap->capacity = capacity;
}

int pyloop_timer_heap_push(pyloop_timer_heap *heap, pyloop_heap_node *node)
{
    if (pyloop_heap_node_queued(node))
        return -EALREADY;
    if (heap->count == heap->capacity) {
        int rc = heap_grow(heap);
        if (rc)
            return rc;
    }
    node->sequence = heap->next_sequence++;
    heap->count++;
    sift_up(heap, heap->count - 1, (pyloop_heap_entry){node->when, node});
    return 0;
}

int pyloop_timer_heap_remove(pyloop_timer_heap *heap, pyloop_heap_node *node)
{
    size_t index = node->index;
    pyloop_heap_entry last;

    /* The identity check also rejects a node queued in a different heap
     * whose index happens to be in range here. */
    if (index >= heap->count || heap->entries[index].node != node)
        return -ENOENT;
    last = heap->entries[--heap->count];
    node->index = PYLOOP_HEAP_NOT_QUEUED;
    if (last.node == node)
        return 0;
    /* The node that fills the hole came from another subtree, so it may
     * belong above the hole as well as below it. */
    if (index > 0 && entry_before(&last, &heap->entries[(index - 1) / 2]))
        sift_up(heap, index, last);
    else
        sift_down(heap, index, last);
    return 0;
}

pyloop_heap_node *pyloop_timer_heap_pop(pyloop_timer_heap *heap)
{
    pyloop_heap_node *first;

    if (!heap->count)
        return NULL;
    first = heap->entries[0].node;
    if (--heap->count)
        refill_root(heap, heap->entries[heap->count]);
    first->index = PYLOOP_HEAP_NOT_QUEUED;
    return first;
}
