/*
 * 3.1.2: when idle, sleep until the next timer is due, but never more than
 * 1 ms (1 ms when there are no timers). Timers fire closer to their deadline
 * than with the fixed sleep; wakeups from other threads still wait it out.
 */
const char pyloop_wait_name[] = "adaptive";

int pyloop__wait_init(pyloop_loop *loop)
{
    (void)loop;
    return 0;
}

void pyloop__wait_free(pyloop_loop *loop)
{
    (void)loop;
}

int pyloop__wait_block(pyloop_loop *loop, int64_t timeout_ns)
{
    if (timeout_ns == 0)
        return look_at_io(loop);
    sleep_for(timeout_ns < 0 || timeout_ns > ONE_MILLISECOND_NS ? ONE_MILLISECOND_NS : timeout_ns);
    return 0;
}

void pyloop__wait_wake(pyloop_loop *loop)
{
    (void)loop;
}
