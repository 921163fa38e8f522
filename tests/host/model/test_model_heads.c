/*
 * test_model_heads.c - what the model folder says about the families after MiniLM, on tiny models
 * written by scripts/make-tiny-model.py:
 * 1. the pooling modes: legacy flags concatenated in sentence-transformers' fixed order, a
 *    "pooling_mode" list in its own order, no flag meaning mean (sentence-transformers 6),
 *    include_prompt; the widths that follow (pooled, Dense, truncated);
 * 2. Dense modules: every activation, no bias, the weights loaded exactly, and each way a Dense
 *    folder is refused (an unknown activation, use_residual, in_features that do not chain, only a
 *    pytorch_model.bin: the message says how to convert it);
 * 3. XLM-R / RoBERTa: positions after the padding index (max tokens = positions - pad - 1, the
 *    max_seq_length rule capped there), no vocab.txt beside tokenizer.json, the "roberta." prefix;
 * 4. prompts and truncate_dim (config_sentence_transformers.json): the choice as sentence-transformers
 *    makes it, and the refusals; ep_model_set_run's checks.
 */
#include "model.h"
#include "model_test_util.h"
#include "prompts.h"

#include <sys/stat.h>
#include <unistd.h>

static char tmp[256];

static const char *dir_of(const char *sub) {
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmp, sub);
    return dir;
}

static ep_model *make_and_load(const char *sub, const char *args) {
    if (mt_make_tiny(dir_of(sub), args) != 0) {
        CHECKF(0, "make-tiny-model %s failed", args);
        return NULL;
    }
    ep_model *m = NULL;
    ep_error err = {0};
    CHECK_OK(ep_model_load(dir_of(sub), &m, &err), &err);
    return m;
}

static void expect_load_fail(const char *what, const char *sub, const char *needle1, const char *needle2) {
    ep_model *m = NULL;
    ep_error err = {0};
    ep_status s = ep_model_load(dir_of(sub), &m, &err);
    CHECKF(s == EP_ERR_MODEL, "%s: status %s, message: %s", what, ep_status_name(s), err.message);
    CHECKF(!needle1 || strstr(err.message, needle1), "%s: message lacks \"%s\": %s", what, needle1, err.message);
    CHECKF(!needle2 || strstr(err.message, needle2), "%s: message lacks \"%s\": %s", what, needle2, err.message);
    if (s != EP_OK) printf("  ok, rejected (%s): %s\n", what, err.message);
    ep_model_free(m);
}

static void write_in(const char *sub, const char *file, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir_of(sub), file);
    CHECKF(mt_write_text(path, text) == 0, "cannot write %s", path);
}

// ----------------------------------------------------------------------------

static void test_pooling(void) {
    char buf[128];
    ep_model *m = make_and_load("legacy", "--pooling mean,cls,lasttoken --legacy-pooling");
    if (m) { /* the flags' fixed order, whatever order they were asked in */
        CHECKF(strcmp(ep_model_pooling_string(&m->config, buf, sizeof buf), "cls+mean+lasttoken") == 0, "legacy: %s",
               buf);
        CHECK(ep_model_pooled_dim(&m->config) == 96 && ep_model_output_dim(m) == 96 && !ep_model_head_is_simple(m));
        CHECK(m->config.pooling == EP_POOLING_CLS && !m->config.exclude_prompt);
    }
    ep_model_free(m);
    m = make_and_load("listed", "--pooling lasttoken,mean,max,cls,weightedmean,mean_sqrt_len_tokens --no-include-prompt");
    if (m) {
        CHECKF(strcmp(ep_model_pooling_string(&m->config, buf, sizeof buf),
                      "lasttoken+mean+max+cls+weightedmean+mean_sqrt_len_tokens") == 0, "list: %s", buf);
        CHECK(ep_model_full_dim(&m->config) == 6 * 32 && m->config.exclude_prompt);
    }
    ep_model_free(m);
    m = make_and_load("nomode", "--seed 1");
    write_in("nomode", "1_Pooling/config.json", "{\"word_embedding_dimension\": 32, \"pooling_mode_mean_tokens\": false}");
    ep_model_free(m);
    m = NULL;
    ep_error err = {0};
    CHECK_OK(ep_model_load(dir_of("nomode"), &m, &err), &err);
    if (m) CHECK(m->config.pooling == EP_POOLING_MEAN && m->config.n_pool_modes == 1 && ep_model_head_is_simple(m));
    ep_model_free(m);
    m = make_and_load("cls", "--pooling cls");
    if (m) CHECK(ep_model_head_is_simple(m) && ep_model_output_dim(m) == 32);
    ep_model_free(m);
}

