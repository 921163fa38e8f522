/*
 * test_model.c - ep_model_load on tiny models written by scripts/make-tiny-model.py.
 *
 * 1. F32 / F16 / BF16 models of one seed load, every array equals the file as
 *    decoded by an independent reader, and the F16 / BF16 arrays equal the F32
 *    ones rounded to nearest-even (what the generator documents).
 * 2. CLS pooling, the "bert." prefix with gamma/beta names, no Normalize, cased,
 *    and the sentence-transformers 6 config files are recognised.
 * 3. Every kind of broken folder is rejected with a message that names the
 *    file, tensor or value at fault.
 */
#include "model.h"
#include "model_test_util.h"
#include "sha256.h"

#include <sys/stat.h>
#include <unistd.h>

static char tmp[256];

static ep_model *load_ok(const char *sub) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmp, sub);
    ep_model *m = NULL;
    ep_error err = {0};
    CHECK_OK(ep_model_load(dir, &m, &err), &err);
    return m;
}

/* Copies base to a fresh folder `sub`; @return its path in a static buffer. */
static const char *fresh(const char *sub) {
    static char dir[512];
    char base[512];
    snprintf(base, sizeof base, "%s/base", tmp);
    snprintf(dir, sizeof dir, "%s/%s", tmp, sub);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dir, base, dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot copy %s\n", base);
    return dir;
}

/* Loads dir expecting failure with code and every needle in the message. */
static void expect_fail(const char *what, const char *dir, ep_status code, const char *needle1, const char *needle2) {
    ep_model *m = (ep_model *)1;
    ep_error err = {0};
    ep_status s = ep_model_load(dir, &m, &err);
    CHECKF(s == code, "%s: status %d (%s), expected %d; message: %s", what, (int)s, ep_status_name(s), (int)code,
           err.message);
    CHECKF(m == NULL, "%s: *out not NULL on failure", what);
    CHECKF(err.code == s, "%s: err.code %d != status %d", what, (int)err.code, (int)s);
    CHECKF(!needle1 || strstr(err.message, needle1), "%s: message lacks \"%s\": %s", what, needle1, err.message);
    CHECKF(!needle2 || strstr(err.message, needle2), "%s: message lacks \"%s\": %s", what, needle2, err.message);
    if (s == EP_OK) ep_model_free(m);
    else printf("  ok, rejected (%s): %s\n", what, err.message);
}

// ----------------------------------------------------------------------------
// JSON edits

static void set_string(cJSON *root, const void *arg) {
    const char *const *kv = arg;
    cJSON_DeleteItemFromObjectCaseSensitive(root, kv[0]);
    cJSON_AddStringToObject(root, kv[0], kv[1]);
}

static void set_number(cJSON *root, const void *arg) {
    const char *const *kv = arg;
    cJSON_DeleteItemFromObjectCaseSensitive(root, kv[0]);
    cJSON_AddNumberToObject(root, kv[0], atof(kv[1]));
}

static void set_bool(cJSON *root, const void *arg) {
    const char *const *kv = arg;
    cJSON_DeleteItemFromObjectCaseSensitive(root, kv[0]);
    cJSON_AddBoolToObject(root, kv[0], strcmp(kv[1], "true") == 0);
}

static void delete_key(cJSON *root, const void *arg) { cJSON_DeleteItemFromObjectCaseSensitive(root, arg); }

static void add_dense_module(cJSON *root, const void *arg) {
    cJSON *mod = cJSON_CreateObject();
    cJSON_AddNumberToObject(mod, "idx", 2);
    cJSON_AddStringToObject(mod, "name", "2");
    cJSON_AddStringToObject(mod, "path", "2_Dense");
    cJSON_AddStringToObject(mod, "type", "sentence_transformers.models.Dense");
    /* Dense between Pooling and Normalize (cJSON 1.7.15's InsertItemInArray refuses this position). */
    cJSON *norm = cJSON_DetachItemFromArray(root, 2);
    cJSON_AddItemToArray(root, mod);
    cJSON_AddItemToArray(root, norm);
}

