/*
 * bench_heap: push then pop N timer nodes, in ns per timer (best of 5).
 *
 * Not a test: it prints a number and asserts nothing but the pop order.
 * `make -C tests/c bench-heap` builds and runs it for 1k, 100k and 1M nodes.
 * The nodes are separate allocations with random keys, as TimerHandles are
 * scattered in the Python heap, so large N measures cache misses as well.
 */
#include "timers.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    size_t count = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000, i;
    pyloop_heap_node **nodes = calloc(count ? count : 1, sizeof(*nodes));
    uint64_t state = 12345;
    double best = -1;
    int rep, rc = 0;

    if (!nodes)
        return 1;
    for (i = 0; i < count; i++)
        if (!(nodes[i] = malloc(256)))
            return 1;
    for (rep = 0; rep < 5; rep++) {
        pyloop_timer_heap heap;
        pyloop_heap_node *node;
        double started, elapsed, last = -1.0;

        pyloop_timer_heap_init(&heap);
        started = seconds();
        for (i = 0; i < count; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            pyloop_heap_node_init(nodes[i], (double)(state >> 11));
            if (pyloop_timer_heap_push(&heap, nodes[i]) < 0)
                return 1;
        }
        while ((node = pyloop_timer_heap_pop(&heap))) {
            if (node->when < last)
                rc = 1;
            last = node->when;
        }
        elapsed = (seconds() - started) / (double)(count ? count : 1) * 1e9;
        if (best < 0 || elapsed < best)
            best = elapsed;
        pyloop_timer_heap_destroy(&heap);
    }
    printf("heap push+pop, %zu timers: %.1f ns per timer%s\n", count, best, rc ? " (ORDER BROKEN)" : "");
    for (i = 0; i < count; i++)
        free(nodes[i]);
    free(nodes);
    return rc;
}
