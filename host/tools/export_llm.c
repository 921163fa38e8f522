/*
 * export_llm.c - an output folder into an `llm` embeddings database (see export_llm.h).
 * The schema below is what llm 0.36's embeddings migrations (llm/embeddings_migrations.py, m001..m005)
 * leave, byte for byte as sqlite_utils writes it, so that llm finds its migrations applied and reads
 * the tables as its own.
 */
#include "export_llm.h"
#include "setting_names.h"

#include "float16.h"
#include "md5.h"
#include "output_reader.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef EP_HAVE_SQLITE
#include <sqlite3.h>

bool ep_export_llm_available(void) { return true; }

static const char *const kSchema =
    "CREATE TABLE IF NOT EXISTS \"_sqlite_migrations\" (\n"
    "   \"id\" INTEGER PRIMARY KEY,\n   \"migration_set\" TEXT,\n   \"name\" TEXT,\n   \"applied_at\" TEXT\n);\n"
    "CREATE UNIQUE INDEX IF NOT EXISTS \"idx__sqlite_migrations_migration_set_name\"\n"
    "    ON \"_sqlite_migrations\" (\"migration_set\", \"name\");\n"
    "CREATE TABLE IF NOT EXISTS \"collections\" (\n"
    "   \"id\" INTEGER PRIMARY KEY,\n   \"name\" TEXT,\n   \"model\" TEXT\n);\n"
    "CREATE UNIQUE INDEX IF NOT EXISTS \"idx_collections_name\"\n    ON \"collections\" (\"name\");\n"
    "CREATE TABLE IF NOT EXISTS \"embeddings\" (\n"
    "   \"collection_id\" INTEGER REFERENCES \"collections\"(\"id\"),\n   \"id\" TEXT,\n"
    "   \"embedding\" BLOB,\n   \"content\" TEXT,\n   \"content_blob\" BLOB,\n   \"content_hash\" BLOB,\n"
    "   \"metadata\" TEXT,\n   \"updated\" INTEGER,\n   PRIMARY KEY (\"collection_id\", \"id\")\n);\n"
    "CREATE INDEX IF NOT EXISTS \"idx_embeddings_content_hash\"\n    ON \"embeddings\" (\"content_hash\");\n";

/* llm's embeddings migrations, in order: all must be recorded as applied, or llm runs them again over
 * tables that already exist. */
static const char *const kMigrations[] = {"m001_create_tables", "m002_foreign_key", "m003_add_updated",
                                          "m004_store_content_hash", "m005_add_content_blob"};
enum { N_MIGRATIONS = sizeof kMigrations / sizeof kMigrations[0] };

typedef struct llm_db {
    sqlite3 *db;
    const char *path;
    sqlite3_stmt *get_hash, *put;
    int64_t collection_id;
} llm_db;

/* @return EP_ERR_IO naming the database, what was being done and SQLite's message. */
static ep_status db_error(const llm_db *d, const char *doing, ep_error *err) {
    return ep_error_set(err, EP_ERR_IO, "%s: %s: %s", d->path, doing, d->db ? sqlite3_errmsg(d->db) : "out of memory");
}

/* @return the number of rows a one-value query gives into *out (0 or 1), or -1 on an SQLite error. */
static int query_int(llm_db *d, const char *sql, const char *arg, int64_t *out) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(d->db, sql, -1, &s, NULL) != SQLITE_OK) return -1;
    if (arg) sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s), found = 0;
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(s, 0), found = 1;
    else if (rc != SQLITE_DONE) found = -1;
    sqlite3_finalize(s);
    return found;
}

/* Creates llm's tables when the database has none; when it has them, checks that llm's migrations
 * are all applied (an older llm's database would be migrated by llm itself, not by us).
 * @return EP_OK, EP_ERR_MISMATCH for an older schema, or EP_ERR_IO. */
