/*
 * test_model_real.c - ep_model_load on the real all-MiniLM-L6-v2 folder (skips when absent).
 *
 * The configuration must be the model's published one (the numbers model.h documents);
 * every weight array must equal the file as decoded by the test's own reader; the
 * SHA-256 must match an independent tool (sha256sum) when one is installed.
 */
#include "model.h"
#include "model_test_util.h"

int main(void) {
    const char *dir = ep_test_model_dir();
    ep_model *m = NULL;
    ep_error err = {0};
    CHECK_OK(ep_model_load(dir, &m, &err), &err);
    if (!m) return ep_test_finish("test_model_real");

    const ep_model_config *c = &m->config;
    printf("%s: vocab %d hidden %d layers %d heads %d ffn %d positions %d max_seq %d pooling %s%s%s\n", c->name,
           c->vocab_size, c->hidden, c->n_layers, c->n_heads, c->intermediate, c->max_position, c->max_seq_length,
           c->pooling == EP_POOLING_MEAN ? "mean" : "cls", c->normalize ? " normalize" : "",
           c->do_lower_case ? " lowercase" : "");
    /* all-MiniLM-L6-v2 as published (model card, config.json, sentence_bert_config.json). */
    CHECK(c->hidden == 384 && c->n_layers == 6 && c->n_heads == 12 && c->intermediate == 1536);
    CHECK(c->vocab_size == 30522 && c->max_position == 512 && c->type_vocab_size == 2);
    CHECK(c->max_seq_length == 256);
    CHECK(c->pooling == EP_POOLING_MEAN && c->normalize && c->do_lower_case);
    CHECK(c->layer_norm_eps == 1e-12f);
    CHECKF(strcmp(c->name, "all-MiniLM-L6-v2") == 0, "name \"%s\"", c->name);

    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int n = mt_compare_with_file(m, path, "");
    CHECKF(n == 5 + 16 * 6, "compared %d arrays", n);

    char cmd[4300], line[256] = "";
    snprintf(cmd, sizeof cmd, "sha256sum '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    if (p && fgets(line, sizeof line, p) && strlen(line) >= 64) {
        line[64] = '\0';
        CHECKF(strcmp(line, c->weights_sha256) == 0, "sha256 %s, sha256sum says %s", c->weights_sha256, line);
    } else {
        printf("note: sha256sum not available; weights_sha256 checked for form only\n");
        CHECK(strlen(c->weights_sha256) == 64);
    }
    if (p) pclose(p);
    ep_model_free(m);
    return ep_test_finish("test_model_real");
}
