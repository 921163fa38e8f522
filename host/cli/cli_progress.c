/* cli_progress.c - what `embed` and `bench` show of a run while it runs: the
 * pipeline hands its events (ep_run_options.on_event) here, and only here are
 * they turned into text on stderr (redrawn on a terminal, a plain line every
 * 10 s, one JSON object per line, or nothing with --quiet). */
#include "cli.h"
#include "pipeline.h"

#include <stdio.h>
#include <unistd.h>

static void print_progress(const ep_cli_progress *pr, const ep_run_event *ev) {
    const double el = ev->elapsed_s, frac = ev->fraction, eta = ev->eta_s;
    if (pr->mode == EP_PROGRESS_JSON) {
        fprintf(stderr,
                "{\"elapsed_s\": %.1f, \"records\": %llu, \"rows\": %llu, \"rejected\": %llu, \"tokens\": %llu, "
                "\"records_per_s\": %.1f, \"tokens_per_s\": %.1f, \"fraction\": %.4f, \"eta_s\": %.1f, \"done\": %s}\n",
                el, (unsigned long long)ev->records, (unsigned long long)ev->rows, (unsigned long long)ev->rejected,
                (unsigned long long)ev->tokens, ev->rows / el, ev->tokens / el, frac < 0 ? 0.0 : frac, eta,
                ev->done ? "true" : "false");
    } else {
        char eta_s[64] = "";
        if (eta >= 0) snprintf(eta_s, sizeof eta_s, ", %.0f%%, ETA %.0f s", 100.0 * frac, eta);
        fprintf(stderr, "%s%llu records, %llu embedded, %llu rejected | %.0f records/s, %.0f tokens/s%s%s",
                pr->tty ? "\r\033[K" : "", (unsigned long long)ev->records, (unsigned long long)ev->rows,
                (unsigned long long)ev->rejected, ev->rows / el, ev->tokens / el, eta_s,
                pr->tty && !ev->done ? "" : "\n");
    }
    fflush(stderr);
}

/* The ep_run_event_fn of the CLI: user is the ep_cli_progress. */
static void on_event(const ep_run_event *ev, void *user) {
    const ep_cli_progress *pr = user;
    const bool showing_progress = !pr->quiet && pr->mode != EP_PROGRESS_NONE;
    switch (ev->kind) {
    case EP_EVENT_PROGRESS:
        if (showing_progress) print_progress(pr, ev);
        break;
    case EP_EVENT_STOPPING:
        if (!showing_progress) break;
        if (ev->abandon)
            fprintf(stderr, "%sembedpipe: stopping now (SIGTERM): the shard in progress is dropped and computed "
                            "again on resume\n", pr->tty ? "\n" : "");
        else
            fprintf(stderr, "%sembedpipe: stopping after the current shard (press Ctrl-C again to stop at once; "
                            "the folder stays resumable)\n", pr->tty ? "\n" : "");
        break;
    case EP_EVENT_NOTICE:
        if (!pr->quiet) fprintf(stderr, "embedpipe: %s\n", ev->message);
        break;
    case EP_EVENT_WARNING:
        if (!pr->quiet) fprintf(stderr, "embedpipe: warning: %s\n", ev->message);
        break;
    case EP_EVENT_DEVICE_FALLBACK: /* a setup to fix: said even with --quiet */
        fprintf(stderr, "embedpipe: warning: --device auto: %s\n", ev->message);
        break;
    }
}

void ep_cli_progress_attach(ep_cli_progress *pr, struct ep_run_options *o) {
    pr->tty = !pr->quiet && pr->mode == EP_PROGRESS_AUTO && isatty(STDERR_FILENO);
    o->on_event = on_event;
    o->event_user = pr;
    o->progress_interval_s = pr->tty ? 0.5 : 10.0; /* redrawn in place twice a second; a log line every 10 s */
}
