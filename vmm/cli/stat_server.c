// SPDX-License-Identifier: MIT
/*
 * The stat socket: a Unix stream socket that 'memvisor stat' asks for the
 * run's counters, a guest's VMAs or a walk of one of its addresses. One
 * request line per connection, one reply, then the server closes it.
 *
 * Who may connect: the socket is made 0600 (under a umask of 077, so it is
 * never more open, not even for a moment) in a directory only its owner can
 * enter, and each connection's peer is checked with SO_PEERCRED: a process
 * of another user (root aside) is told no and closed even if the modes were
 * opened up. The path appears only once the socket listens, so a client
 * that finds it is never refused.
 *
 * A client can never hold the run up: the server is a thread of its own
 * that only polls non-blocking sockets, a request is at most STAT_REQ_MAX
 * bytes, every connection has STAT_CLIENT_MS to send its request and take
 * its reply, and at most STAT_MAX_CLIENTS are served at once (a new one
 * takes the place of the longest idle). Anything that is not a request gets one "error:" line.
 */
#include "stats.h"
#include "stat_proto.h"

#include "memvisor/time.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define STAT_MAX_CLIENTS 8
#define STAT_CLIENT_MS   2000

struct stat_client {
	int fd;                     /* -1: a free entry */
	char in[STAT_REQ_MAX + 1];
	size_t inlen;
	char *out;                  /* the reply, once there is one */
	size_t outlen, outoff;
	uint64_t deadline;
};

static struct {
	int lfd, wake[2];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool bound;
	pthread_t thread;
	bool have_thread;
	struct stat_client c[STAT_MAX_CLIENTS];
} srv = { .lfd = -1, .wake = { -1, -1 } };

const char *stat_server_path(void)
{
	return srv.bound ? srv.path : NULL;
}

/* Someone listens at path: a live memvisor (true), or a socket left by one
 * that was killed (false). */
static bool stat_server_alive(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return true;
	alive = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno != ECONNREFUSED;
	close(fd);
	return alive;
}

static int stat_server_bind(const struct sockaddr_un *sa)
{
	mode_t old = umask(077); /* before any other thread exists: see cli_watch_open */
	int ret = bind(srv.lfd, (const struct sockaddr *)sa, sizeof(*sa));
	int e = errno;

	umask(old);
	errno = e;
	return ret;
}

/* The path is taken by a socket a killed memvisor of ours left: it may go. */
static bool stat_server_stale(const struct sockaddr_un *sa)
{
	struct stat st;

	return !lstat(sa->sun_path, &st) && S_ISSOCK(st.st_mode) && st.st_uid == geteuid() &&
	       !stat_server_alive(sa);
}

/* Bind, taking the place of a socket a killed memvisor left: 0 or -errno. */
static int stat_server_bind_path(const struct sockaddr_un *sa)
{
	if (!stat_server_bind(sa))
		return 0;
	if (errno != EADDRINUSE)
		return -errno;
	if (!stat_server_stale(sa))
		return -EADDRINUSE;
	unlink(sa->sun_path);
	return stat_server_bind(sa) ? -errno : 0;
}

/*
 * Listen at sa. A client that finds the path must be able to connect, so
 * the socket is bound and listening under a temporary name beside it and
 * only then linked to its path (link, unlike rename, never replaces a live
 * memvisor's socket). Where the temporary name would not fit, bind the
 * path itself: a client may then be refused for the moment until listen.
 */
static int stat_server_listen(const struct sockaddr_un *sa)
{
	struct sockaddr_un tmp = *sa;
	int ret;

	if ((size_t)snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.new", sa->sun_path) >=
	    sizeof(tmp.sun_path)) {
		ret = stat_server_bind_path(sa);
		if (!ret && (chmod(sa->sun_path, 0600) || listen(srv.lfd, STAT_MAX_CLIENTS))) {
			ret = -errno;
			unlink(sa->sun_path);
		}
		return ret;
	}
	ret = stat_server_bind_path(&tmp);
	if (ret)
		return ret == -EADDRINUSE ? -EEXIST : ret; /* the temporary name is taken */
	if (chmod(tmp.sun_path, 0600) || listen(srv.lfd, STAT_MAX_CLIENTS) ||
	    (link(tmp.sun_path, sa->sun_path) &&
	     (errno != EEXIST || !stat_server_stale(sa) || unlink(sa->sun_path) ||
	      link(tmp.sun_path, sa->sun_path)))) {
		ret = errno == EEXIST ? -EADDRINUSE : -errno;
		unlink(tmp.sun_path);
		return ret;
	}
	unlink(tmp.sun_path);
	return 0;
}