static void test_dense(void) {
    ep_model *m = make_and_load("dense", "--dense 48:tanh --dense 16:gelu:nobias --dense 24:relu --dense 8:silu");
    if (m) {
        const ep_model_config *c = &m->config;
        CHECK(c->n_dense == 4 && ep_model_full_dim(c) == 8 && ep_model_output_dim(m) == 8 && !ep_model_head_is_simple(m));
        CHECK(c->dense[0].in == 32 && c->dense[0].out == 48 && c->dense[0].act == EP_ACTIVATION_TANH && c->dense[0].bias);
        CHECK(c->dense[1].in == 48 && c->dense[1].act == EP_ACTIVATION_GELU && !c->dense[1].bias && !m->dense[1].bias);
        CHECK(c->dense[2].act == EP_ACTIVATION_RELU && c->dense[3].act == EP_ACTIVATION_SILU);
        CHECK(strlen(c->dense_sha256) == 64 && c->normalize);
        char path[1024];
        snprintf(path, sizeof path, "%s/2_Dense/model.safetensors", dir_of("dense"));
        mt_raw r;
        float *w = NULL, *b = NULL;
        const int opened = mt_raw_open(path, &r) == 0;
        CHECK(opened);
        if (opened) {
            CHECK(mt_raw_tensor(&r, "linear.weight", &w) == 48 * 32 && mt_raw_tensor(&r, "linear.bias", &b) == 48);
            if (w && b) CHECK(memcmp(w, m->dense[0].weight, 48 * 32 * 4) == 0 && memcmp(b, m->dense[0].bias, 48 * 4) == 0);
            free(w);
            free(b);
            mt_raw_close(&r);
        }
    }
    ep_model_free(m);
    /* The same seed without Dense: the encoder's weights are the same, the Dense drawn after them. */
    ep_model *plain = make_and_load("plain", "");
    m = make_and_load("dense1", "--dense 48:sigmoid");
    if (plain && m) CHECK(strcmp(plain->config.weights_sha256, m->config.weights_sha256) == 0);
    if (m) CHECK(m->config.dense[0].act == EP_ACTIVATION_SIGMOID);
    ep_model_free(plain);
    ep_model_free(m);

    mt_make_tiny(dir_of("act"), "--dense 48:tanh");
    write_in("act", "2_Dense/config.json", "{\"in_features\": 32, \"out_features\": 48, \"bias\": true, "
                                           "\"activation_function\": \"torch.nn.modules.activation.Softsign\"}");
    expect_load_fail("an activation embedpipe lacks", "act", "Softsign", "Tanh");
    write_in("act", "2_Dense/config.json", "{\"in_features\": 32, \"out_features\": 48}"); /* Tanh, bias: defaults */
    m = make_and_load("act", "--dense 48:tanh");
    if (m) CHECK(m->config.dense[0].act == EP_ACTIVATION_TANH && m->config.dense[0].bias);
    ep_model_free(m);
    write_in("act", "2_Dense/config.json", "{\"in_features\": 32, \"out_features\": 48, \"use_residual\": true}");
    expect_load_fail("use_residual", "act", "use_residual", NULL);
    write_in("act", "2_Dense/config.json", "{\"in_features\": 40, \"out_features\": 48}");
    expect_load_fail("in_features that do not chain", "act", "in_features is 40", "32 values");
    write_in("act", "2_Dense/config.json", "{\"in_features\": 32, \"out_features\": 50}");
    expect_load_fail("a weight of another shape", "act", "linear.weight", "[50, 32]");
    mt_make_tiny(dir_of("bin"), "--dense 48:tanh");
    char from[1024], to[1024];
    snprintf(from, sizeof from, "%s/2_Dense/model.safetensors", dir_of("bin"));
    snprintf(to, sizeof to, "%s/2_Dense/pytorch_model.bin", dir_of("bin"));
    CHECK(rename(from, to) == 0);
    expect_load_fail("only pytorch_model.bin", "bin", "pytorch_model.bin", "save_file(torch.load(");
}