static void edit(const char *dir, const char *file, void (*fn)(cJSON *, const void *), const char *k, const char *v) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    const char *kv[2] = {k, v};
    CHECKF(mt_edit_json(path, fn, fn == delete_key ? (const void *)k : kv) == 0, "cannot edit %s", path);
}

/* Rewrites dir/model.safetensors with edit() applied to its header (data region unchanged). */
static void edit_header(const char *dir, void (*fn)(cJSON *, const void *), const void *arg) {
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    mt_raw r;
    CHECK(mt_raw_open(path, &r) == 0);
    fn(r.header, arg);
    CHECK(mt_raw_write(&r, r.header, path) == 0);
    mt_raw_close(&r);
}

static void header_set_dtype(cJSON *h, const void *arg) {
    const char *const *kv = arg;
    cJSON *t = cJSON_GetObjectItemCaseSensitive(h, kv[0]);
    cJSON_ReplaceItemInObjectCaseSensitive(t, "dtype", cJSON_CreateString(kv[1]));
}

// ----------------------------------------------------------------------------

static void check_config(const ep_model *m, int hidden, int layers, int heads, int inter, int max_pos, int max_seq,
                         ep_pooling pooling, bool normalize, bool lower) {
    const ep_model_config *c = &m->config;
    CHECKF(c->hidden == hidden, "hidden %d", c->hidden);
    CHECKF(c->n_layers == layers, "layers %d", c->n_layers);
    CHECKF(c->n_heads == heads, "heads %d", c->n_heads);
    CHECKF(c->intermediate == inter, "intermediate %d", c->intermediate);
    CHECKF(c->max_position == max_pos, "max_position %d", c->max_position);
    CHECKF(c->max_seq_length == max_seq, "max_seq_length %d, expected %d", c->max_seq_length, max_seq);
    CHECKF(c->type_vocab_size == 2, "type_vocab_size %d", c->type_vocab_size);
    CHECKF(c->layer_norm_eps == 1e-12f, "layer_norm_eps %g", c->layer_norm_eps);
    CHECKF(c->pooling == pooling, "pooling %d", (int)c->pooling);
    CHECKF(c->normalize == normalize, "normalize %d", c->normalize);
    CHECKF(c->do_lower_case == lower, "do_lower_case %d", c->do_lower_case);
    CHECK(m->layers != NULL && m->word_emb != NULL && m->storage != NULL);
}

/* The vocab.txt line count must be the config's vocab_size (the generator sets it so). */
static int vocab_lines(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    size_t len;
    char *t = ep_test_read_file(path, &len);
    int n = 0;
    for (size_t i = 0; t && i < len; i++) n += t[i] == '\n';
    free(t);
    return n;
}

