/*
 * 3.1.2: when idle, sleep until the next timer is due, but never more than
 * 1 ms (1 ms when there are no timers). Timers fire closer to their deadline
 * than with the fixed sleep; wakeups from other threads still wait it out.
 */
const char pyloop_wait_name[] = "adaptive";

int pyloop_wait_init(pyloop_loop *loop)
{
    (void)loop;
    return 0;
}

void pyloop_wait_free(pyloop_loop *loop)
{
    (void)loop;
}

int pyloop_wait_block(pyloop_loop *loop, int64_t timeout_ns)
{
    int events = poll_io_now(loop);

    if (events != 0 || timeout_ns == 0)
        return events < 0 ? events : 0;
    sleep_idle(loop, timeout_ns < 0 || timeout_ns > ONE_MILLISECOND_NS ? ONE_MILLISECOND_NS : timeout_ns);
    return 0;
}

void pyloop_wait_wake(pyloop_loop *loop)
{
    (void)loop;
}
