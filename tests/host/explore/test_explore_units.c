/* test_explore_units.c - the parts of host/explore on planted data: k-means recovers planted groups
 * and gives the same answer twice (and for another thread count, the same partition); c-TF-IDF names
 * the words planted in each cluster and drops stop words of several languages; duplicate groups from
 * neighbour pairs and from hashes; the uneven-size warning. */
#include "cluster_report.h"
#include "cluster_words.h"
#include "duplicates.h"
#include "kmeans.h"
#include "test_util.h"

#include <math.h>

enum { GROUPS = 6, PER_GROUP = 400, DIM = 48 };

/* GROUPS random unit centres, PER_GROUP rows each: centre + noise, normalised; rows interleaved. */
static void planted_rows(float *x, int *truth) {
    float centres[GROUPS][DIM];
    for (int g = 0; g < GROUPS; g++)
        for (int d = 0; d < DIM; d++) centres[g][d] = ep_test_frand();
    for (int i = 0; i < GROUPS * PER_GROUP; i++) {
        int g = i % GROUPS;
        truth[i] = g;
        float norm = 0;
        for (int d = 0; d < DIM; d++) {
            x[i * DIM + d] = centres[g][d] + 0.25f * ep_test_frand();
            norm += x[i * DIM + d] * x[i * DIM + d];
        }
        for (int d = 0; d < DIM; d++) x[i * DIM + d] /= sqrtf(norm);
    }
}

/* True when labels and truth describe the same partition. */
static int same_partition(const int32_t *labels, const int *truth, int n) {
    int map[GROUPS];
    for (int g = 0; g < GROUPS; g++) map[g] = -1;
    for (int i = 0; i < n; i++) {
        if (map[truth[i]] == -1) map[truth[i]] = labels[i];
        if (map[truth[i]] != labels[i]) return 0;
    }
    for (int a = 0; a < GROUPS; a++)
        for (int b = a + 1; b < GROUPS; b++)
            if (map[a] == map[b]) return 0;
    return 1;
}

static void test_kmeans(void) {
    const int n = GROUPS * PER_GROUP;
    float *x = malloc(sizeof(float) * n * DIM);
    int *truth = malloc(sizeof(int) * n);
    planted_rows(x, truth);
    ep_error err = {0};
    ep_kmeans_result a = {0}, b = {0}, c = {0};
    CHECK_OK(ep_kmeans_run(x, n, DIM, &(ep_kmeans_options){.k = GROUPS, .seed = 3, .threads = 2}, &a, &err), &err);
    CHECK_OK(ep_kmeans_run(x, n, DIM, &(ep_kmeans_options){.k = GROUPS, .seed = 3, .threads = 2}, &b, &err), &err);
    CHECK_OK(ep_kmeans_run(x, n, DIM, &(ep_kmeans_options){.k = GROUPS, .seed = 3, .threads = 1}, &c, &err), &err);
    CHECKF(a.labels && same_partition(a.labels, truth, n), "k-means did not recover the %d planted groups", GROUPS);
    CHECK(a.labels && b.labels && memcmp(a.labels, b.labels, sizeof(int32_t) * n) == 0);
    CHECK(a.centroids && b.centroids && memcmp(a.centroids, b.centroids, sizeof(float) * GROUPS * DIM) == 0);
    CHECK(a.labels && c.labels && memcmp(a.labels, c.labels, sizeof(int32_t) * n) == 0);
    // the inertia is what the scores say, and every centroid has unit length
    double inertia = 0;
    for (int i = 0; a.scores && i < n; i++) inertia += 2.0 - 2.0 * a.scores[i];
    CHECKF(fabs(inertia - a.inertia) < 1e-6 * (1 + inertia), "inertia %f vs %f", a.inertia, inertia);
    for (int j = 0; a.centroids && j < GROUPS; j++) {
        double norm = 0;
        for (int d = 0; d < DIM; d++) norm += a.centroids[j * DIM + d] * a.centroids[j * DIM + d];
        CHECKF(fabs(norm - 1) < 1e-4, "centroid %d has squared norm %f", j, norm);
    }
    ep_kmeans_free(&c);
    CHECK(ep_kmeans_run(x, n, DIM, &(ep_kmeans_options){.k = n + 1}, &c, &err) == EP_ERR_USAGE);
    CHECK(ep_kmeans_default_k(100000) == 224 && ep_kmeans_default_k(3) == 2 && ep_kmeans_default_k(1) == 1);
    ep_kmeans_free(&a);
    ep_kmeans_free(&b);
    ep_kmeans_free(&c);
    free(x);
    free(truth);
}