/* A socket the user asked for is an error; the default one only a warning
 * (the run goes on without it): nobody asked for it. */
static bool stat_server_explicit;

static int stat_server_refuse(const char *path, const char *why)
{
	if (!stat_server_explicit) {
		fprintf(stderr, "memvisor: warning: no stat socket (%s: %s): 'memvisor stat' cannot "
			"see this run\n", path, why);
		return 0;
	}
	fprintf(stderr, "memvisor: cannot listen on the stat socket %s: %s (give another with "
		"--stat-socket PATH, or --no-stat-socket)\n", path, why);
	return -1;
}

static int stat_server_default(char *path, size_t len)
{
	char dir[sizeof(srv.path)];
	int ret = stat_socket_dir(dir, sizeof(dir), true);

	if (ret) {
		snprintf(path, len, "%s", dir);
		return ret;
	}
	if ((size_t)snprintf(path, len, "%s/%d.sock", dir, (int)getpid()) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int stat_server_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ret;

	stat_server_explicit = path;
	if (!path) {
		ret = stat_server_default(sa.sun_path, sizeof(sa.sun_path));
		if (ret)
			return stat_server_refuse(sa.sun_path[0] ? sa.sun_path : "(default)",
						  strerror(-ret));
	} else if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >=
		   sizeof(sa.sun_path)) {
		return stat_server_refuse(path, "the path is too long for a Unix socket");
	}
	srv.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv.lfd < 0)
		return stat_server_refuse(sa.sun_path, strerror(errno));
	ret = stat_server_listen(&sa);
	if (ret) {
		close(srv.lfd);
		srv.lfd = -1;
		return stat_server_refuse(sa.sun_path, ret == -EADDRINUSE ?
					  "another memvisor listens there" : ret == -EEXIST ?
					  "its temporary name (PATH.new) is taken by a file that is not a "
					  "socket of yours" : strerror(-ret));
	}
	memcpy(srv.path, sa.sun_path, sizeof(srv.path));
	srv.bound = true;
	return 0;
}

/* Another user's process: one line, then closed (the modes keep it out
 * already; this holds if someone opened them up). Root may: it can read
 * memvisor's memory anyway. */
static bool stat_server_peer_ok(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	static const char no[] = "error: this memvisor belongs to another user\n";

	if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) && (cred.uid == geteuid() || cred.uid == 0))
		return true;
	if (send(fd, no, sizeof(no) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* nothing more to do: it is closed either way */
	}
	return false;
}

static void stat_client_drop(struct stat_client *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
}

/* A free entry; when all are taken, the one that has waited longest without
 * asking anything gives way, so idle connections cannot keep others out. */
static struct stat_client *stat_server_slot(void)
{
	struct stat_client *idle = NULL;

	for (unsigned i = 0; i < STAT_MAX_CLIENTS; i++) {
		struct stat_client *c = &srv.c[i];

		if (c->fd < 0)
			return c;
		if (!c->out && (!idle || c->deadline < idle->deadline))
			idle = c;
	}
	if (idle)
		stat_client_drop(idle);
	return idle;
}

