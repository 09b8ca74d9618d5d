// SPDX-License-Identifier: MIT
/*
 * memvisor stat [PATH|PID]: ask a running memvisor over its stat socket
 * (stat_server.c) for its counters, once or every interval as vmstat does,
 * for a guest's VMAs (--maps) or for a walk of a guest address (--translate).
 */
#include "cli.h"
#include "parse.h"
#include "stat_client.h"
#include "stat_json.h"
#include "stat_proto.h"
#include "stats.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char stat_usage[] =
	"usage: memvisor stat [options] [PATH|PID]\n"
	"  PATH|PID                a memvisor's stat socket, or its PID (default: the only\n"
	"                          memvisor of yours that is running)\n"
	"  -i, --interval DURATION a row every DURATION (1, 500ms...) as 'vmstat 1' does, with\n"
	"                          rates over the interval; default: one row, rates since the start\n"
	"  -n, --count N           stop after N rows\n"
	"  -g, --guests            a row per guest rather than one for the whole run\n"
	"      --guest NAME        only this guest (rows, --maps, --translate)\n"
	"      --json              the raw stats line (JSON, as --stats writes) instead of rows\n"
	"      --maps              a guest's VMAs, as /proc/PID/maps, with Rss and Swap\n"
	"      --translate GVA     walk GVA through the guest's page tables and the EPT table\n"
	"                          (as memvisor run --walk); with --maps or --translate,\n"
	"                          -g NAME names the guest\n"
	"  -h, --help              this text\n"
	"Exit status: 0, 1 if the memvisor cannot be reached or refused the request, 2 usage error.\n";

enum { OPT_GUEST = 0x100, OPT_JSON, OPT_MAPS, OPT_TRANSLATE };

static const struct option stat_longopts[] = {
	{ "interval", required_argument, NULL, 'i' },
	{ "count", required_argument, NULL, 'n' },
	{ "guests", no_argument, NULL, 'g' },
	{ "guest", required_argument, NULL, OPT_GUEST },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "maps", no_argument, NULL, OPT_MAPS },
	{ "translate", required_argument, NULL, OPT_TRANSLATE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* -g takes NAME when the request is about one guest: look ahead for it. */
static bool stat_one_guest(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--maps") || !strncmp(argv[i], "--translate", 11))
			return true;
	return false;
}

static int stat_parse_opt(int c, const char *arg, struct stat_opts *o)
{
	uint64_t v;

	switch (c) {
	case 'i':
		if (cli_parse_duration_in(arg, 10000000ULL, 86400ULL * 1000000000ULL, &v))
			return cli_usage_error("bad --interval '%s': a duration from 10ms to a day, "
					       "e.g. 1 or 500ms", arg);
		o->interval_ns = v;
		return 0;
	case 'n':
		if (cli_parse_uint(arg, 1, UINT32_MAX, &v))
			return cli_usage_error("bad --count '%s': a number of rows from 1", arg);
		o->count = v;
		return 0;
	case 'g':
		if (arg)
			o->guest = arg;
		else
			o->per_guest = true;
		return 0;
	case OPT_GUEST:
		o->guest = arg;
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case OPT_MAPS:
		o->maps = true;
		return 0;
	case OPT_TRANSLATE:
		o->translate = arg;
		return 0;
	}
	return cli_usage_error("unknown option '%s' (see 'memvisor stat --help')", arg ? arg : "");
}

static int stat_parse(int argc, char **argv, struct stat_opts *o)
{
	const char *opts = stat_one_guest(argc, argv) ? ":i:n:g:h" : ":i:n:gh";
	int c, ret;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, opts, stat_longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(stat_usage, stdout);
			exit(0);
		}
		if (c == ':')
			return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
		if (c == '?')
			return cli_usage_error("unknown option '%s' (see 'memvisor stat --help')",
					       argv[optind - 1]);
		ret = stat_parse_opt(c, optarg, o);
		if (ret)
			return ret;
	}
	if (optind + 1 < argc)
		return cli_usage_error("unexpected argument '%s': one PATH or PID", argv[optind + 1]);
	o->target = optind < argc ? argv[optind] : NULL;
	if (o->maps && o->translate)
		return cli_usage_error("--maps and --translate: one at a time");
	if ((o->maps || o->translate) && (o->interval_ns || o->count || o->json || o->per_guest))
		return cli_usage_error("--maps and --translate answer once: no -i, -n, -g or --json");
	return 0;
}

