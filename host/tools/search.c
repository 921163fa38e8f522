/* search.c - brute-force top-k over float16 shards; see search.h. */
#include "search.h"

#include "float16.h"
#include "manifest.h"
#include "output_reader.h"
#include "reader.h"
#include "shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

/* Inserts (row, score) into hits[0..*n) kept sorted best first, capacity k. */
static void keep_best(ep_search_hit *hits, int *n, int k, uint64_t row, float score) {
    if (*n == k && score <= hits[k - 1].score) return;
    int i = *n < k ? (*n)++ : k - 1;
    while (i > 0 && hits[i - 1].score < score) {
        hits[i] = hits[i - 1];
        i--;
    }
    hits[i].row = row;
    hits[i].score = score;
}

ep_status ep_search_folder(const char *dir, const float *query, int dim, int k, ep_search_hit *hits, int *n_hits,
                           ep_error *err) {
    *n_hits = 0;
    if (k < 1) return ep_error_set(err, EP_ERR_USAGE, "search: k must be at least 1");
    ep_output_reader *r = NULL;
    ep_status st = ep_output_open(dir, &r, err);
    if (st != EP_OK) return st;
    const ep_manifest *m = ep_output_manifest(r);
    if (m->dim != dim) {
        st = ep_error_set(err, EP_ERR_USAGE, "search: %s holds %d-dimensional rows, the query has %d", dir, m->dim,
                          dim);
        ep_output_close(r);
        return st;
    }
    for (size_t s = 0; s < m->n_shards && st == EP_OK; s++) {
        ep_output_shard shard;
        st = ep_output_read_shard(r, s, EP_OUTPUT_VECTORS, &shard, err);
        for (size_t row_i = 0; st == EP_OK && row_i < shard.n_rows; row_i++) {
            float dot = 0.0f;
            const uint16_t *row = shard.rows + row_i * (size_t)dim;
            for (int i = 0; i < dim; i++) dot += query[i] * ep_f16_to_f32(row[i]);
            keep_best(hits, n_hits, k, m->shards[s].first_row + row_i, dot);
        }
        ep_output_shard_free(&shard);
    }
    ep_output_close(r);
    return st;
}

/* Why the texts of input f cannot be read again, or NULL when its recorded
 * file is still there, unchanged. @return a malloc'd sentence, or NULL. */
static char *input_unusable(const ep_manifest *m, size_t f) {
    const ep_manifest_input *in = &m->inputs[f];
    char why[4608];
    struct stat sb;
    if (strcmp(in->path, "-") == 0) {
        snprintf(why, sizeof why, "input %zu was standard input, which cannot be read again", f + 1);
    } else if (!in->abs_path) {
        snprintf(why, sizeof why, "manifest.json was written by an older embedpipe that did not record where and "
                 "when input %s was read, so its texts cannot be told apart from a changed file (re-run embed to "
                 "record them)", in->path);
    } else if (stat(in->abs_path, &sb) != 0) {
        snprintf(why, sizeof why, "input %s (recorded as %s) cannot be read: %s", in->path, in->abs_path,
                 strerror(errno));
    } else if ((uint64_t)sb.st_size != in->size || (uint64_t)sb.st_mtim.tv_sec != in->mtime_sec ||
               (uint64_t)sb.st_mtim.tv_nsec != in->mtime_nsec) {
        snprintf(why, sizeof why, "input %s changed since the run (size or modification time differ from "
                 "manifest.json), so its texts may not be the ones embedded", in->abs_path);
    } else {
        return NULL;
    }
    return strdup(why);
}

/* Each wanted row's id, input and line from the ids file of its shard (checked like every shard read) into
 * ids and want, and the text stored with the row, when there is one, into texts. @return EP_OK, EP_ERR_USAGE
 * (a row in no shard), EP_ERR_NOMEM, or the shard read's error. */
