/*
 * stage_write.c - the writer thread: takes shard groups in order and, for
 * each, appends its rejections to errors.ndjson (fsynced), writes its shard
 * (temporary name, fsync, rename: never a partial shard under a final name)
 * and then replaces manifest.json atomically. The manifest is the checkpoint:
 * a run killed at any moment resumes after the last shard it names.
 */
#include "pipeline_internal.h"
#include "resume.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ep_status write_rejections(ep_pipeline *p, const ep_group *g, uint64_t *n_rejected, ep_error *err) {
    const uint64_t before = *n_rejected;
    for (size_t i = 0; i < g->n_items; i++) {
        const ep_item *it = &g->items[i];
        if (it->row >= 0) continue;
        (*n_rejected)++;
        if (!p->first_rejection[0])
            snprintf(p->first_rejection, sizeof p->first_rejection, "%s line %llu: %s",
                     p->opt->inputs[it->file_index], (unsigned long long)it->line,
                     it->reason ? it->reason : "rejected");
        if (!p->errors) continue; /* --discard */
        cJSON *o = cJSON_CreateObject();
        if (!o) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
        cJSON_AddStringToObject(o, "file", p->opt->inputs[it->file_index]);
        cJSON_AddNumberToObject(o, "line", (double)it->line);
        if (it->damage) {
            cJSON_AddNumberToObject(o, "byte", (double)it->damage_byte);
            cJSON_AddBoolToObject(o, "damaged", true);
        }
        if (it->id && *it->id) cJSON_AddStringToObject(o, "id", it->id);
        cJSON_AddStringToObject(o, "reason", it->reason ? it->reason : "rejected");
        char *line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!line) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
        size_t len = strlen(line);
        bool ok = fwrite(line, 1, len, p->errors) == len && fputc('\n', p->errors) != EOF;
        free(line);
        if (!ok) return ep_error_set(err, EP_ERR_IO, "cannot write %s: %s", p->errors_path, strerror(errno));
        p->errors_bytes += len + 1;
    }
    // Only a group that added lines needs the fsync: most groups of a clean input add none.
    if (p->errors && before != *n_rejected && (fflush(p->errors) != 0 || fsync(fileno(p->errors)) != 0))
        return ep_error_set(err, EP_ERR_IO, "cannot write %s: %s", p->errors_path, strerror(errno));
    return EP_OK;
}

static ep_status write_shard(ep_pipeline *p, const ep_group *g, ep_shard_info *info, ep_error *err) {
    ep_row_meta *meta = malloc(sizeof *meta * g->n_rows);
    if (!meta) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    size_t r = 0;
    for (size_t i = 0; i < g->n_items; i++) {
        const ep_item *it = &g->items[i];
        if (it->row < 0 || !it->mine) continue;
        meta[r++] = (ep_row_meta){.id = it->id,
                                  .file_index = it->file_index,
                                  .line = it->line,
                                  .n_tokens = it->n_tokens,
                                  .truncated = it->truncated,
                                  .text_hash = it->hash,
                                  .text = p->opt->no_text ? NULL : it->text,
                                  .fields = it->fields};
    }
    ep_shard_writer_options wo = {.dir = p->opt->out_dir,
                                  .dim = ep_model_output_dim(p->model),
                                  .rows_per_shard = p->rows_per_shard,
                                  .zstd_level = p->opt->zstd_level,
                                  .zstd_workers = p->opt->zstd_workers > 0 ? p->opt->zstd_workers : 2,
                                  .first_shard = (unsigned)g->shard,
                                  .first_row = g->first_row};
    ep_shard_writer *w = NULL;
    ep_status st = ep_shard_writer_open(&wo, &w, err);
    if (st == EP_OK) st = ep_shard_writer_append(w, g->vectors, meta, g->n_rows, err);
    if (st == EP_OK) st = ep_shard_writer_flush(w, err);
    if (st == EP_OK && ep_shard_writer_count(w) != 1)
        st = ep_error_set(err, EP_ERR_IO, "shard %llu: expected one shard file, wrote %zu",
                          (unsigned long long)g->shard, ep_shard_writer_count(w));
    if (st == EP_OK) *info = *ep_shard_writer_info(w, 0);
    ep_shard_writer_free(w);
    free(meta);
    return st;
}

