// SPDX-License-Identifier: MIT
/*
 * The USDT probes: in the binary (readelf -n lists their stapsdt notes, one
 * site per name),
 * absent from memvisor-noprobes, and firing during a real guest run under
 * bpftrace and perf where those are installed and can attach. A tool that is
 * missing or cannot attach skips the test with its reason, never fails it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MEMVISOR MV_BUILD_DIR "/memvisor"
#define NOPROBES MV_BUILD_DIR "/memvisor-noprobes"

/* a run with a few hundred faults, reclaim and swap in both directions */
#define GUEST_RUN MEMVISOR " run -q -m 16M -p 8M --fault-around 1 -s %s touch -- --passes 2"

static const char *const probe_names[] = {
	"fault_entry", "fault_exit", "install", "refault", "arm", "evict_zero", "evict_clean",
	"evict_written", "swap_submit",
	"swap_complete", "kswapd_wake", "kswapd_sleep", "direct_reclaim", "oom_kill",
};

/* Run cmd under sh with stderr joined to stdout; its exit status, or -1. */
static int sh(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	int status;

	cr_assert(f, "popen %s", cmd);
	while (n < len - 1 && fgets(out + n, (int)(len - 1 - n), f))
		n += strlen(out + n);
	out[n] = '\0';
	while (fgetc(f) != EOF)
		;
	status = pclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool have_tool(const char *name)
{
	char cmd[128], out[256];

	snprintf(cmd, sizeof(cmd), "command -v %s", name);
	return sh(cmd, out, sizeof(out)) == 0;
}

/* The names of the memvisor provider's notes in bin, one per line in out. */
static void probe_notes(const char *bin, char *out, size_t len)
{
	char cmd[512];

	if (!have_tool("readelf"))
		cr_skip_test("readelf is not installed (Debian binutils)");
	snprintf(cmd, sizeof(cmd), "readelf -n %s | grep -A1 'Provider: memvisor' | "
		 "sed -n 's/^ *Name: //p'", bin);
	cr_assert_eq(sh(cmd, out, len), 0, "%s: %s", cmd, out);
}

static int count_lines(const char *text, const char *line)
{
	size_t n = strlen(line);
	int count = 0;

	for (const char *p = text; (p = strstr(p, line)); p += n)
		count += (p == text || p[-1] == '\n') && (p[n] == '\n' || !p[n]);
	return count;
}

static void need_kvm_root(void)
{
	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("needs /dev/kvm");
	if (geteuid())
		cr_skip_test("attaching uprobes needs root");
}

Test(probes, in_binary)
{
	static char out[16384];

#ifndef MV_PROBES
	cr_skip_test("built with -Dprobes=false");
#endif
	probe_notes(MEMVISOR, out, sizeof(out));
	/* exactly one site each: perf probe adds an SDT event at its first
	 * location only, and fails on the next ("File exists") */
	for (size_t i = 0; i < sizeof(probe_names) / sizeof(probe_names[0]); i++)
		cr_expect_eq(count_lines(out, probe_names[i]), 1,
			     "stapsdt notes for memvisor:%s in %s: %d, not 1:\n%s", probe_names[i],
			     MEMVISOR, count_lines(out, probe_names[i]), out);
}

Test(probes, none_in_noprobes)
{
	static char out[16384];

#ifndef MV_PROBES
	cr_skip_test("built with -Dprobes=false: no memvisor-noprobes");
#endif
	probe_notes(NOPROBES, out, sizeof(out));
	cr_expect_str_empty(out, "memvisor-noprobes has probes:\n%s", out);
}

/* The number after "@name: " in bpftrace's output, or -1. */
static long bpftrace_map(const char *out, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "@%s: ", name);
	p = strstr(out, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

Test(probes, fire_bpftrace, .timeout = 120)
{
	char swap[] = "/tmp/mvprobes-swap-XXXXXX", run[512], cmd[2048];
	static char out[65536];
	long faults, evicts, reads;
	int fd, status;

#ifndef MV_PROBES
	cr_skip_test("built with -Dprobes=false");
#endif
	need_kvm_root();
	if (!have_tool("bpftrace"))
		cr_skip_test("bpftrace is not installed (apt-get install bpftrace)");
	fd = mkstemp(swap);
	cr_assert(fd >= 0);
	close(fd);
	unlink(swap); /* memvisor makes its swap file itself, O_EXCL */
	snprintf(run, sizeof(run), GUEST_RUN, swap);
	snprintf(cmd, sizeof(cmd), "bpftrace -e '"
		 "usdt:%s:memvisor:fault_entry { @faults = count(); } "
		 "usdt:%s:memvisor:evict_written { @evicts = count(); } "
		 "usdt:%s:memvisor:swap_submit /arg0 == 0/ { @reads = count(); }' -c '%s'",
		 MEMVISOR, MEMVISOR, MEMVISOR, run);
	status = sh(cmd, out, sizeof(out));
	if (!strstr(out, "Attaching"))
		cr_skip_test("bpftrace cannot attach here (status %d): %.300s", status, out);
	cr_assert_eq(status, 0, "%s\n%s", cmd, out);
	faults = bpftrace_map(out, "faults");
	evicts = bpftrace_map(out, "evicts");
	reads = bpftrace_map(out, "reads");
	cr_expect_gt(faults, 100, "fault_entry fired %ld times:\n%s", faults, out);
	cr_expect_gt(evicts, 0, "evict fired %ld times:\n%s", evicts, out);
	cr_expect_gt(reads, 0, "swap_submit (read) fired %ld times:\n%s", reads, out);
}

Test(probes, fire_perf, .timeout = 120)
{
	char data[] = "/tmp/mvprobes-perf-XXXXXX", swap[] = "/tmp/mvprobes-swap-XXXXXX";
	char cmd[2048], run[512];
	static char out[65536];
	int fd, n = 0;

#ifndef MV_PROBES
	cr_skip_test("built with -Dprobes=false");
#endif
	need_kvm_root();
	if (!have_tool("perf"))
		cr_skip_test("perf is not installed (apt-get install linux-perf)");
	fd = mkstemp(data);
	cr_assert(fd >= 0);
	close(fd);
	fd = mkstemp(swap);
	cr_assert(fd >= 0);
	close(fd);
	unlink(swap);
	/* perf probe finds SDT notes through its build-id cache; the event is
	 * global (one per name), so a run of another build that holds it now
	 * makes this one skip rather than take it away */
	snprintf(cmd, sizeof(cmd), "perf buildid-cache --add %s && "
		 "perf probe -q -x %s sdt_memvisor:fault_exit", MEMVISOR, MEMVISOR);
	if (sh(cmd, out, sizeof(out))) {
		unlink(data);
		cr_skip_test("perf probe cannot add sdt_memvisor:fault_exit (defined already by "
			     "another build? see perf probe -l): %.300s", out);
	}
	snprintf(run, sizeof(run), GUEST_RUN, swap);
	snprintf(cmd, sizeof(cmd), "perf record -q -o %s -e sdt_memvisor:fault_exit -- %s >/dev/null && "
		 "perf script -i %s | grep -c 'sdt_memvisor:fault_exit:'", data, run, data);
	if (!sh(cmd, out, sizeof(out)))
		n = atoi(out);
	sh("perf probe -q -d sdt_memvisor:fault_exit", cmd, sizeof(cmd));
	unlink(data);
	cr_expect_gt(n, 100, "sdt_memvisor:fault_exit recorded %d times: %s", n, out);
}

/* bench probes runs both binaries and prints their figures and ratios. */
Test(probes, bench_json, .timeout = 120)
{
	static char out[4096];
	int status;

#ifndef MV_PROBES
	cr_skip_test("built with -Dprobes=false: no memvisor-noprobes");
#endif
	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("needs /dev/kvm");
	status = sh(MEMVISOR " bench probes --runs 2 --size 4M --json 2>&1", out, sizeof(out));
	cr_assert_eq(status, 0, "%s", out);
	cr_expect(strstr(out, "\"bench\":\"probes\""), "%s", out);
	cr_expect(strstr(out, "\"kvm_backend\":"), "%s", out);
	cr_expect(strstr(out, "\"faults\":1024,"), "one page per fault: %s", out);
	cr_expect(strstr(out, "\"ratio_per_page\":") && strstr(out, "\"ratio_handler\":"), "%s", out);
}
