/* test_manifest.c - manifest.json: write/read round trip (64-bit counts up to
 * 2^53 exact, odd strings), atomic replacement, and strict reading: every
 * field missing, ill-typed or out of range is refused with a message naming it. */
#include "manifest.h"
#include "sha256.h"
#include "test_shard_util.h"
#include "test_util.h"

#include <cjson/cJSON.h>
#include <dirent.h>

static char g_dir[512];

static void fill(ep_manifest *m, ep_manifest_input *inputs, ep_shard_info *shards) {
    memset(m, 0, sizeof *m);
    snprintf(m->tool_version, sizeof m->tool_version, "%s", EP_VERSION_STRING);
    snprintf(m->model_name, sizeof m->model_name, "all-MiniLM-L6-v2 \"quoted\" \xc3\xa9");
    ep_sha256_hex("model", 5, m->model_sha256);
    m->dim = 384;
    snprintf(m->dtype, sizeof m->dtype, "float16");
    snprintf(m->pooling, sizeof m->pooling, "mean");
    m->normalized = true;
    m->max_seq_length = 256;
    snprintf(m->text_path, sizeof m->text_path, "tweet.full_text");
    m->id_path[0] = '\0';
    static char *paths[3] = {"data/a.ndjson", "/abs/tweets.js", "we\\ird \"na\nme\" \xf0\x9f\x98\x80.zst"};
    static const char *formats[3] = {"ndjson", "tweets-js", "lines"};
    memset(inputs, 0, 3 * sizeof *inputs);
    /* The first input as a run records it for `search`; the others as older manifests have them. */
    static char abs0[] = "/work/data/a.ndjson";
    inputs[0].abs_path = abs0;
    inputs[0].mtime_sec = 1767225600;
    inputs[0].mtime_nsec = 999999999;
    // Input 1 was found damaged: its "damage" object round-trips; the others have none.
    inputs[1].damage = (ep_manifest_damage){.present = true, .byte = 123456789012ull, .line = 77, .record = 4242,
                                            .prefix_xxh3 = "0123456789abcdef", .mtime_s = 1764633600,
                                            .mtime_ns = 999999999, .resume_shards = 2, .resume_next_record = 4000,
                                            .resume_next_row = 3900, .resume_errors_bytes = 5555,
                                            .resume_embedded = 3900, .resume_rejected = 100};
    m->run.skip_blank = true;
    for (int i = 0; i < 3; i++) {
        inputs[i].path = paths[i];
        snprintf(inputs[i].format, sizeof inputs[i].format, "%s", formats[i]);
        inputs[i].size = i == 2 ? (1ull << 53) : (uint64_t)i * 1000003;
    }
    m->run.shard_rows = 32768;
    m->run.part_index = 2;
    m->run.part_count = 5;
    snprintf(m->run.format, sizeof m->run.format, "auto");
    m->run.max_record_bytes = 1 << 20;
    m->run.next_record = (1ull << 53) - 7;
    m->run.next_row = (1ull << 40) + 32769;
    m->run.errors_bytes = 987654321987ull;
    m->inputs = inputs;
    m->n_inputs = 3;
    const uint64_t rows[3] = {32768, (1ull << 40) + 1, 1};
    uint64_t first = 0;
    for (unsigned i = 0; i < 3; i++) {
        ep_shard_info *s = &shards[i];
        memset(s, 0, sizeof *s);
        snprintf(s->name, sizeof s->name, "shard-%05u.npy.zst", i);
        snprintf(s->ids_name, sizeof s->ids_name, "shard-%05u.ids.ndjson.zst", i);
        s->rows = rows[i];
        s->first_row = first;
        first += rows[i];
        s->bytes = (1ull << 53) - i; /* the largest exact values */
        ep_sha256_hex(s->name, strlen(s->name), s->sha256);
        ep_sha256_hex(s->ids_name, strlen(s->ids_name), s->ids_sha256);
    }
    m->shards = shards;
    m->n_shards = 3;
    m->records_read = 1ull << 53;
    m->records_embedded = first;
    m->records_rejected = 12345678901ull;
    m->complete = true;
}