static ep_status read_row_meta(ep_output_reader *r, const char *dir, const uint64_t *rows, int n, char **texts,
                               char **ids, ep_row_meta *want, ep_error *err) {
    ep_status st = EP_OK;
    for (int i = 0; i < n && st == EP_OK; i++) {
        if (ids[i]) continue;
        size_t s = ep_output_shard_of_row(r, rows[i]);
        if (s == SIZE_MAX) return ep_error_set(err, EP_ERR_USAGE, "%s: row %llu is in no shard", dir,
                                               (unsigned long long)rows[i]);
        ep_output_shard shard;
        st = ep_output_read_shard(r, s, EP_OUTPUT_IDS, &shard, err);
        for (int j = i; j < n && st == EP_OK; j++) {
            if (ids[j] || rows[j] < shard.info->first_row || rows[j] >= shard.info->first_row + shard.n_rows) continue;
            want[j] = shard.meta[rows[j] - shard.info->first_row];
            if (!(ids[j] = strdup(want[j].id ? want[j].id : ""))) st = ep_error_set(err, EP_ERR_NOMEM, "out of memory");
            // The text stored with the row (the default since run.text) needs no input at all.
            if (st == EP_OK && want[j].text && !(texts[j] = strdup(want[j].text)))
                st = ep_error_set(err, EP_ERR_NOMEM, "out of memory");
            want[j].id = want[j].text = want[j].fields = NULL; /* owned by the shard, freed below */
        }
        ep_output_shard_free(&shard);
    }
    return st;
}

/* Reads input f of the run again as the run read it, and takes the texts of the `needed` wanted rows it
 * holds: the line finds the record, the text hash proves it is the text that was embedded. A reason why some
 * were not found goes into *why unless one is there already. */
static void texts_from_input(const ep_manifest *m, size_t f, int needed, const ep_row_meta *want, int n,
                             char **texts, char **ids, char **why) {
    ep_reader_options ro = {.format = EP_FORMAT_AUTO,
                            .text_path = m->text_path[0] ? m->text_path : NULL,
                            .id_path = m->id_path[0] ? m->id_path : NULL,
                            .max_record_bytes = (size_t)m->run.max_record_bytes};
    ep_input_format_parse(m->inputs[f].format, &ro.format, NULL);
    ep_clean_parse(m->run.clean, &ro.clean, NULL); /* the text hash is the cleaned text's */
    ep_reader *rd = NULL;
    ep_error rerr = {0};
    if (ep_reader_open(m->inputs[f].abs_path, &ro, &rd, &rerr) != EP_OK) {
        if (!*why) *why = strdup(rerr.message);
        return;
    }
    int found = 0;
    for (;;) {
        ep_record rec;
        ep_read_kind kind;
        if (ep_reader_next(rd, &rec, &kind, &rerr) != EP_OK) {
            if (!*why) *why = strdup(rerr.message);
            break;
        }
        if (kind == EP_READ_END) break;
        if (kind != EP_READ_RECORD) continue;
        for (int i = 0; i < n; i++) {
            if (!ids[i] || texts[i] || want[i].file_index != f || want[i].line != rec.line) continue;
            if (XXH3_64bits(rec.text, rec.text_len) != want[i].text_hash) continue;
            texts[i] = strdup(rec.text);
            found++;
        }
        if (found == needed) break;
    }
    ep_reader_free(rd);
    if (found < needed && !*why) {
        char msg[4608];
        snprintf(msg, sizeof msg, "%d text%s not found in %s at the recorded line with the recorded hash",
                 needed - found, needed - found == 1 ? " was" : "s were", m->inputs[f].abs_path);
        *why = strdup(msg);
    }
}

ep_status ep_search_fetch_texts(const char *dir, const uint64_t *rows, int n, char **texts, char **ids, char **why,
                                ep_error *err) {
    for (int i = 0; i < n; i++) texts[i] = ids[i] = NULL;
    *why = NULL;
    ep_output_reader *r = NULL;
    ep_status st = ep_output_open(dir, &r, err);
    if (st != EP_OK) return st;
    const ep_manifest *m = ep_output_manifest(r);
    ep_row_meta *want = calloc((size_t)(n ? n : 1), sizeof *want);
    if (!want) {
        ep_output_close(r);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    }
    st = read_row_meta(r, dir, rows, n, texts, ids, want, err);
    // Texts only from the files the run itself recorded, and only while they are unchanged.
    for (size_t f = 0; f < m->n_inputs && st == EP_OK; f++) {
        int needed = 0;
        for (int i = 0; i < n; i++) needed += ids[i] && !texts[i] && want[i].file_index == f;
        if (!needed) continue;
        char *reason = input_unusable(m, f);
        if (reason) {
            if (!*why) *why = reason;
            else free(reason);
            continue;
        }
        texts_from_input(m, f, needed, want, n, texts, ids, why);
    }
    free(want);
    ep_output_close(r);
    return st;
}
