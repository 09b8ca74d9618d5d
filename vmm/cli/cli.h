/* SPDX-License-Identifier: MIT */
/* Subcommands. Each returns memvisor's exit status; only these print-and-exit. */
#ifndef CLI_CLI_H
#define CLI_CLI_H

int cli_cmd_run(int argc, char **argv);
int cli_cmd_guests(int argc, char **argv);
/* memvisor stat: ask a running memvisor (stat_client.c) */
int cli_cmd_stat(int argc, char **argv);
/* memvisor plot: a stats time series drawn with gnuplot (plot.c) */
int cli_cmd_plot(int argc, char **argv);
/* Hidden: the summary's counters as the Markdown table of docs/usage.md. */
int cli_cmd_counters(int argc, char **argv);

/* One line "memvisor: ..." on stderr and the usage exit status. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
