/*
 * phase.h: the one place that turns a phase name into its three axes.
 *
 * Input (from the generated pyloop_config.h under Autotools, or from the
 * pyloop_config.h that bindings/python/setup.py writes, from the same choices):
 *   PYLOOP_PHASE            one of the PYLOOP_PHASE_* numbers below
 *   PYLOOP_BATCH_LIMIT_SET  optional override: 0 = no limit, N = at most N
 *   PYLOOP_WAIT_SET         optional override: one of PYLOOP_WAIT_*
 *   HAVE_SYS_EPOLL_H, HAVE_SYS_EVENTFD_H   what the system offers
 * Output, read by loop_impl only:
 *   PYLOOP_BATCH_LIMIT      0 or N
 *   PYLOOP_WAIT             PYLOOP_WAIT_SLEEP/ADAPTIVE/CONDVAR/EPOLL
 *   PYLOOP_LOCKED_CHANNEL   1 when every call_soon goes through the locked channel
 *   PYLOOP_PHASE_NAME       "baseline", "3.1.1", "3.1.2", "3.1.3", "native"
 *
 *   phase     batch        wait       call_soon path
 *   baseline  drain        sleep 1ms  locked channel
 *   3.1.1     128          sleep 1ms  locked channel
 *   3.1.2     128          adaptive   locked channel
 *   3.1.3     128          condvar    locked channel + notify
 *   native    asyncio      poller     ring (loop thread) / inbox + conditional wake
 */
#ifndef PYLOOP_PHASE_H
#define PYLOOP_PHASE_H

#include "pyloop_config.h"

#define PYLOOP_PHASE_BASELINE 0
#define PYLOOP_PHASE_3_1_1 1
#define PYLOOP_PHASE_3_1_2 2
#define PYLOOP_PHASE_3_1_3 3
#define PYLOOP_PHASE_NATIVE 4

#define PYLOOP_WAIT_SLEEP 1
#define PYLOOP_WAIT_ADAPTIVE 2
#define PYLOOP_WAIT_CONDVAR 3
#define PYLOOP_WAIT_POLLER 4

#define PYLOOP_DEFAULT_BATCH 128

#ifndef PYLOOP_PHASE
#define PYLOOP_PHASE PYLOOP_PHASE_NATIVE
#endif

#if PYLOOP_PHASE == PYLOOP_PHASE_BASELINE
#define PYLOOP_PHASE_NAME "baseline"
#define PYLOOP_PHASE_BATCH 0
#define PYLOOP_PHASE_WAIT PYLOOP_WAIT_SLEEP
#elif PYLOOP_PHASE == PYLOOP_PHASE_3_1_1
#define PYLOOP_PHASE_NAME "3.1.1"
#define PYLOOP_PHASE_BATCH PYLOOP_DEFAULT_BATCH
#define PYLOOP_PHASE_WAIT PYLOOP_WAIT_SLEEP
#elif PYLOOP_PHASE == PYLOOP_PHASE_3_1_2
#define PYLOOP_PHASE_NAME "3.1.2"
#define PYLOOP_PHASE_BATCH PYLOOP_DEFAULT_BATCH
#define PYLOOP_PHASE_WAIT PYLOOP_WAIT_ADAPTIVE
#elif PYLOOP_PHASE == PYLOOP_PHASE_3_1_3
#define PYLOOP_PHASE_NAME "3.1.3"
#define PYLOOP_PHASE_BATCH PYLOOP_DEFAULT_BATCH
#define PYLOOP_PHASE_WAIT PYLOOP_WAIT_CONDVAR
#elif PYLOOP_PHASE == PYLOOP_PHASE_NATIVE
#define PYLOOP_PHASE_NAME "native"
#define PYLOOP_PHASE_BATCH 0
#define PYLOOP_PHASE_WAIT PYLOOP_WAIT_POLLER
#else
#error "PYLOOP_PHASE must be one of PYLOOP_PHASE_BASELINE..PYLOOP_PHASE_NATIVE"
#endif

#define PYLOOP_LOCKED_CHANNEL (PYLOOP_PHASE != PYLOOP_PHASE_NATIVE)

#ifdef PYLOOP_BATCH_LIMIT_SET
#define PYLOOP_BATCH_LIMIT PYLOOP_BATCH_LIMIT_SET
#else
#define PYLOOP_BATCH_LIMIT PYLOOP_PHASE_BATCH
#endif

#ifdef PYLOOP_WAIT_SET
#define PYLOOP_WAIT PYLOOP_WAIT_SET
#else
#define PYLOOP_WAIT PYLOOP_PHASE_WAIT
#endif

#if PYLOOP_BATCH_LIMIT < 0
#error "PYLOOP_BATCH_LIMIT must be 0 (no limit) or positive"
#endif

#endif