void *ep_stage_write(void *arg) {
    ep_pipeline *p = arg;
    ep_error err = {0};
    ep_status st = EP_OK;
    const ep_manifest *cp = p->checkpoint;
    size_t n_shards = cp ? cp->n_shards : 0, cap = n_shards + 16;
    ep_shard_info *shards = malloc(sizeof *shards * cap);
    if (!shards) st = ep_error_set(&err, EP_ERR_NOMEM, "out of memory");
    else if (n_shards) memcpy(shards, cp->shards, sizeof *shards * n_shards);
    uint64_t rows = cp ? cp->records_embedded : 0, rejected = cp ? cp->records_rejected : 0;
    uint64_t prev_seq = p->start_seq, prev_row = p->start_row; /* the checkpoint before the current group */
    double busy = 0;
    ep_group *g;
    while ((g = ep_queue_pop(&p->to_write)) != NULL) {
        // After SIGTERM the groups still queued are dropped, like the one being computed: resume redoes them.
        if (st != EP_OK || p->failed || ep_pipeline_should_abandon(p)) {
            ep_group_free(g);
            continue;
        }
        double t0 = ep_now();
        // A damaged input is recorded with the checkpoint before this group: once the file is repaired, a
        // run goes back there and reads the rest (see ep_resume_prepare).
        for (size_t i = 0; i < g->n_items; i++) {
            const ep_item *it = &g->items[i];
            if (!it->damage) continue;
            ep_manifest_damage *d = &p->damage[it->file_index];
            *d = (ep_manifest_damage){.present = true, .byte = it->damage_byte, .line = it->line, .record = it->seq,
                                      .mtime_s = (int64_t)p->input_mtimes[it->file_index].tv_sec,
                                      .mtime_ns = (int32_t)p->input_mtimes[it->file_index].tv_nsec,
                                      .resume_shards = n_shards, .resume_next_record = prev_seq,
                                      .resume_next_row = prev_row, .resume_errors_bytes = p->errors_bytes,
                                      .resume_embedded = rows, .resume_rejected = rejected};
            memcpy(d->prefix_xxh3, it->damage_xxh3, sizeof d->prefix_xxh3);
        }
        st = write_rejections(p, g, &rejected, &err);
        if (st == EP_OK && g->n_rows > 0 && !p->opt->discard) {
            if (n_shards == cap) {
                ep_shard_info *grown = realloc(shards, sizeof *shards * (cap *= 2));
                if (!grown) st = ep_error_set(&err, EP_ERR_NOMEM, "out of memory");
                else shards = grown;
            }
            if (st == EP_OK) st = write_shard(p, g, &shards[n_shards], &err);
            if (st == EP_OK) n_shards++, p->shards_written++;
        }
        rows += g->n_rows;
        if (st == EP_OK && !p->opt->discard) {
            ep_manifest *m = NULL;
            st = ep_pipeline_manifest(p, shards, n_shards, g->next_seq, rows, rejected, g->next_row, g->last, &m,
                                      &err);
            if (st == EP_OK) st = ep_manifest_write(p->opt->out_dir, m, &err);
            ep_manifest_free(m);
        }
        prev_seq = g->next_seq;
        prev_row = g->next_row;
        busy += ep_now() - t0;
        if (st == EP_OK && g->last) p->completed = 1;
        ep_group_free(g);
        if (st != EP_OK) ep_pipeline_fail(p, &err);
    }
    free(shards);
    pthread_mutex_lock(&p->times_mu);
    p->times.write += busy;
    p->times.write_cpu += ep_thread_cpu();
    pthread_mutex_unlock(&p->times_mu);
    return NULL;
}
