/*
 * embed_texts.c - libembedpipe in a few lines: load a model folder, embed some
 * texts in one call, print how similar each pair is (cosine similarity).
 *
 *   cc embed_texts.c -lembedpipe -lm -o embed_texts
 *   ./embed_texts models/all-MiniLM-L6-v2 "A man rides a bike." "Someone is cycling." "Bread rises."
 *
 * Without texts it embeds four of its own. docs/api.md explains every call.
 */
#include <embedpipe.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static double cosine(const float *a, const float *b, int dim) {
    double ab = 0, aa = 0, bb = 0;
    for (int k = 0; k < dim; k++) {
        ab += (double)a[k] * b[k];
        aa += (double)a[k] * a[k];
        bb += (double)b[k] * b[k];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0.0;
}

int main(int argc, char **argv) {
    static const char *const own[] = {"A man is riding a bicycle to work.", "Someone cycles to the office.",
                                      "The sourdough bread rose overnight.", "Fresh loaves from the bakery."};
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR [TEXT...]\n", argv[0]);
        return 2;
    }
    const char *const *texts = argc > 2 ? (const char *const *)argv + 2 : own;
    size_t n = argc > 2 ? (size_t)(argc - 2) : sizeof own / sizeof own[0];

    ep_error err = {0};
    ep_embedder_options *options = ep_embedder_options_create();
    ep_embedder *embedder = NULL;
    if (!options || ep_embedder_options_set(options, "device", "cpu", &err) != EP_OK ||
        ep_embedder_create(argv[1], options, &embedder, &err) != EP_OK) {
        fprintf(stderr, "embed_texts: %s\n", options ? err.message : "out of memory");
        ep_embedder_options_free(options);
        return 1;
    }
    ep_embedder_options_free(options); /* the embedder keeps what it needs */

    int dim = ep_embedder_dim(embedder);
    float *rows = malloc(sizeof(float) * n * (size_t)dim);
    if (!rows || ep_embedder_encode(embedder, texts, NULL, n, rows, &err) != EP_OK) {
        fprintf(stderr, "embed_texts: %s\n", rows ? err.message : "out of memory");
        free(rows);
        ep_embedder_free(embedder);
        return 1;
    }
    printf("libembedpipe %s, %d dimensions, %s\n", ep_version(), dim, ep_embedder_device(embedder));
    for (size_t i = 0; i < n; i++) printf("%4zu  %s\n", i, texts[i]);
    printf("cosine similarity:\n    ");
    for (size_t j = 0; j < n; j++) printf("%8zu", j);
    printf("\n");
    for (size_t i = 0; i < n; i++) {
        printf("%4zu", i);
        for (size_t j = 0; j < n; j++) printf("%8.4f", cosine(rows + i * dim, rows + j * dim, dim));
        printf("\n");
    }
    free(rows);
    ep_embedder_free(embedder);
    return 0;
}