static void test_words(void) {
    // Two clusters with planted topic words among stop words of six languages, mentions and URLs.
    const char *texts[] = {
        "the bicycle and the bicycle lane", "der Fahrrad und das bicycle", "les bicycle pour les enfants",
        "@user bicycle helmet https://t.co/x", "que bicycle con helmet", "il bicycle per la strada",
        "coffee espresso with the milk",    "o coffee com espresso",        "una coffee para espresso",
        "coffee espresso und der Kuchen",   NULL,                            "coffee is nice via @someone",
    };
    int32_t labels[] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
    char **words = NULL;
    ep_error err = {0};
    CHECK_OK(ep_cluster_words(texts, labels, 12, 2, 3, &words, &err), &err);
    CHECKF(words && words[0] && strcmp(words[0], "bicycle") == 0, "cluster 0's first word is %s",
           words && words[0] ? words[0] : "(none)");
    CHECKF(words && words[3] && strcmp(words[3], "coffee") == 0, "cluster 1's first word is %s",
           words && words[3] ? words[3] : "(none)");
    for (int i = 0; words && i < 6; i++)
        if (words[i]) {
            CHECKF(!ep_is_stop_word(words[i], strlen(words[i])), "stop word %s among the words", words[i]);
            CHECKF(strcmp(words[i], "user") != 0 && strcmp(words[i], "https") != 0, "%s among the words", words[i]);
        }
    CHECK(ep_is_stop_word("und", 3) && ep_is_stop_word("que", 3) && ep_is_stop_word("les", 3) &&
          ep_is_stop_word("the", 3) && !ep_is_stop_word("bicycle", 7));
    ep_cluster_words_free(words, 2, 3);

    // Words are letters of any script, lowercased by Unicode: "FÜR" is the stop word "für", "STRASSE" and
    // "Straße" are not merged (no full case folding) but "Straße"/"straße" are; emoji and "…" are no words.
    const char *more[] = {"FÜR Straße 🚨 … 🚨🚨🚨", "für straße …… Москва", "ФОТО фото фото Москва"};
    int32_t more_labels[] = {0, 0, 1};
    CHECK_OK(ep_cluster_words(more, more_labels, 3, 2, 3, &words, &err), &err);
    CHECKF(words && words[0] && strcmp(words[0], "straße") == 0, "cluster 0's first word is %s",
           words && words[0] ? words[0] : "(none)");
    CHECKF(words && words[3] && strcmp(words[3], "фото") == 0, "cluster 1's first word is %s",
           words && words[3] ? words[3] : "(none)");
    for (int i = 0; words && i < 6; i++)
        if (words[i])
            CHECKF(strcmp(words[i], "für") != 0 && strstr(words[i], "\xf0\x9f") == NULL &&
                   strstr(words[i], "\xe2\x80\xa6") == NULL, "'%s' among the words", words[i]);
    ep_cluster_words_free(words, 2, 3);

    // the report with kept texts: words per cluster, nearest rows with their texts, in JSON and in the summary
    float scores[12] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f, 0.95f, 0.85f, 0.75f, 0.65f, 0.55f, 0.45f};
    ep_kmeans_result km = {.k = 2, .dim = 1, .n_rows = 12, .labels = labels, .scores = scores, .iterations_run = 3};
    char *json = NULL, *summary = NULL;
    ep_cluster_report_input in = {.km = &km, .texts = texts, .nearest = 2, .words = 3};
    CHECK_OK(ep_cluster_report(&in, 0, &json, &summary, &err), &err);
    CHECK(json && strstr(json, "\"bicycle\"") && strstr(json, "\"coffee espresso with the milk\"") &&
          strstr(json, "\"texts\":\ttrue"));
    CHECK(summary && strstr(summary, "words: bicycle") && strstr(summary, "words: coffee") && !strstr(summary, "no words"));
    free(json);
    free(summary);
    in.texts = NULL;
    CHECK_OK(ep_cluster_report(&in, 1, &json, &summary, &err), &err);
    CHECK(json && strstr(json, "\"words\":\t[]") && summary && strstr(summary, "no words") &&
          strstr(summary, "1 more cluster in"));
    free(json);
    free(summary);
}