static uint16_t bf16_round(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return (uint16_t)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

/* F16/BF16 arrays must be the F32 arrays rounded to nearest-even. */
static void check_rounded(const ep_model *f32, const ep_model *low, bool is_bf16) {
    int cap = 5 + 16 * f32->config.n_layers;
    mt_array *a = calloc((size_t)cap, sizeof *a), *b = calloc((size_t)cap, sizeof *b);
    int n = mt_model_arrays(f32, a, cap);
    CHECK(mt_model_arrays(low, b, cap) == n);
    long mismatches = 0, changed = 0;
    for (int i = 0; i < n; i++) {
        for (size_t j = 0; j < a[i].n; j++) {
            float want;
            if (is_bf16) {
                want = mt_bfloat(bf16_round(a[i].p[j]));
            } else {
#ifdef __FLT16_MAX__
                want = (float)(_Float16)a[i].p[j];
#else
                want = b[i].p[j];
                if (fabsf(want - a[i].p[j]) > fabsf(a[i].p[j]) * 0x1p-11f + 0x1p-25f) want = NAN;
#endif
            }
            changed += want != a[i].p[j];
            if (memcmp(&want, &b[i].p[j], 4) != 0 && mismatches++ < 5)
                fprintf(stderr, "%s %s[%zu]: f32 %.9g rounds to %.9g, loaded %.9g\n", is_bf16 ? "BF16" : "F16",
                        a[i].name, j, a[i].p[j], want, b[i].p[j]);
        }
    }
    CHECKF(mismatches == 0, "%ld values differ from the rounded F32 ones", mismatches);
    CHECKF(changed > 0, "rounding changed nothing: the F32 model is not a F32 model");
    free(a);
    free(b);
}

static void test_dtypes(void) {
    char path[1024];
    ep_model *f32 = load_ok("base"), *f16 = load_ok("f16"), *bf16 = load_ok("bf16");
    if (!f32 || !f16 || !bf16) goto done;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/base", tmp);
    check_config(f32, 32, 2, 2, 64, 128, 64, EP_POOLING_MEAN, true, true);
    CHECKF(f32->config.vocab_size == vocab_lines(dir), "vocab_size %d vs %d lines", f32->config.vocab_size,
           vocab_lines(dir));
    CHECKF(strcmp(f32->config.name, "base") == 0, "name \"%s\"", f32->config.name);
    CHECKF(strcmp(f32->dir, dir) == 0, "dir \"%s\"", f32->dir);
    check_config(bf16, 32, 2, 2, 64, 128, 64, EP_POOLING_CLS, true, true);

    const char *subs[3] = {"base", "f16", "bf16"};
    ep_model *ms[3] = {f32, f16, bf16};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s/model.safetensors", tmp, subs[i]);
        int n = mt_compare_with_file(ms[i], path, "");
        CHECKF(n == 5 + 16 * 2, "%s: compared %d arrays", subs[i], n);
        char hex[65];
        ep_error err = {0};
        CHECK_OK(ep_sha256_file(path, hex, &err), &err);
        CHECKF(strcmp(hex, ms[i]->config.weights_sha256) == 0, "%s sha256 %s vs %s", subs[i],
               ms[i]->config.weights_sha256, hex);
        CHECKF(strlen(ms[i]->config.weights_sha256) == 64, "sha256 length");
    }
    CHECK(strcmp(f32->config.weights_sha256, f16->config.weights_sha256) != 0);
    check_rounded(f32, f16, false);
    check_rounded(f32, bf16, true);

    /* Arrays are 64-byte aligned and inside one block. */
    int cap = 5 + 16 * 2;
    mt_array a[5 + 16 * 2];
    int n = mt_model_arrays(f32, a, cap);
    for (int i = 0; i < n; i++) {
        if (strstr(a[i].name, "self.key") || strstr(a[i].name, "self.value")) continue; /* inside qkv */
        CHECKF(((uintptr_t)a[i].p & 63) == 0, "%s is not 64-byte aligned", a[i].name);
    }
    /* The fused qkv is query rows, then key rows, then value rows: one [3H][H] block. */
    CHECK(f32->layers[1].qkv_bias != NULL && f32->layers[0].qkv_weight != f32->layers[1].qkv_weight);
done:
    ep_model_free(f32);
    ep_model_free(f16);
    ep_model_free(bf16);
}

