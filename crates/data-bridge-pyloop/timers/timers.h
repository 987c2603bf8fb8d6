/*
 * timers: a binary min-heap of intrusive timer nodes.
 *
 * The node lives inside whatever owns the timer (the loop's pyloop_timer, the
 * Python TimerHandle), so starting a timer allocates nothing but, at most, a
 * doubling of the heap's entry array. Each node remembers its index in the
 * heap, which makes removal of any node O(log n). Each array entry carries a
 * copy of its node's `when`, so sifting compares keys inside the array and
 * touches a node only to update its index (or on equal `when`): with 100k
 * timers the nodes are scattered in memory and every visit is a cache miss.
 *
 * Order: earlier `when` first; equal `when` in insertion order (each push
 * stamps the node with an increasing sequence number). `when` is seconds on
 * the loop's monotonic clock, as a double, exactly as asyncio stores it.
 *
 * Errors are negative errno values: -ENOMEM when the array cannot grow (the
 * heap is unchanged), -EALREADY when pushing a node already in a heap,
 * -ENOENT when removing a node that is not in this heap. No Python, no
 * syscalls, no locks: the heap belongs to one thread.
 */
#ifndef PYLOOP_TIMERS_H
#define PYLOOP_TIMERS_H

#include <stddef.h>
#include <stdint.h>

#define PYLOOP_HEAP_NOT_QUEUED ((size_t)-1)

typedef struct pyloop_heap_node {
    double when;
    uint64_t sequence;
    size_t index; /* position in the heap, PYLOOP_HEAP_NOT_QUEUED when out */
} pyloop_heap_node;

typedef struct pyloop_heap_entry {
    double when; /* == node->when; node->when does not change while queued */
    pyloop_heap_node *node;
} pyloop_heap_entry;

typedef struct pyloop_timer_heap {
    pyloop_heap_entry *entries;
    size_t count;
    size_t capacity;
    uint64_t next_sequence;
} pyloop_timer_heap;

void pyloop_heap_node_init(pyloop_heap_node *node, double when);
static inline int pyloop_heap_node_queued(const pyloop_heap_node *node)
{
    return node->index != PYLOOP_HEAP_NOT_QUEUED;
}

void pyloop_timer_heap_init(pyloop_timer_heap *heap);
/* Frees the array; nodes still queued are marked not queued, never freed. */
void pyloop_timer_heap_destroy(pyloop_timer_heap *heap);
int pyloop_timer_heap_push(pyloop_timer_heap *heap, pyloop_heap_node *node);
int pyloop_timer_heap_remove(pyloop_timer_heap *heap, pyloop_heap_node *node);
/* The earliest node, or NULL when empty. */
static inline pyloop_heap_node *pyloop_timer_heap_peek(const pyloop_timer_heap *heap)
{
    return heap->count ? heap->entries[0].node : NULL;
}
/* The node at array position `index` (< count), for walking every timer. */
static inline pyloop_heap_node *pyloop_timer_heap_at(const pyloop_timer_heap *heap, size_t index)
{
    return heap->entries[index].node;
}
/* Removes and returns the earliest node, or NULL when empty. */
pyloop_heap_node *pyloop_timer_heap_pop(pyloop_timer_heap *heap);
static inline size_t pyloop_timer_heap_count(const pyloop_timer_heap *heap) { return heap->count; }
/* Gives back what a burst of timers left unused, with the queue ring's rule:
 * while at most an eighth of the entries are in use, the array drops by
 * quarters, never below PYLOOP_HEAP_KEEP. Never fails (a failed shrink keeps
 * the array). */
#define PYLOOP_HEAP_KEEP 1024
void pyloop_timer_heap_trim(pyloop_timer_heap *heap);

#endif
