/* cli_output.c - `embedpipe inspect DIR` and `embedpipe verify DIR`: look at an output folder. */
#include "cli.h"
#include "manifest.h"

#include <stdio.h>
#include <string.h>

static int want_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    return 0;
}

int ep_cli_inspect(int argc, char **argv) {
    if (want_help(argc, argv) || argc != 2) {
        fprintf(argc == 2 ? stdout : stderr,
                "Usage: embedpipe inspect DIR\n\nPrints what DIR/manifest.json records: model, rows, shards, "
                "inputs and counts.\n");
        return argc == 2 ? EP_EXIT_OK : EP_EXIT_USAGE;
    }
    ep_error err = {0};
    ep_manifest *m = NULL;
    if (ep_manifest_read(argv[1], &m, &err) != EP_OK) return ep_cli_report(&err);
    printf("folder:     %s\n", argv[1]);
    printf("written by: embedpipe %s%s\n", m->tool_version, m->complete ? "" : " (run not complete)");
    printf("model:      %s (sha256 %.16s...), dim %d%s, %s pooling%s%s%s, max_seq_length %d\n", m->model_name,
           m->model_sha256, m->dim, m->truncate_dim ? " (truncated)" : "", m->pooling,
           m->dense_sha256[0] ? ", Dense modules" : "", m->normalized ? ", L2-normalised" : "",
           m->no_normalize_module ? " (by embedpipe: the model has no Normalize module)" : "", m->max_seq_length);
    if (m->prompt[0])
        printf("prompt:     \"%s\"%s%s%s before every text\n", m->prompt, m->prompt_name[0] ? " (the model's \"" : "",
               m->prompt_name, m->prompt_name[0] ? "\")" : "");
    printf("rows:       %llu embedded, %llu rejected, %llu read\n", (unsigned long long)m->records_embedded,
           (unsigned long long)m->records_rejected, (unsigned long long)m->records_read);
    printf("dtype:      %s\n", m->dtype);
    printf("per row:    %s%s%s%s%s\n", m->run.text ? "the text" : "no text", m->run.keep[0] ? ", --keep " : "",
           m->run.keep, m->run.clean[0] ? "; --clean " : "", m->run.clean);
    for (size_t i = 0; i < m->n_inputs; i++) printf("input:      %s (%s)\n", m->inputs[i].path, m->inputs[i].format);
    unsigned long long bytes = 0;
    for (size_t i = 0; i < m->n_shards; i++) bytes += m->shards[i].bytes;
    printf("shards:     %zu, %.1f MB\n", m->n_shards, bytes / 1e6);
    for (size_t i = 0; i < m->n_shards; i++)
        printf("  %s  rows %llu..%llu\n", m->shards[i].name, (unsigned long long)m->shards[i].first_row,
               (unsigned long long)(m->shards[i].first_row + m->shards[i].rows - 1));
    ep_manifest_free(m);
    return EP_EXIT_OK;
}

int ep_cli_verify(int argc, char **argv) {
    if (want_help(argc, argv) || argc != 2) {
        fprintf(argc == 2 ? stdout : stderr,
                "Usage: embedpipe verify DIR\n\nChecks every shard and ids file of DIR against manifest.json "
                "(SHA-256, zstd checksum, rows, width),\nerrors.ndjson against the manifest's rejected count, "
                "and that DIR holds nothing the run did not\nwrite: no other file, no symbolic link under a "
                "run file's name, no stale export (vectors.npy,\nvectors.ndjson). It needs no lock and may run "
                "beside an embed.\nExit codes: 0 all good, 3 a mismatch (named), 1 unreadable folder.\n");
        return argc == 2 ? EP_EXIT_OK : EP_EXIT_USAGE;
    }
    ep_error err = {0};
    if (ep_output_verify(argv[1], &err) != EP_OK) {
        if (err.code == EP_ERR_FORMAT) err.code = EP_ERR_MISMATCH;
        return ep_cli_report(&err);
    }
    printf("%s: ok\n", argv[1]);
    return EP_EXIT_OK;
}
