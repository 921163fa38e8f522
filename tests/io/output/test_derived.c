/* test_derived.c - the files related / cluster keep beside the shards (io/output/derived.c): an array
 * written is read back with its shape; derived.json lists each command's files, keeps the other
 * command's entries for the same run and drops (and removes) them for another; verify refuses a changed
 * file and an index of another run; the names a resume or --overwrite removes. */
#include "derived.h"
#include "test_util.h"

#include <errno.h>

static void set_run(ep_manifest *m, ep_shard_info *shard, const char *sha) {
    memset(shard, 0, sizeof *shard);
    snprintf(shard->name, sizeof shard->name, "shard-00000.npy.zst");
    snprintf(shard->ids_name, sizeof shard->ids_name, "shard-00000.ids.ndjson.zst");
    shard->rows = 3;
    snprintf(shard->sha256, sizeof shard->sha256, "%s", sha);
    snprintf(shard->ids_sha256, sizeof shard->ids_sha256, "%s", sha);
    m->shards = shard;
    m->n_shards = 1;
    m->records_embedded = 3;
}

int main(void) {
    char dir[256];
    if (!ep_test_mkdtemp(dir, sizeof dir, "derived")) return 1;
    ep_manifest m = {0};
    ep_shard_info shard;
    set_run(&m, &shard, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    ep_error err = {0};
    const int32_t rows[6] = {1, 2, 0, 2, 1, 0};
    const float labels_scores[3] = {0.5f, 0.25f, 1.0f};
    ep_derived_file f[2];
    void *data = NULL;
    uint64_t r = 0, c = 0;

    // written, but not listed yet: reading it says to run the command
    CHECK_OK(ep_derived_write_array(dir, &(ep_derived_array){"related-rows.npy.zst", 'i', 3, 2, rows}, &f[0], &err),
             &err);
    CHECK(ep_derived_read_array(dir, &m, "related-rows.npy.zst", 'i', &data, &r, &c, &err) == EP_ERR_IO);
    CHECK_OK(ep_derived_index_update(dir, &m, "related", "{\"k\": 2}", f, 1, &err), &err);
    CHECK_OK(ep_derived_read_array(dir, &m, "related-rows.npy.zst", 'i', &data, &r, &c, &err), &err);
    CHECK(data && r == 3 && c == 2 && memcmp(data, rows, sizeof rows) == 0);
    free(data);
    data = NULL;
    CHECK(ep_derived_read_array(dir, &m, "related-rows.npy.zst", 'f', &data, &r, &c, &err) == EP_ERR_FORMAT);

    // a second command's files join the index; the first's stay
    CHECK_OK(ep_derived_write_array(dir, &(ep_derived_array){"cluster-scores.npy.zst", 'f', 3, 0, labels_scores},
                                    &f[1], &err),
             &err);
    CHECK_OK(ep_derived_index_update(dir, &m, "cluster", "{\"k\": 2}", &f[1], 1, &err), &err);
    ep_derived_index idx;
    CHECK_OK(ep_derived_index_read(dir, &idx, &err), &err);
    CHECK(idx.n_files == 2 && ep_derived_listed(&idx, "related-rows.npy.zst") &&
          ep_derived_listed(&idx, "cluster-scores.npy.zst") && idx.n_settings == 2);
    ep_derived_index_clear(&idx);
    CHECK_OK(ep_derived_read_array(dir, &m, "cluster-scores.npy.zst", 'f', &data, &r, &c, &err), &err);
    CHECK(data && r == 3 && c == 0 && memcmp(data, labels_scores, sizeof labels_scores) == 0);
    free(data);
    data = NULL;
    CHECK_OK(ep_derived_verify(dir, &m, &err), &err);

    // a changed file is refused, by verify and by a reader
    char path[512];
    snprintf(path, sizeof path, "%s/related-rows.npy.zst", dir);
    size_t len = 0;
    uint8_t *bytes = ep_test_read_file(path, &len);
    CHECK(bytes && len > 0);
    if (bytes) {
        bytes[len - 1] ^= 1;
        ep_test_write_file(path, bytes, len);
        CHECK(ep_derived_verify(dir, &m, &err) == EP_ERR_MISMATCH && strstr(err.message, "related-rows"));
        CHECK(ep_derived_read_array(dir, &m, "related-rows.npy.zst", 'i', &data, &r, &c, &err) == EP_ERR_MISMATCH);
        bytes[len - 1] ^= 1;
        ep_test_write_file(path, bytes, len);
        free(bytes);
    }
    CHECK_OK(ep_derived_verify(dir, &m, &err), &err);

    // another run in the folder (other shards): the index is stale; a new related drops cluster's files
    set_run(&m, &shard, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    CHECK(ep_derived_verify(dir, &m, &err) == EP_ERR_MISMATCH && strstr(err.message, "other shards"));
    CHECK(ep_derived_read_array(dir, &m, "related-rows.npy.zst", 'i', &data, &r, &c, &err) == EP_ERR_MISMATCH);
    CHECK_OK(ep_derived_write_array(dir, &(ep_derived_array){"related-rows.npy.zst", 'i', 3, 2, rows}, &f[0], &err),
             &err);
    CHECK_OK(ep_derived_index_update(dir, &m, "related", "{\"k\": 2}", f, 1, &err), &err);
    CHECK_OK(ep_derived_verify(dir, &m, &err), &err);
    CHECK_OK(ep_derived_index_read(dir, &idx, &err), &err);
    CHECK(idx.n_files == 1 && !ep_derived_listed(&idx, "cluster-scores.npy.zst"));
    ep_derived_index_clear(&idx);
    snprintf(path, sizeof path, "%s/cluster-scores.npy.zst", dir);
    CHECK(access(path, F_OK) != 0 && errno == ENOENT);

    // the names a resume or --overwrite removes, and only those
    CHECK(ep_output_is_derived_file("derived.json") && ep_output_is_derived_file("related-rows.npy.zst") &&
          ep_output_is_derived_file(".cluster-report.json.tmp") && ep_output_is_derived_file("cluster-labels.npy.zst"));
    CHECK(!ep_output_is_derived_file("related-rows.npy") && !ep_output_is_derived_file("cluster-report.json.bak") &&
          !ep_output_is_derived_file(".related-rows.npy.zst") && !ep_output_is_derived_file("notes.json"));
    ep_test_rm_rf(dir);
    return ep_test_finish("test_derived");
}