static void round_trip(void) {
    ep_manifest m;
    ep_manifest_input inputs[3];
    ep_shard_info shards[3];
    fill(&m, inputs, shards);
    ep_error err = {0};
    CHECK_OK(ep_manifest_write(g_dir, &m, &err), &err);
    ep_manifest *r = NULL;
    CHECK_OK(ep_manifest_read(g_dir, &r, &err), &err);
    if (!r) return;
    CHECK(strcmp(r->tool_version, m.tool_version) == 0);
    CHECK(strcmp(r->model_name, m.model_name) == 0);
    CHECK(strcmp(r->model_sha256, m.model_sha256) == 0);
    CHECK(r->dim == m.dim && r->max_seq_length == m.max_seq_length && r->normalized == m.normalized);
    CHECK(strcmp(r->dtype, "float16") == 0 && strcmp(r->pooling, "mean") == 0);
    CHECK(strcmp(r->text_path, m.text_path) == 0 && strcmp(r->id_path, m.id_path) == 0);
    CHECK(r->n_inputs == 3);
    for (size_t i = 0; i < 3 && i < r->n_inputs; i++) {
        CHECKF(strcmp(r->inputs[i].path, inputs[i].path) == 0, "inputs[%zu].path", i);
        CHECK(strcmp(r->inputs[i].format, inputs[i].format) == 0);
        CHECKF(r->inputs[i].size == inputs[i].size, "inputs[%zu].size", i);
        CHECKF(inputs[i].abs_path ? r->inputs[i].abs_path && strcmp(r->inputs[i].abs_path, inputs[i].abs_path) == 0
                                  : r->inputs[i].abs_path == NULL, "inputs[%zu].abs_path", i);
        CHECKF(r->inputs[i].mtime_sec == inputs[i].mtime_sec && r->inputs[i].mtime_nsec == inputs[i].mtime_nsec,
               "inputs[%zu].mtime", i);
        CHECKF((r->inputs[i].damage.present == inputs[i].damage.present &&
                    r->inputs[i].damage.byte == inputs[i].damage.byte &&
                    r->inputs[i].damage.line == inputs[i].damage.line &&
                    r->inputs[i].damage.record == inputs[i].damage.record &&
                    strcmp(r->inputs[i].damage.prefix_xxh3, inputs[i].damage.prefix_xxh3) == 0 &&
                    r->inputs[i].damage.mtime_s == inputs[i].damage.mtime_s &&
                    r->inputs[i].damage.mtime_ns == inputs[i].damage.mtime_ns &&
                    r->inputs[i].damage.resume_shards == inputs[i].damage.resume_shards &&
                    r->inputs[i].damage.resume_next_record == inputs[i].damage.resume_next_record &&
                    r->inputs[i].damage.resume_next_row == inputs[i].damage.resume_next_row &&
                    r->inputs[i].damage.resume_errors_bytes == inputs[i].damage.resume_errors_bytes &&
                    r->inputs[i].damage.resume_embedded == inputs[i].damage.resume_embedded &&
                    r->inputs[i].damage.resume_rejected == inputs[i].damage.resume_rejected),
               "inputs[%zu].damage", i);
    }
    CHECK(r->n_inputs == 3 && r->inputs[1].damage.present && !r->inputs[0].damage.present && r->run.skip_blank);
    CHECK(r->run.shard_rows == m.run.shard_rows && r->run.part_index == m.run.part_index &&
          r->run.part_count == m.run.part_count && strcmp(r->run.format, m.run.format) == 0 &&
          r->run.max_record_bytes == m.run.max_record_bytes && r->run.next_record == m.run.next_record &&
          r->run.next_row == m.run.next_row && r->run.errors_bytes == m.run.errors_bytes);
    CHECK(r->n_shards == 3);
    for (size_t i = 0; i < 3 && i < r->n_shards; i++) {
        const ep_shard_info *a = &shards[i], *b = &r->shards[i];
        CHECK(strcmp(a->name, b->name) == 0 && strcmp(a->ids_name, b->ids_name) == 0);
        CHECKF(a->rows == b->rows && a->first_row == b->first_row && a->bytes == b->bytes,
               "shards[%zu] counts: %llu %llu %llu", i, (unsigned long long)b->rows,
               (unsigned long long)b->first_row, (unsigned long long)b->bytes);
        CHECK(strcmp(a->sha256, b->sha256) == 0 && strcmp(a->ids_sha256, b->ids_sha256) == 0);
    }
    CHECK(r->records_read == m.records_read && r->records_embedded == m.records_embedded &&
          r->records_rejected == m.records_rejected && r->complete);
    ep_manifest_free(r);
    ep_manifest_free(NULL);

    /* Readable text: keys in the documented order, exact integers, one trailing newline. */
    char path[1024];
    snprintf(path, sizeof path, "%s/manifest.json", g_dir);
    size_t len;
    char *text = (char *)ep_test_read_file(path, &len);
    CHECK(text && len > 0 && text[len - 1] == '\n');
    if (text) {
        text = realloc(text, len + 1);
        text[len] = '\0';
        static const char *order[] = {"\"format\"", "\"format_version\"", "\"tool\"", "\"model\"", "\"dtype\"",
                                      "\"text_path\"", "\"id_path\"", "\"inputs\"", "\"shards\"", "\"counts\"",
                                      "\"complete\"", "\"errors_file\""};
        const char *prev = text;
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
            const char *at = strstr(text, order[i]);
            CHECKF(at && at >= prev, "key %s out of order", order[i]);
            if (at) prev = at;
        }
        CHECK(strstr(text, "9007199254740992") != NULL); /* 2^53, not 9.007e+15 */
        CHECK(strstr(text, "1099511627777") != NULL);
        free(text);
    }
    /* No temporary file is left beside it. */
    DIR *d = opendir(g_dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) CHECKF(strstr(e->d_name, ".tmp") == NULL, "left over: %s", e->d_name);
    if (d) closedir(d);

    /* Writing refuses what could not be read back. */
    m.records_read = (1ull << 53) + 1;
    CHECK(ep_manifest_write(g_dir, &m, &err) == EP_ERR_USAGE);
    m.records_read = 1;
    m.model_sha256[0] = 'X';
    CHECK(ep_manifest_write(g_dir, &m, &err) == EP_ERR_USAGE);
    CHECKF(strstr(err.message, "model_sha256") != NULL, "%s", err.message);
    ep_sha256_hex("model", 5, m.model_sha256);
    shards[1].rows = 0;
    CHECK(ep_manifest_write(g_dir, &m, &err) == EP_ERR_USAGE);
    shards[1].rows = 1;
    snprintf(shards[2].name, sizeof shards[2].name, "../evil.npy.zst");
    CHECK(ep_manifest_write(g_dir, &m, &err) == EP_ERR_USAGE);
    CHECK(ep_manifest_write("/nonexistent-folder-for-ep-test", &m, &err) != EP_OK);
}

