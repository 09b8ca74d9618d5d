// SPDX-License-Identifier: MIT
/* The stat socket's requests and replies (stat_proto.h), and where the
 * sockets live. */
#include "stats.h"
#include "stat_proto.h"

#include "memvisor/time.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * $XDG_RUNTIME_DIR/memvisor if the runtime directory is there (it is the
 * user's own, 0700, by the XDG rules), or else /tmp/memvisor-UID. Either is
 * made 0700 if missing and then must be a real directory (not a link),
 * owned by the user and closed to everyone else: one someone else made for
 * us in /tmp is refused, never used.
 */
int stat_socket_dir(char *buf, size_t len, bool create)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	int n;

	if (xdg && xdg[0] == '/' && !stat(xdg, &st) && S_ISDIR(st.st_mode) &&
	    st.st_uid == geteuid())
		n = snprintf(buf, len, "%s/memvisor", xdg);
	else
		n = snprintf(buf, len, "/tmp/memvisor-%u", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (create && mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	if (lstat(buf, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != geteuid() || (st.st_mode & 077))
		return -EPERM;
	return 0;
}

static char *stat_text(const char *fmt, const char *arg, size_t *outlen)
{
	char *s = NULL;
	int n = asprintf(&s, fmt, arg);

	if (n < 0)
		return NULL;
	*outlen = (size_t)n;
	return s;
}

struct stat_maps_count {
	uint64_t present, swap;
};

static int stat_maps_pte(uint64_t *pte, gpa_t addr, void *priv)
{
	struct stat_maps_count *n = priv;
	uint64_t e = __atomic_load_n(pte, __ATOMIC_RELAXED);

	(void)addr;
	/* frames it holds: mapped, armed (unmapped to watch for a refault) or
	 * under I/O, as mm->rss counts them; swap: entries with a slot */
	n->present += ept_present(e) || gmm_ept_armed(e) || gmm_ept_wb(e);
	n->swap += gmm_ept_slot(e);
	return 0;
}

static void stat_maps_vma(const struct gmm_mm *mm, const struct gmm_vma *v, FILE *f)
{
	static const char *const kinds[] = { [GMM_VMA_RAM] = "ram", [GMM_VMA_ROM] = "rom",
					     [GMM_VMA_SYS] = "sys", [GMM_VMA_MMIO] = "mmio" };
	static const struct ept_walk_ops ops = { .pte_cb = stat_maps_pte };
	struct stat_maps_count n = { 0, 0 };

	if (v->kind == GMM_VMA_RAM && mm->pool)
		ept_walk_range(&mm->ept, v->start, v->end, &ops, &n);
	else if (v->kind == GMM_VMA_ROM || v->kind == GMM_VMA_SYS)
		n.present = (v->end - v->start) >> PAGE_SHIFT; /* memvisor's own: always there */
	fprintf(f, "%016llx-%016llx %c%c%c%c %-4s ", (unsigned long long)v->start,
		(unsigned long long)v->end, v->flags & GMM_VM_READ ? 'r' : '-',
		v->flags & GMM_VM_WRITE ? 'w' : '-', v->flags & GMM_VM_EXEC ? 'x' : '-',
		v->flags & GMM_VM_SHARED ? 's' : 'p', kinds[v->kind]);
	if (v->kind == GMM_VMA_RAM && !mm->pool)
		fputs("Rss:        - kB Swap:        - kB", f); /* the host's (--host-mm) */
	else
		fprintf(f, "Rss: %8llu kB Swap: %8llu kB", (unsigned long long)n.present * 4,
			(unsigned long long)n.swap * 4);
	fprintf(f, " %s%s\n", v->name, v->flags & GMM_VM_LOCKED ? " [locked]" : "");
}

/* Every VMA, under the mm lock: faults wait for the walk (a few ms for
 * gigabytes of RAM), the guest's vCPUs go on. */
static void stat_maps(struct vmm_guest *g, void *arg)
{
	struct gmm_mm *mm = g->mm;
	FILE *f = arg;

	fprintf(f, "# guest %s: VMAs over guest-physical space; Rss and Swap as in smaps\n",
		g->cfg.name);
	pthread_mutex_lock(&mm->lock);
	for (unsigned i = 0; i < mm->vmas.nr; i++)
		stat_maps_vma(mm, &mm->vmas.v[i], f);
	pthread_mutex_unlock(&mm->lock);
}

struct stat_walk {
	gva_t gva;
	FILE *f;
};

static void stat_translate(struct vmm_guest *g, void *arg)
{
	struct stat_walk *w = arg;

	fprintf(w->f, "# guest %s\n", g->cfg.name);
	vmm_walk_gva(g, w->gva, w->f);
}

/* "maps [GUEST]" or "translate GVA [GUEST]": words[0] is the command. */
static char *stat_reply_guest(char **words, int n, size_t *outlen)
{
	bool maps = !strcmp(words[0], "maps");
	struct stat_walk w = { 0, NULL };
	const char *name = n > (maps ? 1 : 2) ? words[maps ? 1 : 2] : NULL;
	char *buf = NULL, *end;
	int ret;

	if (n > (maps ? 2 : 3) || (!maps && n < 2))
		return stat_text("error: usage: %s\n", maps ? "maps [GUEST]" : "translate GVA [GUEST]",
				 outlen);
	if (!maps) {
		errno = 0;
		w.gva = strtoull(words[1], &end, 0);
		if (errno || end == words[1] || *end)
			return stat_text("error: bad address '%.64s': e.g. 0x8000001000\n", words[1],
					 outlen);
	}
	w.f = open_memstream(&buf, outlen);
	if (!w.f)
		return NULL;
	ret = maps ? stats_with_guest(name, stat_maps, w.f) : stats_with_guest(name, stat_translate, &w);
	if (fclose(w.f)) {
		free(buf);
		return NULL;
	}
	if (!ret)
		return buf;
	free(buf);
	return name ? stat_text("error: no guest '%.64s' is running\n", name, outlen) :
		stat_text("error: no guest is running%s\n", "", outlen);
}

char *stat_reply(const char *req, size_t len, bool too_long, size_t *outlen)
{
	char copy[STAT_REQ_MAX + 1], *words[4], *save = NULL, *w;
	int n = 0;

	if (too_long)
		return stat_text("error: request longer than %s bytes\n", "256", outlen);
	if (len > STAT_REQ_MAX || strlen(req) != len)
		return stat_text("error: %s\n", "a request is one line of text", outlen);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)req[i] < 0x20 ? req[i] != '\t' && req[i] != '\r' :
		    (unsigned char)req[i] >= 0x7f)
			return stat_text("error: %s\n", "a request is printable ASCII text", outlen);
	snprintf(copy, sizeof(copy), "%s", req);
	for (w = strtok_r(copy, " \t\r", &save); w && n < 4; w = strtok_r(NULL, " \t\r", &save))
		words[n++] = w;
	if (n == 0)
		return stat_text("error: %s\n", "empty request: stats, maps or translate", outlen);
	if (!strcmp(words[0], "stats") && n == 1)
		return stats_line_string(outlen);
	if (!strcmp(words[0], "maps") || !strcmp(words[0], "translate"))
		return stat_reply_guest(words, n, outlen);
	return stat_text("error: unknown request '%.32s': stats, maps or translate\n", words[0],
			 outlen);
}

static int stat_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* Read until EOF into a growing buffer, each wait at most until deadline. */
static int stat_read_all(int fd, uint64_t deadline, char **reply)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = mv_now_ns();

		if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000 + 1)) == 0) {
			free(buf);
			return -ETIMEDOUT;
		}
		if (len + 1 == cap) {
			nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (n < 0) {
		int e = errno;

		free(buf);
		return -e;
	}
	buf[len] = '\0';
	*reply = buf;
	return 0;
}

int stat_request(const char *path, const char *req, int timeout_ms, char **reply)
{
	uint64_t deadline = mv_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	size_t len = strlen(req);
	int fd = stat_connect(path), ret;

	if (fd < 0)
		return fd;
	if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len || send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ret = stat_read_all(fd, deadline, reply);
	close(fd);
	return ret;
}