static ep_status ensure_schema(llm_db *d, ep_error *err) {
    int64_t tables = 0, applied = 0;
    if (query_int(d, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'embeddings'", NULL,
                  &tables) < 0)
        return db_error(d, "reading the schema", err);
    if (tables) {
        if (query_int(d, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'",
                      NULL, &applied) < 0)
            return db_error(d, "reading the schema", err);
        if (applied && query_int(d, "SELECT count(*) FROM _sqlite_migrations WHERE migration_set = 'llm.embeddings'",
                                 NULL, &applied) < 0)
            return db_error(d, "reading llm's migrations", err);
        if (applied < N_MIGRATIONS)
            return ep_error_set(err, EP_ERR_MISMATCH,
                                "%s: an embeddings database of an older llm (%" PRId64 " of its %d migrations "
                                "applied); run `llm collections list -d %s` once with a current llm to update it, "
                                "then export again",
                                d->path, applied, N_MIGRATIONS, d->path);
        return EP_OK;
    }
    if (sqlite3_exec(d->db, kSchema, NULL, NULL, NULL) != SQLITE_OK) return db_error(d, "creating llm's tables", err);
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S.000000+00:00", &tm);
    for (int i = 0; i < N_MIGRATIONS; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "INSERT OR IGNORE INTO _sqlite_migrations (migration_set, name, applied_at) "
                 "VALUES ('llm.embeddings', '%s', '%s')", kMigrations[i], when);
        if (sqlite3_exec(d->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            return db_error(d, "recording llm's migrations", err);
    }
    return EP_OK;
}

/* Finds or creates the collection; refuses one made with another model (its vectors and ours are not
 * comparable). @return EP_OK and d->collection_id set, EP_ERR_MISMATCH, or EP_ERR_IO. */
static ep_status ensure_collection(llm_db *d, const char *name, const char *model_id, ep_error *err) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(d->db, "SELECT id, model FROM collections WHERE name = ?", -1, &s, NULL) != SQLITE_OK)
        return db_error(d, "reading collections", err);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *model = (const char *)sqlite3_column_text(s, 1);
        ep_status st = EP_OK;
        if (!model || strcmp(model, model_id) != 0)
            st = ep_error_set(err, EP_ERR_MISMATCH,
                              "%s: collection '%s' holds vectors of model '%s', not '%s'; export to another "
                              "%s, or delete it first (`llm collections delete %s -d %s`)",
                              d->path, name, model ? model : "(none)", model_id,
                              ep_setting_name(EP_SETTING_COLLECTION), name, d->path);
        d->collection_id = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        return st;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return db_error(d, "reading collections", err);
    if (sqlite3_prepare_v2(d->db, "INSERT INTO collections (name, model) VALUES (?, ?)", -1, &s, NULL) != SQLITE_OK)
        return db_error(d, "creating the collection", err);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, model_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return db_error(d, "creating the collection", err);
    d->collection_id = sqlite3_last_insert_rowid(d->db);
    return EP_OK;
}

/* Writes one row unless the database has it with the same content_hash.
 * @return EP_OK (*written says whether it wrote), or EP_ERR_IO. */
