/* Compiles the one poller backend this system supports. */
#include "poller.h"

#ifdef HAVE_SYS_EPOLL_H
#include "poller_epoll.c"
#else
#include "poller_poll.c"
#endif
