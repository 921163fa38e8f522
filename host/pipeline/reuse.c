/*
 * reuse.c - the vectors of a previous output, for nightly re-embedding: a
 * record whose id and text hash are unchanged gets its old row copied
 * instead of computed. The index (id -> row, hash) is built from the previous
 * ids files; vectors are read a shard at a time, the last two kept, which is
 * cheap when the new input keeps roughly the old order (appended dumps).
 */
#include "reuse.h"
#include "setting_names.h"

#include "manifest.h"

#include "output_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct entry {
    char *id;         /* NULL = empty slot */
    uint64_t row;
    uint64_t hash;
    bool used;
} entry;

typedef struct cached_shard {
    size_t index;     /* shard index in the manifest; SIZE_MAX = empty */
    uint16_t *rows;
    size_t n_rows;
    unsigned last_use;
} cached_shard;

struct ep_reuse {
    char dir[4096];
    ep_output_reader *out;   /* the previous folder, read through the checked reader */
    const ep_manifest *m;
    int dim;
    entry *table;     /* open addressing, power-of-two size */
    size_t mask, n_entries;
    cached_shard cache[2];
    unsigned clock;
    uint64_t reused, added, changed;
};

static size_t slot_of(const ep_reuse *r, const char *id) {
    size_t i = (size_t)XXH3_64bits(id, strlen(id)) & r->mask;
    while (r->table[i].id && strcmp(r->table[i].id, id) != 0) i = (i + 1) & r->mask;
    return i;
}

void ep_reuse_free(ep_reuse *r) {
    if (!r) return;
    if (r->table)
        for (size_t i = 0; i <= r->mask; i++) free(r->table[i].id);
    free(r->table);
    for (int c = 0; c < 2; c++) free(r->cache[c].rows);
    ep_output_close(r->out);
    free(r);
}

ep_status ep_reuse_open(const char *dir, const ep_manifest *want, ep_reuse **out, ep_error *err) {
    *out = NULL;
    ep_reuse *r = calloc(1, sizeof *r);
    if (!r) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    r->cache[0].index = r->cache[1].index = SIZE_MAX;
    ep_status st = ep_output_open(dir, &r->out, err);
    if (st != EP_OK) {
        ep_reuse_free(r);
        return ep_error_prefix(err, "%s %s", ep_setting_name(EP_SETTING_REUSE), dir);
    }
    const ep_manifest *m = r->m = ep_output_manifest(r->out);
    char why[512];
    if (ep_manifest_same_job(m, want, EP_JOB_MODEL, why, sizeof why)) {
        st = ep_error_set(err, EP_ERR_MISMATCH,
                          "%s %s: its vectors come from another model, prompt, width or %s (%s, that output's vs "
                          "this run's), so nothing can be reused",
                          ep_setting_name(EP_SETTING_REUSE), dir, ep_setting_name(EP_SETTING_MAX_SEQ_LENGTH), why);
        ep_reuse_free(r);
        return st;
    }
    r->dim = m->dim;
    size_t cap = 1024;
    while (cap < 2 * (m->records_embedded + 1)) cap *= 2;
    r->table = calloc(cap, sizeof *r->table);
    r->mask = cap - 1;
    if (!r->table) {
        ep_reuse_free(r);
        return ep_error_set(err, EP_ERR_NOMEM, "%s %s: out of memory for %llu ids",
                            ep_setting_name(EP_SETTING_REUSE), dir, (unsigned long long)m->records_embedded);
    }
    for (size_t s = 0; s < m->n_shards && st == EP_OK; s++) {
        /* Every vector file is checked now (size and SHA-256, no decompression),
         * so that a changed or swapped shard refuses the run before a row is
         * written rather than part-way; each is checked again when read. */
        st = ep_output_check_shard_files(r->out, s, EP_OUTPUT_VECTORS, err);
        ep_output_shard shard = {0};
        if (st == EP_OK) st = ep_output_read_shard(r->out, s, EP_OUTPUT_IDS, &shard, err);
        const ep_row_meta *meta = shard.meta;
        const size_t n = shard.n_rows;
        for (size_t i = 0; i < n && st == EP_OK; i++) {
            if (!meta[i].id || !*meta[i].id) continue; /* no id: cannot be matched */
            size_t k = slot_of(r, meta[i].id);
            if (r->table[k].id) continue; /* duplicate id: the first row wins */
            if (!(r->table[k].id = strdup(meta[i].id))) st = ep_error_set(err, EP_ERR_NOMEM, "out of memory");
            r->table[k].row = m->shards[s].first_row + i;
            r->table[k].hash = meta[i].text_hash;
            r->n_entries++;
        }
        ep_output_shard_free(&shard);
    }
    if (st != EP_OK) {
        ep_reuse_free(r);
        return ep_error_prefix(err, "%s %s", ep_setting_name(EP_SETTING_REUSE), dir);
    }
    *out = r;
    return EP_OK;
}