static void test_variants(void) {
    /* "bert." prefix with gamma/beta LayerNorm names: same seed, so the same numbers as base. */
    ep_model *base = load_ok("base"), *pre = load_ok("prefixed"), *plain = load_ok("plain");
    if (base && pre) {
        char path[1024];
        snprintf(path, sizeof path, "%s/prefixed/model.safetensors", tmp);
        CHECK(mt_compare_with_file(pre, path, "bert.") == 5 + 16 * 2);
        mt_array a[37], b[37];
        int n = mt_model_arrays(base, a, 37);
        CHECK(mt_model_arrays(pre, b, 37) == n);
        for (int i = 0; i < n; i++)
            CHECKF(memcmp(a[i].p, b[i].p, a[i].n * 4) == 0, "prefixed %s differs from base", a[i].name);
    }
    if (plain) check_config(plain, 48, 3, 4, 96, 64, 40, EP_POOLING_MEAN, false, false);
    ep_model_free(base);
    ep_model_free(pre);
    ep_model_free(plain);

    /* sentence-transformers 6: no max_seq_length (tokenizer model_max_length rules), "pooling_mode": "cls",
     * new module type names, no do_lower_case in tokenizer_config.json (tokenizer.json decides). */
    const char *d = fresh("st6");
    edit(d, "sentence_bert_config.json", delete_key, "max_seq_length", NULL);
    edit(d, "tokenizer_config.json", set_number, "model_max_length", "100");
    edit(d, "tokenizer_config.json", delete_key, "do_lower_case", NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer.json", d);
    mt_write_text(path, "{\"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": false}}");
    snprintf(path, sizeof path, "%s/1_Pooling/config.json", d);
    mt_write_text(path, "{\"embedding_dimension\": 32, \"pooling_mode\": \"cls\", \"include_prompt\": true}");
    snprintf(path, sizeof path, "%s/modules.json", d);
    mt_write_text(path,
                  "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.base.modules.transformer."
                  "Transformer\"},{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers."
                  "sentence_transformer.modules.pooling.Pooling\"},{\"idx\":2,\"name\":\"2\",\"path\":\"2_Normalize\","
                  "\"type\":\"sentence_transformers.base.modules.normalize.Normalize\"}]");
    ep_model *st6 = load_ok("st6");
    if (st6) check_config(st6, 32, 2, 2, 64, 128, 100, EP_POOLING_CLS, true, false);
    ep_model_free(st6);

    /* No sentence_bert_config.json and no model_max_length: max_position_embeddings. */
    d = fresh("nosbert");
    snprintf(path, sizeof path, "%s/sentence_bert_config.json", d);
    unlink(path);
    edit(d, "tokenizer_config.json", delete_key, "model_max_length", NULL);
    /* sentence_bert_config's own do_lower_case forces lower-casing. */
    ep_model *ns = load_ok("nosbert");
    if (ns) CHECKF(ns->config.max_seq_length == 128, "fallback max_seq_length %d", ns->config.max_seq_length);
    ep_model_free(ns);
    d = fresh("stlower");
    edit(d, "tokenizer_config.json", set_bool, "do_lower_case", "false");
    edit(d, "sentence_bert_config.json", set_bool, "do_lower_case", "true");
    ep_model *sl = load_ok("stlower");
    if (sl) CHECK(sl->config.do_lower_case);
    ep_model_free(sl);

    /* The folder name resolves through "." and trailing slashes. */
    char cwd[4096], dir[600];
    if (getcwd(cwd, sizeof cwd)) {
        snprintf(dir, sizeof dir, "%s/base", tmp);
        if (chdir(dir) == 0) {
            ep_model *m = NULL;
            ep_error err = {0};
            CHECK_OK(ep_model_load("./", &m, &err), &err);
            if (m) CHECKF(strcmp(m->config.name, "base") == 0, "name of \"./\": \"%s\"", m->config.name);
            ep_model_free(m);
            CHECK(chdir(cwd) == 0);
        }
    }
}