static void test_groups(void) {
    // rows 0-1-2 joined through 1 (a chain), 4 = 5 exactly, 3 alone; k = 2
    const int32_t nb[] = {1, 3, 0, 2, 1, 0, 0, 1, 5, 0, 4, 1};
    const float sc[] = {0.97f, 0.5f, 0.97f, 0.96f, 0.96f, 0.4f, 0.3f, 0.2f, 1.0f, 0.1f, 1.0f, 0.1f};
    ep_groups g = {0};
    ep_error err = {0};
    CHECK_OK(ep_groups_from_neighbours(nb, sc, 6, 2, 0.95f, &g, &err), &err);
    CHECKF(g.n_groups == 2 && g.size[0] == 3 && g.size[1] == 2, "groups: %zu", g.n_groups);
    CHECK(g.n_groups == 2 && g.rows[0] == 0 && g.rows[1] == 1 && g.rows[2] == 2 && g.rows[3] == 4 && g.rows[4] == 5);
    CHECK(g.n_groups == 2 && fabsf(g.min_score[0] - 0.96f) < 1e-6f && g.min_score[1] == 1.0f);
    ep_groups_free(&g);
    const uint64_t hashes[] = {7, 9, 7, 1, 9, 7};
    CHECK_OK(ep_groups_from_hashes(hashes, 6, &g, &err), &err);
    CHECK(g.n_groups == 2 && g.size[0] == 3 && g.rows[0] == 0 && g.rows[1] == 2 && g.rows[2] == 5);
    CHECK(g.n_groups == 2 && g.size[1] == 2 && g.rows[3] == 1 && g.rows[4] == 4);
    ep_groups_free(&g);
}

static void test_uneven(void) {
    uint64_t even[4] = {25, 25, 25, 25}, giant[4] = {400, 1, 1, 2}, crumbs[8] = {300, 300, 300, 96, 1, 1, 1, 1};
    CHECK(ep_cluster_suggest_k(even, 4, 100) == 0);
    CHECK(ep_cluster_suggest_k(giant, 4, 404) != 0);
    CHECKF(ep_cluster_suggest_k(crumbs, 8, 1000) == 4, "suggested %d", ep_cluster_suggest_k(crumbs, 8, 1000));

    // The report says so: 11 rows in cluster 3, one in cluster 0, four empty clusters (crumbs: try 2), largest
    // first, then by number; an empty cluster lists no rows; ids where there are some.
    int32_t labels[12] = {3, 3, 3, 0, 3, 3, 3, 3, 3, 3, 3, 3};
    float scores[12] = {0.5f, 0.9f, 0.7f, 0.8f, 0.6f, 0.4f, 0.3f, 0.2f, 0.1f, 0.95f, 0.15f, 0.25f};
    const char *ids[12] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "", NULL};
    ep_kmeans_result km = {.k = 6, .dim = 1, .n_rows = 12, .labels = labels, .scores = scores, .iterations_run = 2};
    ep_cluster_report_input in = {.km = &km, .ids = ids, .nearest = 2, .seed = 7};
    char *json = NULL, *summary = NULL;
    ep_error err = {0};
    CHECK_OK(ep_cluster_report(&in, 2, &json, &summary, &err), &err);
    CHECKF(summary && strstr(summary, "sizes are very uneven (largest 11, mean 2): try -k 2\n"), "%s", summary);
    CHECKF(summary && strstr(summary, "\ncluster 3: 11 rows (91.7%), mean cosine 0.459\n  0.950 row 9 id j\n"
                                      "  0.900 row 1 id b\n\ncluster 0: 1 row (8.3%), mean cosine 0.800\n"
                                      "  0.800 row 3 id d\n\n(4 more clusters in cluster-report.json)\n"),
           "%s", summary);
    CHECKF(json && strstr(json, "\"uneven\":\ttrue") && strstr(json, "\"suggested_k\":\t2") &&
           strstr(json, "\"seed\":\t7"), "%s", json);
    // every cluster is in the JSON, the empty ones last with no nearest rows
    CHECKF(json && strstr(json, "\"cluster\":\t5,\n\t\t\t\"size\":\t0,") &&
           strstr(json, "\"nearest\":\t[]") && json[strlen(json) - 1] == '\n', "%s", json);
    free(json);
    free(summary);
}

int main(void) {
    test_kmeans();
    test_words();
    test_groups();
    test_uneven();
    return ep_test_finish("test_explore_units");
}