static ep_status put_row(llm_db *d, const char *id, const uint8_t *blob, int blob_len, const ep_row_meta *m,
                         int64_t now, bool *written, ep_error *err) {
    uint8_t hash[16];
    if (m->text) ep_md5(m->text, strlen(m->text), hash);
    else {
        char key[40];
        int n = snprintf(key, sizeof key, "embedpipe-xxh3:%016" PRIx64, m->text_hash);
        ep_md5(key, (size_t)n, hash);
    }
    sqlite3_reset(d->get_hash);
    sqlite3_bind_int64(d->get_hash, 1, d->collection_id);
    sqlite3_bind_text(d->get_hash, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(d->get_hash);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(d->get_hash, 0) == 16 &&
        memcmp(sqlite3_column_blob(d->get_hash, 0), hash, 16) == 0) {
        *written = false;
        return EP_OK;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_error(d, "reading a row", err);
    sqlite3_stmt *p = d->put;
    sqlite3_reset(p);
    sqlite3_bind_int64(p, 1, d->collection_id);
    sqlite3_bind_text(p, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(p, 3, blob, blob_len, SQLITE_STATIC);
    if (m->text) sqlite3_bind_text(p, 4, m->text, -1, SQLITE_STATIC);
    else sqlite3_bind_null(p, 4);
    sqlite3_bind_blob(p, 5, hash, 16, SQLITE_TRANSIENT);
    if (m->fields) sqlite3_bind_text(p, 6, m->fields, -1, SQLITE_STATIC);
    else sqlite3_bind_null(p, 6);
    sqlite3_bind_int64(p, 7, now);
    if (sqlite3_step(p) != SQLITE_DONE) return db_error(d, "writing a row", err);
    *written = true;
    return EP_OK;
}

/* Writes every row of every shard of the folder r. @return EP_OK or the first error. */
static ep_status write_rows(llm_db *d, ep_output_reader *r, ep_export_llm_summary *sum, ep_error *err) {
    const ep_manifest *m = ep_output_manifest(r);
    const size_t dim = (size_t)m->dim;
    uint8_t *blob = malloc(4 * dim);
    if (!blob) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    int64_t now = (int64_t)time(NULL);
    ep_status st = EP_OK;
    for (size_t i = 0; i < m->n_shards && st == EP_OK; i++) {
        ep_output_shard s = {0};
        st = ep_output_read_shard(r, i, EP_OUTPUT_VECTORS | EP_OUTPUT_IDS, &s, err);
        for (size_t row = 0; st == EP_OK && row < s.n_rows; row++) {
            for (size_t k = 0; k < dim; k++) { /* little-endian float32, whatever this machine's order */
                union { float f; uint32_t u; } v = {.f = ep_f16_to_f32(s.rows[row * dim + k])};
                for (int b = 0; b < 4; b++) blob[4 * k + (size_t)b] = (uint8_t)(v.u >> (8 * b));
            }
            const ep_row_meta *meta = &s.meta[row];
            char fallback[4352];
            const char *id = meta->id;
            if (!id || !*id) {
                const char *input = meta->file_index < m->n_inputs ? m->inputs[meta->file_index].path : "?";
                snprintf(fallback, sizeof fallback, "%s:%" PRIu64, input, meta->line);
                id = fallback;
            }
            bool written = false;
            st = put_row(d, id, blob, (int)(4 * dim), meta, now, &written, err);
            if (st == EP_OK) {
                sum->rows++;
                if (written) sum->written++;
                else sum->unchanged++;
            }
        }
        ep_output_shard_free(&s);
    }
    free(blob);
    return st;
}

ep_status ep_export_llm(const char *dir, const ep_export_llm_options *o, ep_export_llm_summary *sum, ep_error *err) {
    if (!o || !o->db_path || !*o->db_path || !o->collection || !*o->collection || !sum)
        return ep_error_set(err, EP_ERR_USAGE, "export %s llm needs %s FILE and %s NAME",
                            ep_setting_name(EP_SETTING_EXPORT_TO),
                            ep_setting_name(EP_SETTING_DB), ep_setting_name(EP_SETTING_COLLECTION));
    memset(sum, 0, sizeof *sum);
    ep_output_reader *r = NULL;
    ep_status st = ep_output_open(dir, &r, err);
    if (st != EP_OK) return st;
    const ep_manifest *m = ep_output_manifest(r);
    sum->complete = m->complete && m->run.part_count <= 1;
    if (o->model_id && *o->model_id) snprintf(sum->model_id, sizeof sum->model_id, "%s", o->model_id);
    else snprintf(sum->model_id, sizeof sum->model_id, "embedpipe/%s", m->model_name);
    llm_db d = {.path = o->db_path};
    if (sqlite3_open_v2(o->db_path, &d.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        st = db_error(&d, "opening", err);
    if (st == EP_OK) sqlite3_busy_timeout(d.db, 10000);
    if (st == EP_OK && sqlite3_exec(d.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        st = db_error(&d, "starting a transaction", err);
    if (st == EP_OK) st = ensure_schema(&d, err);
    if (st == EP_OK) st = ensure_collection(&d, o->collection, sum->model_id, err);
    if (st == EP_OK &&
        (sqlite3_prepare_v2(d.db, "SELECT content_hash FROM embeddings WHERE collection_id = ? AND id = ?", -1,
                            &d.get_hash, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(d.db,
                            "INSERT OR REPLACE INTO embeddings (collection_id, id, embedding, content, content_blob, "
                            "content_hash, metadata, updated) VALUES (?, ?, ?, ?, NULL, ?, ?, ?)",
                            -1, &d.put, NULL) != SQLITE_OK))
        st = db_error(&d, "preparing statements", err);
    if (st == EP_OK) st = write_rows(&d, r, sum, err);
    sqlite3_finalize(d.get_hash);
    sqlite3_finalize(d.put);
    if (st == EP_OK && sqlite3_exec(d.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        st = db_error(&d, "committing", err);
    if (st != EP_OK && d.db) sqlite3_exec(d.db, "ROLLBACK", NULL, NULL, NULL);
    if (d.db && sqlite3_close(d.db) != SQLITE_OK && st == EP_OK) st = db_error(&d, "closing", err);
    ep_output_close(r);
    return st;
}

#else /* no SQLite in this build */

bool ep_export_llm_available(void) { return false; }

ep_status ep_export_llm(const char *dir, const ep_export_llm_options *o, ep_export_llm_summary *sum, ep_error *err) {
    (void)dir, (void)o, (void)sum;
    return ep_error_set(err, EP_ERR_USAGE, "export %s llm: this embedpipe was built without SQLite; install "
                                           "libsqlite3-dev (scripts/deps.sh) and build again",
                        ep_setting_name(EP_SETTING_EXPORT_TO));
}

#endif