/* The cached rows of the shard holding global row `row`. */
static const uint16_t *row_vector(ep_reuse *r, uint64_t row, ep_error *err) {
    const ep_manifest *m = r->m;
    size_t lo = 0, hi = m->n_shards;
    while (hi - lo > 1) { /* the last shard whose first_row <= row */
        size_t mid = (lo + hi) / 2;
        if (m->shards[mid].first_row <= row) lo = mid;
        else hi = mid;
    }
    const ep_shard_info *s = &m->shards[lo];
    if (row < s->first_row || row >= s->first_row + s->rows) {
        ep_error_set(err, EP_ERR_FORMAT, "%s %s: row %llu is in no shard", ep_setting_name(EP_SETTING_REUSE), r->dir,
                     (unsigned long long)row);
        return NULL;
    }
    cached_shard *c = r->cache[0].index == lo ? &r->cache[0] : r->cache[1].index == lo ? &r->cache[1] : NULL;
    if (!c) {
        c = r->cache[0].last_use <= r->cache[1].last_use ? &r->cache[0] : &r->cache[1];
        free(c->rows);
        c->rows = NULL;
        c->index = SIZE_MAX;
        ep_output_shard shard;
        if (ep_output_read_shard(r->out, lo, EP_OUTPUT_VECTORS, &shard, err) != EP_OK) {
            ep_error_prefix(err, "%s %s", ep_setting_name(EP_SETTING_REUSE), r->dir);
            return NULL;
        }
        c->rows = shard.rows; /* taken over from the shard */
        c->n_rows = shard.n_rows;
        c->index = lo;
    }
    c->last_use = ++r->clock;
    return c->rows + (row - s->first_row) * (size_t)r->dim;
}

ep_status ep_reuse_lookup(ep_reuse *r, const char *id, uint64_t hash, uint16_t *out, bool *found, ep_error *err) {
    *found = false;
    if (!id || !*id) {
        r->added++;
        return EP_OK;
    }
    entry *e = &r->table[slot_of(r, id)];
    if (!e->id) {
        r->added++;
        return EP_OK;
    }
    e->used = true;
    if (e->hash != hash) {
        r->changed++;
        return EP_OK;
    }
    const uint16_t *v = row_vector(r, e->row, err);
    if (!v) return err ? err->code : EP_ERR_FORMAT;
    memcpy(out, v, sizeof(uint16_t) * (size_t)r->dim);
    r->reused++;
    *found = true;
    return EP_OK;
}

void ep_reuse_counts(const ep_reuse *r, uint64_t counts[4]) {
    uint64_t gone = 0;
    for (size_t i = 0; i <= r->mask; i++) gone += r->table[i].id && !r->table[i].used;
    counts[0] = r->reused;
    counts[1] = r->added;
    counts[2] = r->changed;
    counts[3] = gone;
}