/* Reads the manifest that round_trip wrote as a cJSON tree. */
static cJSON *load_good(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/good.json", g_dir);
    size_t len;
    char *text = (char *)ep_test_read_file(path, &len);
    cJSON *j = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    return j;
}

/* @return the parent of the field at a dotted path like "shards[1].rows", and its key (or index). */
static cJSON *locate(cJSON *root, const char *field, char *key, int *index) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", field);
    cJSON *node = root;
    char *p = buf;
    *index = -1;
    for (;;) {
        char *dot = strchr(p, '.');
        if (dot) *dot = '\0';
        char *br = strchr(p, '[');
        int idx = -1;
        if (br) {
            idx = atoi(br + 1);
            *br = '\0';
        }
        if (!dot && idx < 0) {
            snprintf(key, 64, "%s", p);
            return node;
        }
        node = cJSON_GetObjectItemCaseSensitive(node, p);
        if (idx >= 0) {
            if (!dot) {
                snprintf(key, 64, "%s", p);
                *index = idx;
                return node;
            }
            node = cJSON_GetArrayItem(node, idx);
        }
        p = dot + 1;
    }
}

static void expect_refused(cJSON *j, const char *what, const char *needle, ep_status want) {
    char *text = cJSON_Print(j);
    char path[1024];
    snprintf(path, sizeof path, "%s/manifest.json", g_dir);
    CHECK(ep_test_write_file(path, text, strlen(text)) == 0);
    cJSON_free(text);
    ep_manifest *m = NULL;
    ep_error err = {0};
    ep_status st = ep_manifest_read(g_dir, &m, &err);
    CHECKF(st == want && m == NULL, "%s: status %d, expected %d", what, (int)st, (int)want);
    if (getenv("EP_TEST_VERBOSE")) printf("%-40s -> %s\n", what, err.message);
    CHECKF(strstr(err.message, needle) != NULL, "%s: message lacks %s: %s", what, needle, err.message);
    CHECKF(strstr(err.message, "manifest.json") != NULL, "%s: message lacks the file: %s", what, err.message);
    ep_manifest_free(m);
}