/* The only live socket in the sockets' directory. */
static int stat_find_only(char *path, size_t len)
{
	char dir[256], found[256] = "", pids[256] = "";
	unsigned n = 0;
	struct dirent *e;
	DIR *d;

	if (stat_socket_dir(dir, sizeof(dir), false) || !(d = opendir(dir))) {
		fprintf(stderr, "memvisor: no running memvisor of yours has a stat socket (%s is "
			"not there): give its PID or socket path\n", dir);
		return 1;
	}
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (end == e->d_name || strcmp(end, ".sock") || pid <= 0 ||
		    (kill((pid_t)pid, 0) && errno == ESRCH))
			continue; /* not one, or left by a memvisor that was killed */
		snprintf(found, sizeof(found), "%s", e->d_name);
		snprintf(pids + strlen(pids), sizeof(pids) - strlen(pids), "%s%ld", n ? ", " : "", pid);
		n++;
	}
	closedir(d);
	if (n != 1) {
		fprintf(stderr, n ? "memvisor: several memvisors are running (PIDs %s): give one\n" :
			"memvisor: no running memvisor of yours has a stat socket in %s%s\n", dir, pids);
		return 1;
	}
	snprintf(path, len, "%s/%s", dir, found);
	return 0;
}

static int stat_target(const char *target, char *path, size_t len)
{
	char dir[256];

	if (!target)
		return stat_find_only(path, len);
	if (target[0] && strspn(target, "0123456789") == strlen(target)) {
		if (stat_socket_dir(dir, sizeof(dir), false))
			snprintf(dir, sizeof(dir), "/tmp/memvisor-%u", (unsigned)geteuid());
		snprintf(path, len, "%s/%s.sock", dir, target);
		return 0;
	}
	snprintf(path, len, "%s", target);
	return 0;
}

/* One request; its reply in *reply. 0, or 1 with a line. */
int stat_ask(const char *path, const char *req, char **reply)
{
	int ret = stat_request(path, req, 5000, reply);
	const char *why;

	if (!ret && !strncmp(*reply, "error: ", 7)) {
		fprintf(stderr, "memvisor: %s%s", *reply + 7,
			(*reply)[strlen(*reply) - 1] == '\n' ? "" : "\n");
		free(*reply);
		return 1;
	}
	if (!ret)
		return 0;
	why = ret == -ENOENT ? "no such socket: is memvisor running (and without --no-stat-socket)?" :
	      ret == -EACCES ? "permission denied: it is another user's" :
	      ret == -ECONNREFUSED ? "nobody listens there (a memvisor that was killed left it)" :
	      ret == -ETIMEDOUT ? "no answer within 5 s" : strerror(-ret);
	fprintf(stderr, "memvisor: %s: %s\n", path, why);
	return 1;
}

static int stat_once(const char *path, const char *req)
{
	char *reply;

	if (stat_ask(path, req, &reply))
		return 1;
	fputs(reply, stdout);
	free(reply);
	return 0;
}

int cli_cmd_stat(int argc, char **argv)
{
	struct stat_opts o = { .target = NULL };
	char path[4096], req[STAT_REQ_MAX + 1];
	int ret = stat_parse(argc, argv, &o);

	if (ret)
		return ret;
	if (stat_target(o.target, path, sizeof(path)))
		return 1;
	if (o.maps || o.translate) {
		if (o.maps)
			snprintf(req, sizeof(req), "maps%s%.64s", o.guest ? " " : "",
				 o.guest ? o.guest : "");
		else
			snprintf(req, sizeof(req), "translate %.64s%s%.64s", o.translate,
				 o.guest ? " " : "", o.guest ? o.guest : "");
		return stat_once(path, req);
	}
	return stat_rows(path, &o);
}