static void stat_server_accept(void)
{
	int fd = accept4(srv.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct stat_client *c;

	if (fd < 0)
		return;
	if (!stat_server_peer_ok(fd)) {
		close(fd);
		return;
	}
	c = stat_server_slot();
	if (!c) {
		close(fd); /* every one is being answered: it may ask again */
		return;
	}
	*c = (struct stat_client){ .fd = fd, .deadline = mv_now_ns() + STAT_CLIENT_MS * 1000000ULL };
}

/* Read what there is; answer once the request line is whole. */
static void stat_client_read(struct stat_client *c)
{
	ssize_t n = recv(c->fd, c->in + c->inlen, STAT_REQ_MAX - c->inlen, 0);
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* the client is gone, or ended its request without a newline */
		if (n < 0 || !c->inlen) {
			stat_client_drop(c);
			return;
		}
	} else {
		c->inlen += (size_t)n;
	}
	c->in[c->inlen] = '\0';
	nl = memchr(c->in, '\n', c->inlen);
	if (!nl && n > 0 && c->inlen < STAT_REQ_MAX)
		return;
	if (nl)
		*nl = '\0';
	c->out = stat_reply(c->in, nl ? (size_t)(nl - c->in) : c->inlen,
			    !nl && c->inlen == STAT_REQ_MAX, &c->outlen);
	if (!c->out)
		stat_client_drop(c);
}

static void stat_client_write(struct stat_client *c)
{
	ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
			 MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		stat_client_drop(c);
		return;
	}
	c->outoff += (size_t)n;
	if (c->outoff == c->outlen)
		stat_client_drop(c);
}

static unsigned stat_server_fds(struct pollfd *pfd, int *idx)
{
	unsigned n = 2;

	pfd[0] = (struct pollfd){ .fd = srv.wake[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = srv.lfd, .events = POLLIN };
	for (unsigned i = 0; i < STAT_MAX_CLIENTS; i++) {
		struct stat_client *c = &srv.c[i];

		if (c->fd < 0)
			continue;
		if (mv_now_ns() > c->deadline) {
			stat_client_drop(c); /* too slow, or never asked */
			continue;
		}
		idx[n] = (int)i;
		pfd[n++] = (struct pollfd){ .fd = c->fd, .events = c->out ? POLLOUT : POLLIN };
	}
	return n;
}

static void *stat_server_thread(void *arg)
{
	struct pollfd pfd[2 + STAT_MAX_CLIENTS];
	int idx[2 + STAT_MAX_CLIENTS];

	(void)arg;
	for (;;) {
		unsigned n = stat_server_fds(pfd, idx);

		if (poll(pfd, n, 100) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		for (unsigned i = 2; i < n; i++) {
			struct stat_client *c = &srv.c[idx[i]];

			if (!pfd[i].revents)
				continue;
			if (c->out)
				stat_client_write(c);
			else
				stat_client_read(c);
		}
		if (pfd[1].revents & POLLIN)
			stat_server_accept();
	}
	return NULL;
}

void stat_server_start(void)
{
	if (srv.lfd < 0 || srv.have_thread)
		return;
	for (unsigned i = 0; i < STAT_MAX_CLIENTS; i++)
		srv.c[i].fd = -1;
	if (pipe2(srv.wake, O_CLOEXEC | O_NONBLOCK))
		return;
	srv.have_thread = !pthread_create(&srv.thread, NULL, stat_server_thread, NULL);
	if (!srv.have_thread)
		fprintf(stderr, "memvisor: no thread for the stat socket: 'memvisor stat' will not "
			"answer\n");
}

void stat_server_close(void)
{
	if (srv.have_thread) {
		if (write(srv.wake[1], "x", 1) < 0) {
			/* the pipe is empty and ours: this cannot fail */
		}
		pthread_join(srv.thread, NULL);
		srv.have_thread = false;
		for (unsigned i = 0; i < STAT_MAX_CLIENTS; i++)
			if (srv.c[i].fd >= 0)
				stat_client_drop(&srv.c[i]);
	}
	for (int i = 0; i < 2; i++)
		if (srv.wake[i] >= 0) {
			close(srv.wake[i]);
			srv.wake[i] = -1;
		}
	if (srv.lfd >= 0) {
		close(srv.lfd);
		srv.lfd = -1;
	}
	if (srv.bound)
		unlink(srv.path);
	srv.bound = false;
}
