/*
 * Assertions for the suites' hot loops (tests only).
 */
#ifndef PYLOOP_TEST_HOT_ASSERT_H
#define PYLOOP_TEST_HOT_ASSERT_H

#include <check.h>
#include <stdint.h>

/* A passing ck_assert still records its location with a write(2), which
 * dominates the million-step loops; there, compare first and call into
 * Check only to fail. Each operand is evaluated exactly once. */
#define hot_assert(condition)                                                   \
    do {                                                                        \
        if (!(condition))                                                       \
            ck_abort_msg("Assertion '%s' failed", #condition);                  \
    } while (0)
#define hot_assert_uint_eq(left, right)                                         \
    do {                                                                        \
        uintmax_t hot_left = (left), hot_right = (right);                       \
        if (hot_left != hot_right)                                              \
            ck_abort_msg("Assertion '%s == %s' failed: %ju != %ju", #left,      \
                         #right, hot_left, hot_right);                          \
    } while (0)
#define hot_assert_int_eq(left, right)                                          \
    do {                                                                        \
        intmax_t hot_left = (left), hot_right = (right);                        \
        if (hot_left != hot_right)                                              \
            ck_abort_msg("Assertion '%s == %s' failed: %jd != %jd", #left,      \
                         #right, hot_left, hot_right);                          \
    } while (0)
#define hot_assert_ptr_eq(left, right)                                          \
    do {                                                                        \
        const void *hot_left = (left), *hot_right = (right);                    \
        if (hot_left != hot_right)                                              \
            ck_abort_msg("Assertion '%s == %s' failed: %p != %p", #left,        \
                         #right, hot_left, hot_right);                          \
    } while (0)

#endif