static void test_roberta(void) {
    const char *tok = "--tokenizer-json tests/fixtures/models/unigram-xlmr.tokenizer.json.zst";
    char args[512];
    snprintf(args, sizeof args, "%s --model-type xlm-roberta --max-position 66 --max-seq-length 64", tok);
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(ep_test_env("EP_SOURCE_DIR", ".")) == 0); /* the tokenizer's path is the repository's */
    ep_model *m = make_and_load("xlmr", args);
    snprintf(args, sizeof args, "%s --model-type roberta --prefix roberta. --max-position 130 --max-seq-length 128", tok);
    ep_model *r = make_and_load("roberta", args);
    CHECK(chdir(cwd) == 0);
    if (m) {
        const ep_model_config *c = &m->config;
        CHECK(strcmp(c->model_type, "xlm-roberta") == 0 && c->positions == EP_POSITIONS_AFTER_PAD);
        CHECK(c->pad_token_id == 1 && ep_model_position_pad(c) == 1 && ep_model_max_tokens(c) == 64);
        CHECK(c->type_vocab_size == 1 && c->vocab_size == 4002 && fabsf(c->layer_norm_eps - 1e-5f) < 1e-12f);
    }
    if (r) CHECK(strcmp(r->config.model_type, "roberta") == 0 && ep_model_max_tokens(&r->config) == 128);
    ep_model_free(m);
    ep_model_free(r);
    /* sentence-transformers' rule, min(positions, model_max_length), capped at the positions usable. */
    write_in("xlmr", "sentence_bert_config.json", "{}");
    write_in("xlmr", "tokenizer_config.json", "{\"tokenizer_class\": \"XLMRobertaTokenizer\"}");
    m = NULL;
    ep_error err = {0};
    CHECK_OK(ep_model_load(dir_of("xlmr"), &m, &err), &err);
    if (m) CHECKF(m->config.max_seq_length == 64, "max_seq_length %d", m->config.max_seq_length);
    ep_model_free(m);
    write_in("xlmr", "sentence_bert_config.json", "{\"max_seq_length\": 65}");
    expect_load_fail("max_seq_length past the positions after the padding index", "xlmr", "max_seq_length 65",
                     "pad_token_id + 1");
    write_in("xlmr", "sentence_bert_config.json", "{\"max_seq_length\": 64}");
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir_of("xlmr"));
    CHECK(unlink(path) == 0);
    expect_load_fail("neither vocab.txt nor tokenizer.json", "xlmr", "neither vocab.txt nor tokenizer.json", NULL);
    /* A BERT model keeps BERT's positions, whatever its pad_token_id. */
    ep_model *b = make_and_load("bert", "");
    if (b) CHECK(b->config.positions == EP_POSITIONS_ABSOLUTE && ep_model_position_pad(&b->config) == -1 &&
                 ep_model_max_tokens(&b->config) == 128);
    ep_model_free(b);
}

