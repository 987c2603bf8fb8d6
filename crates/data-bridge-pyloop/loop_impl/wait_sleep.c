/*
 * baseline and 3.1.1: when idle, sleep a fixed 1 ms, whatever is coming.
 * Nothing can cut the sleep short, so wake() has nothing to do: work queued
 * from another thread waits for the sleep to end (0.5 ms on average).
 */
const char pyloop_wait_name[] = "sleep";

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
    sleep_for(ONE_MILLISECOND_NS);
    return 0;
}

void pyloop__wait_wake(pyloop_loop *loop)
{
    (void)loop;
}