static void field_errors(void) {
    /* Keep the good manifest aside; each case edits a fresh copy of it. */
    char path[1024], good[1024];
    snprintf(path, sizeof path, "%s/manifest.json", g_dir);
    snprintf(good, sizeof good, "%s/good.json", g_dir);
    size_t len;
    uint8_t *text = ep_test_read_file(path, &len);
    CHECK(text && ep_test_write_file(good, text, len) == 0);
    free(text);

    static const char *fields[] = {
        "format", "format_version", "tool", "tool.name", "tool.version", "model", "model.name", "model.sha256",
        "model.dim", "model.pooling", "model.normalized", "model.max_seq_length", "dtype", "text_path", "id_path",
        "inputs", "inputs[1].path", "inputs[1].format", "shards", "shards[1].file", "shards[1].ids_file",
        "shards[1].rows", "shards[1].first_row", "shards[1].bytes", "shards[1].sha256", "shards[1].ids_sha256",
        "counts", "counts.read", "counts.embedded", "counts.rejected", "complete", "errors_file",
        "inputs[1].size", "run", "run.shard_rows", "run.part_index", "run.part_count", "run.format",
        "run.max_record_bytes", "run.next_record", "run.next_row", "run.errors_bytes",
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        char quoted[160], key[64], what[200];
        int index;
        snprintf(quoted, sizeof quoted, "\"%s\"", fields[i]);
        /* Missing. */
        cJSON *j = load_good();
        cJSON *parent = locate(j, fields[i], key, &index);
        CHECKF(cJSON_GetObjectItemCaseSensitive(parent, key) != NULL, "test bug: %s not found", fields[i]);
        cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
        snprintf(what, sizeof what, "missing %s", fields[i]);
        expect_refused(j, what, quoted, EP_ERR_FORMAT);
        cJSON_Delete(j);
        /* Wrong type: a string where something else is expected, else a number. */
        j = load_good();
        parent = locate(j, fields[i], key, &index);
        const cJSON *old = cJSON_GetObjectItemCaseSensitive(parent, key);
        cJSON *wrong = cJSON_IsString(old) ? cJSON_CreateNumber(7) : cJSON_CreateString("7");
        cJSON_ReplaceItemInObjectCaseSensitive(parent, key, wrong);
        snprintf(what, sizeof what, "ill-typed %s", fields[i]);
        expect_refused(j, what, quoted, EP_ERR_FORMAT);
        cJSON_Delete(j);
        /* Repeated. */
        j = load_good();
        parent = locate(j, fields[i], key, &index);
        cJSON_AddItemToObject(parent, key, cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(parent, key), 1));
        snprintf(what, sizeof what, "repeated %s", fields[i]);
        expect_refused(j, what, "twice", EP_ERR_FORMAT);
        cJSON_Delete(j);
    }

    /* Right type, wrong value. */
    static const struct {
        const char *field;
        const char *json; /* replacement value */
        const char *needle;
    } values[] = {
        {"format", "\"something-else\"", "\"format\""},
        {"format_version", "2", "newer"},
        {"format_version", "1.5", "\"format_version\""},
        {"tool.name", "\"other\"", "\"tool.name\""},
        {"model.sha256", "\"ABCDEF\"", "\"model.sha256\""},
        {"model.dim", "0", "\"model.dim\""},
        {"model.dim", "-384", "\"model.dim\""},
        {"model.dim", "384.5", "\"model.dim\""},
        {"model.pooling", "\"median\"", "\"model.pooling\""},
        {"model.pooling", "\"mean+\"", "\"model.pooling\""},
        {"model.max_seq_length", "0", "\"model.max_seq_length\""},
        {"dtype", "\"float32\"", "\"dtype\""},
        {"inputs[1]", "\"a.ndjson\"", "\"inputs[1]\""},
        {"inputs[1].format", "\"" "0123456789012345678901234567890123456789" "\"", "\"inputs[1].format\""},
        {"shards[1]", "[]", "\"shards[1]\""},
        {"shards[1].file", "\"../../etc/passwd\"", "\"shards[1].file\""},
        {"shards[1].ids_file", "\"shard-00002.ids.ndjson.zst\"", "\"shards[1].file\""},
        {"shards[1].rows", "0", "\"shards[1].rows\""},
        {"shards[1].rows", "9007199254740994", "\"shards[1].rows\""},
        {"shards[1].bytes", "-1", "\"shards[1].bytes\""},
        {"shards[1].sha256", "\"00\"", "\"shards[1].sha256\""},
        {"counts.read", "1e300", "\"counts.read\""},
        {"counts.embedded", "true", "\"counts.embedded\""},
        {"complete", "\"yes\"", "\"complete\""},
        {"errors_file", "\"other.ndjson\"", "\"errors_file\""},
        {"run.part_count", "0", "\"run.part_count\""},
        {"run.part_index", "5", "\"run.part_index\""},
        {"inputs[1].size", "-5", "\"inputs[1].size\""},
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char key[64], what[200];
        int index;
        cJSON *j = load_good();
        cJSON *parent = locate(j, values[i].field, key, &index);
        cJSON *v = cJSON_Parse(values[i].json);
        if (index >= 0) cJSON_ReplaceItemInArray(parent, index, v);
        else cJSON_ReplaceItemInObjectCaseSensitive(parent, key, v);
        snprintf(what, sizeof what, "%s = %s", values[i].field, values[i].json);
        expect_refused(j, what, values[i].needle, EP_ERR_FORMAT);
        cJSON_Delete(j);
    }

    /* Not JSON, not an object, trailing text, empty, absent. */
    static const struct {
        const char *text;
        const char *needle;
    } files[] = {{"{\"format\": ", "not valid JSON"}, {"[]", "not a JSON object"}, {"", "not valid JSON"},
                 {"{} {}", "after the JSON"}, {"\n\n{\"format\": \"embedpipe-output\",\n 5}", "line 4"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        CHECK(ep_test_write_file(path, files[i].text, strlen(files[i].text)) == 0);
        ep_manifest *m = NULL;
        ep_error err = {0};
        CHECK(ep_manifest_read(g_dir, &m, &err) == EP_ERR_FORMAT && m == NULL);
        CHECKF(strstr(err.message, files[i].needle) != NULL, "file %zu: %s", i, err.message);
    }
    remove(path);
    ep_manifest *m = NULL;
    ep_error err = {0};
    CHECK(ep_manifest_read(g_dir, &m, &err) == EP_ERR_IO && m == NULL);
    CHECKF(strstr(err.message, "manifest.json") != NULL, "%s", err.message);

    /* Unknown keys are ignored (later versions may add fields). */
    cJSON *j = load_good();
    cJSON_AddStringToObject(j, "added_later", "x");
    char *t = cJSON_Print(j);
    CHECK(ep_test_write_file(path, t, strlen(t)) == 0);
    cJSON_free(t);
    cJSON_Delete(j);
    CHECK_OK(ep_manifest_read(g_dir, &m, &err), &err);
    ep_manifest_free(m);
}

int main(void) {
    if (!ep_test_mkdtemp(g_dir, sizeof g_dir, "manifest")) {
        fprintf(stderr, "cannot create a scratch folder\n");
        return 1;
    }
    round_trip();
    field_errors();
    ep_test_rm_rf(g_dir);
    return ep_test_finish("test_manifest");
}