static void test_rejections(void) {
    char path[1024];
    const char *d;

    snprintf(path, sizeof path, "%s/does-not-exist", tmp);
    expect_fail("missing folder", path, EP_ERR_MODEL, "does-not-exist", "scripts/fetch-model.sh");
    snprintf(path, sizeof path, "%s/base/config.json", tmp);
    expect_fail("file instead of folder", path, EP_ERR_MODEL, "not a folder", "another sentence-transformers folder");

    const char *required[] = {"config.json", "vocab.txt", "model.safetensors", "modules.json", "1_Pooling/config.json"};
    for (int i = 0; i < 5; i++) {
        d = fresh("missing");
        snprintf(path, sizeof path, "%s/%s", d, required[i]);
        unlink(path);
        expect_fail(required[i], d, EP_ERR_MODEL, required[i], "scripts/fetch-model.sh");
    }

    d = fresh("badjson");
    snprintf(path, sizeof path, "%s/config.json", d);
    mt_write_text(path, "{\n  \"hidden_size\": 32,\n  \"num_hidden_layers\": \n}\n");
    expect_fail("malformed config.json", d, EP_ERR_FORMAT, "config.json:4", "malformed JSON");

    d = fresh("act");
    edit(d, "config.json", set_string, "hidden_act", "gelu_new");
    expect_fail("hidden_act", d, EP_ERR_MODEL, "\"gelu_new\"", "hidden_act");
    d = fresh("type");
    edit(d, "config.json", set_string, "model_type", "distilbert");
    expect_fail("model_type", d, EP_ERR_MODEL, "model_type \"distilbert\" is not supported", "\"xlm-roberta\"");
    d = fresh("posemb");
    edit(d, "config.json", set_string, "position_embedding_type", "relative_key");
    expect_fail("position_embedding_type", d, EP_ERR_MODEL, "relative_key", NULL);
    d = fresh("heads");
    edit(d, "config.json", set_number, "num_attention_heads", "3");
    expect_fail("hidden % heads", d, EP_ERR_MODEL, "not a multiple of num_attention_heads 3", NULL);
    d = fresh("nohidden");
    edit(d, "config.json", delete_key, "hidden_size", NULL);
    expect_fail("missing hidden_size", d, EP_ERR_MODEL, "\"hidden_size\" is missing", NULL);
    d = fresh("fraction");
    edit(d, "config.json", set_number, "intermediate_size", "64.5");
    expect_fail("non-integer size", d, EP_ERR_MODEL, "intermediate_size", "64.5");

    d = fresh("shape");
    edit(d, "config.json", set_number, "intermediate_size", "48");
    expect_fail("shape vs config", d, EP_ERR_MODEL, "encoder.layer.0.intermediate.dense.weight", "[64, 32]");
    d = fresh("shape2");
    edit(d, "config.json", set_number, "max_position_embeddings", "100");
    expect_fail("position table vs config", d, EP_ERR_MODEL, "position_embeddings.weight", "[100, 32]");
    d = fresh("layers");
    edit(d, "config.json", set_number, "num_hidden_layers", "1");
    expect_fail("extra layers", d, EP_ERR_MODEL, "num_hidden_layers is 1", "encoder.layer.1.");
    d = fresh("morelayers");
    edit(d, "config.json", set_number, "num_hidden_layers", "3");
    expect_fail("missing layer", d, EP_ERR_MODEL, "missing tensor 'encoder.layer.2.", NULL);

    d = fresh("vocab");
    snprintf(path, sizeof path, "%s/vocab.txt", d);
    FILE *f = fopen(path, "a");
    if (f) {
        fputs("extra1\nextra2\n", f);
        fclose(f);
    }
    expect_fail("vocab longer than table", d, EP_ERR_MODEL, "vocab.txt has", "vocab_size");

    d = fresh("maxseq");
    edit(d, "sentence_bert_config.json", set_number, "max_seq_length", "129");
    expect_fail("max_seq_length > positions", d, EP_ERR_MODEL, "max_seq_length 129", "128");

    d = fresh("pool-bad");
    edit(d, "1_Pooling/config.json", set_bool, "pooling_mode_median_tokens", "true");
    expect_fail("unknown legacy pooling flag", d, EP_ERR_MODEL, "unsupported pooling", "pooling_mode_median_tokens");
    d = fresh("pool-new");
    edit(d, "1_Pooling/config.json", set_string, "pooling_mode", "median");
    expect_fail("unknown pooling mode", d, EP_ERR_MODEL, "unsupported pooling \"median\"", "weightedmean");
    d = fresh("pool-dim");
    edit(d, "1_Pooling/config.json", set_number, "word_embedding_dimension", "384");
    expect_fail("pooling dimension", d, EP_ERR_MODEL, "word_embedding_dimension", "hidden_size is 32");
    d = fresh("dense");
    char mod[1024];
    snprintf(mod, sizeof mod, "%s/modules.json", d);
    CHECK(mt_edit_json(mod, add_dense_module, NULL) == 0);
    expect_fail("Dense module without its folder", d, EP_ERR_MODEL, "2_Dense/config.json not found", NULL);
    snprintf(mod, sizeof mod, "%s/modules.json", d);
    mt_write_text(mod, "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
                       "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models."
                       "Pooling\"},{\"idx\":2,\"name\":\"2\",\"path\":\"2_LayerNorm\",\"type\":\"sentence_transformers."
                       "models.LayerNorm\"}]");
    expect_fail("a module embedpipe does not run", d, EP_ERR_MODEL, "sentence_transformers.models.LayerNorm",
                "Dense (any number)");

    /* Tensor-level problems in an otherwise valid file. */
    d = fresh("notensor");
    edit_header(d, delete_key, "encoder.layer.1.attention.self.value.bias");
    expect_fail("missing tensor", d, EP_ERR_MODEL, "missing tensor 'encoder.layer.1.attention.self.value.bias'",
                "model.safetensors");
    d = fresh("noln");
    edit_header(d, delete_key, "embeddings.LayerNorm.weight");
    expect_fail("missing LayerNorm", d, EP_ERR_MODEL, "embeddings.LayerNorm.weight", NULL);
    d = fresh("noemb");
    edit_header(d, delete_key, "embeddings.word_embeddings.weight");
    expect_fail("no word embeddings", d, EP_ERR_MODEL, "not a BERT-architecture checkpoint", NULL);
    d = fresh("dtype");
    const char *kv[2] = {"encoder.layer.0.output.dense.bias", "I32"};
    edit_header(d, header_set_dtype, kv);
    expect_fail("integer weight", d, EP_ERR_MODEL, "'encoder.layer.0.output.dense.bias' has dtype I32", NULL);
    d = fresh("dtype2");
    const char *kv2[2] = {"encoder.layer.0.output.dense.bias", "F16"};
    edit_header(d, header_set_dtype, kv2);
    expect_fail("dtype vs size", d, EP_ERR_FORMAT, "encoder.layer.0.output.dense.bias", "needs 64 bytes");

    /* A truncated weights file is a format error naming the file. */
    d = fresh("trunc");
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    CHECK(truncate(path, 1000) == 0);
    expect_fail("truncated weights", d, EP_ERR_FORMAT, "model.safetensors", NULL);
    d = fresh("trunc2");
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && truncate(path, sb.st_size - 100) == 0);
    expect_fail("weights missing their last bytes", d, EP_ERR_FORMAT, "outside the data region", "truncated");
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/ep_test_model_XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char dir[512];
    int rc = 0;
    snprintf(dir, sizeof dir, "%s/base", tmp);
    rc |= mt_make_tiny(dir, "--seed 7");
    snprintf(dir, sizeof dir, "%s/f16", tmp);
    rc |= mt_make_tiny(dir, "--seed 7 --dtype F16");
    snprintf(dir, sizeof dir, "%s/bf16", tmp);
    rc |= mt_make_tiny(dir, "--seed 7 --dtype BF16 --pooling cls");
    snprintf(dir, sizeof dir, "%s/prefixed", tmp);
    rc |= mt_make_tiny(dir, "--seed 7 --prefix bert. --ln-names gamma");
    snprintf(dir, sizeof dir, "%s/plain", tmp);
    rc |= mt_make_tiny(dir, "--seed 3 --hidden 48 --heads 4 --layers 3 --intermediate 96 --max-position 64 "
                            "--max-seq-length 40 --no-normalize --cased");
    if (rc != 0) {
        fprintf(stderr, "test_model: scripts/make-tiny-model.py failed; is python3 on PATH?\n");
        return 1;
    }
    test_dtypes();
    test_variants();
    test_rejections();
    if (!ep_test_failures) mt_sh("rm -rf '%s'%s", tmp, "");
    else fprintf(stderr, "test_model: kept %s for inspection\n", tmp);
    return ep_test_finish("test_model");
}