static void choose(const ep_prompts *p, const char *name, const char *text, const char *want, const char *want_name) {
    const char *got = NULL, *got_name = NULL;
    ep_error err = {0};
    CHECK_OK(ep_prompt_choose(p, name, text, &got, &got_name, &err), &err);
    CHECKF(got && strcmp(got, want) == 0, "prompt(%s, %s): \"%s\", expected \"%s\"", name ? name : "-",
           text ? text : "-", got ? got : "", want);
    CHECKF(got_name && strcmp(got_name, want_name) == 0, "prompt name \"%s\", expected \"%s\"", got_name, want_name);
}

static void test_prompts(void) {
    ep_model *m = make_and_load("prompts", "--prompt 'query=query: ' --prompt 'passage=passage: ' "
                                           "--default-prompt passage --truncate-dim 16");
    ep_prompts *p = NULL;
    ep_error err = {0};
    CHECK_OK(ep_prompts_load(dir_of("prompts"), &p, &err), &err);
    if (p) {
        choose(p, NULL, NULL, "passage: ", "passage");         /* default_prompt_name */
        choose(p, "query", NULL, "query: ", "query");
        choose(p, NULL, "search_query: ", "search_query: ", ""); /* text wins */
        choose(p, NULL, "", "", "");                              /* an empty prompt: not even the default */
        choose(p, "document", NULL, "", "document");             /* sentence-transformers' empty default */
        CHECK(ep_prompts_query(p) && strcmp(ep_prompts_query(p), "query: ") == 0);
        const char *t, *n;
        ep_status s = ep_prompt_choose(p, "summary", NULL, &t, &n, &err);
        CHECKF(s == EP_ERR_USAGE && strstr(err.message, "\"summary\"") && strstr(err.message, "\"passage\""), "%s",
               err.message);
        s = ep_prompt_choose(p, "query", "x", &t, &n, &err);
        CHECK(s == EP_ERR_USAGE && strstr(err.message, "not both"));
    }
    ep_prompts_free(p);
    if (m) {
        CHECK(m->config.truncate_dim == 16 && m->run.dim == 16 && ep_model_output_dim(m) == 16);
        ep_model_run run = {.dim = 33};
        CHECK(ep_model_set_run(m, &run, &err) == EP_ERR_USAGE && strstr(err.message, "choose 1 to 32"));
        run.dim = 32;
        CHECK_OK(ep_model_set_run(m, &run, &err), &err);
        CHECK(ep_model_output_dim(m) == 32 && ep_model_head_is_simple(m));
    }
    ep_model_free(m);
    /* No config_sentence_transformers.json: only the empty defaults, no default prompt, query NULL. */
    ep_model *plain = make_and_load("noprompts", "");
    CHECK_OK(ep_prompts_load(dir_of("noprompts"), &p, &err), &err);
    if (p) {
        choose(p, NULL, NULL, "", "");
        CHECK(ep_prompts_query(p) == NULL && ep_prompts_count(p) == 2);
    }
    ep_prompts_free(p);
    ep_model_free(plain);
    write_in("noprompts", "config_sentence_transformers.json", "{\"prompts\": {\"a\": \"A: \"}, \"default_prompt_name\": \"b\"}");
    CHECK(ep_prompts_load(dir_of("noprompts"), &p, &err) == EP_ERR_MODEL && strstr(err.message, "\"b\" names none"));
    write_in("noprompts", "config_sentence_transformers.json", "{\"truncate_dim\": 40}");
    expect_load_fail("truncate_dim wider than the rows", "noprompts", "truncate_dim 40", "32 values");
}

int main(void) {
    if (!ep_test_mkdtemp(tmp, sizeof tmp, "model-heads")) return 1;
    test_pooling();
    test_dense();
    test_roberta();
    test_prompts();
    if (!ep_test_failures) ep_test_rm_rf(tmp);
    else fprintf(stderr, "test_model_heads: kept %s\n", tmp);
    return ep_test_finish("test_model_heads");
}
