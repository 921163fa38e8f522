/*
 * test_batcher.c - the batcher's cut on synthetic groups: the budget and the sequence limit hold, a sequence
 * longer than the budget goes alone, the order is by length then position, every sequence is in exactly one
 * batch, the plan depends only on the group, and the packed batch holds the sequences' own tokens.
 */
#include "batcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond, ...)                                                                                      \
    do {                                                                                                      \
        if (!(cond)) {                                                                                        \
            fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond);                                        \
            fprintf(stderr, __VA_ARGS__);                                                                     \
            fprintf(stderr, "\n");                                                                            \
            failures++;                                                                                       \
        }                                                                                                     \
    } while (0)

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next_u32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* A group of n sequences of lengths in [lo, hi]; the tokens of sequence i are i*1000 + t, so that a packed
 * batch shows whose tokens it holds. */
typedef struct group {
    ep_batcher_seq *seqs;
    int32_t **ids;
    size_t n;
} group;

static group make_group(size_t n, int lo, int hi) {
    group g = {calloc(n ? n : 1, sizeof *g.seqs), calloc(n ? n : 1, sizeof *g.ids), n};
    for (size_t i = 0; i < n; i++) {
        int len = lo + (int)(next_u32() % (uint32_t)(hi - lo + 1));
        g.ids[i] = malloc(sizeof(int32_t) * (size_t)len);
        for (int t = 0; t < len; t++) g.ids[i][t] = (int32_t)(i * 1000 + (size_t)t);
        g.seqs[i] = (ep_batcher_seq){g.ids[i], len};
    }
    return g;
}

static void free_group(group *g) {
    for (size_t i = 0; i < g->n; i++) free(g->ids[i]);
    free(g->ids);
    free(g->seqs);
}

/* Every property of a plan made from seqs under (max_tokens, max_seqs), and of its packed batches. */
static void check_plan(const char *name, const ep_batcher_seq *seqs, size_t n, size_t max_tokens, int max_seqs) {
    ep_batch_plan plan;
    ep_error err = {0};
    ep_status st = ep_batch_plan_make(seqs, n, max_tokens, max_seqs, &plan, &err);
    CHECK(st == EP_OK, "%s: %s", name, err.message);
    if (st != EP_OK) return;
    CHECK(plan.n == n, "%s: plan of %zu sequences for %zu", name, plan.n, n);
    CHECK((n == 0) == (plan.n_batches == 0), "%s: %zu batches for %zu sequences", name, plan.n_batches, n);
    CHECK(plan.n_batches == 0 || (plan.cut[0] == 0 && plan.cut[plan.n_batches] == n), "%s: cuts do not span", name);
    // Every input exactly once, ordered by (length, position).
    char *seen = calloc(n ? n : 1, 1);
    for (size_t i = 0; i < n; i++) {
        CHECK(plan.order[i] < n && !seen[plan.order[i]], "%s: position %zu repeated or out of range", name, i);
        if (plan.order[i] < n) seen[plan.order[i]] = 1;
        if (i == 0) continue;
        const size_t a = plan.order[i - 1], b = plan.order[i];
        CHECK(seqs[a].n_tokens < seqs[b].n_tokens || (seqs[a].n_tokens == seqs[b].n_tokens && a < b),
              "%s: order[%zu] = %zu (%d tokens) after %zu (%d tokens)", name, i, b, seqs[b].n_tokens, a,
              seqs[a].n_tokens);
    }
    free(seen);
    ep_packed_batch pb;
    CHECK(ep_packed_batch_init(&pb, max_tokens, max_seqs, &err) == EP_OK, "%s: %s", name, err.message);
    for (size_t k = 0; k < plan.n_batches; k++) {
        const size_t first = plan.cut[k], end = plan.cut[k + 1];
        CHECK(end > first, "%s: batch %zu is empty", name, k);
        CHECK(end - first <= (size_t)max_seqs, "%s: batch %zu holds %zu sequences, limit %d", name, k,
              end - first, max_seqs);
        size_t tokens = 0;
        for (size_t i = first; i < end; i++) tokens += (size_t)seqs[plan.order[i]].n_tokens;
        CHECK(tokens <= max_tokens || end - first == 1, "%s: batch %zu holds %zu tokens over the budget %zu", name,
              k, tokens, max_tokens);
        // Greedy: the next sequence would not have fitted.
        if (end < n)
            CHECK(end - first == (size_t)max_seqs || tokens + (size_t)seqs[plan.order[end]].n_tokens > max_tokens,
                  "%s: batch %zu was cut early", name, k);
        ep_batch b;
        st = ep_batch_pack(&plan, k, seqs, &pb, &b, &err);
        CHECK(st == EP_OK, "%s: pack %zu: %s", name, k, err.message);
        if (st != EP_OK) continue;
        CHECK(b.n_seqs == (int)(end - first) && (size_t)b.n_tokens == tokens, "%s: batch %zu packed wrong", name, k);
        int longest = 0;
        for (int i = 0; i < b.n_seqs; i++) {
            const ep_batcher_seq *s = &seqs[pb.pos[i]];
            CHECK(pb.pos[i] == plan.order[first + (size_t)i], "%s: batch %zu position %d", name, k, i);
            CHECK(b.seq_start[i + 1] - b.seq_start[i] == s->n_tokens, "%s: batch %zu sequence %d length", name, k, i);
            CHECK(memcmp(b.token_ids + b.seq_start[i], s->ids, sizeof(int32_t) * (size_t)s->n_tokens) == 0,
                  "%s: batch %zu sequence %d holds other tokens", name, k, i);
            if (s->n_tokens > longest) longest = s->n_tokens;
        }
        CHECK(b.max_seq_len == longest, "%s: batch %zu max_seq_len %d, longest %d", name, k, b.max_seq_len, longest);
    }
    ep_packed_batch_free(&pb);
    ep_batch_plan_free(&plan);
}

/* @return true when two plans cut the same order at the same places. */
static bool same_plan(const ep_batch_plan *a, const ep_batch_plan *b) {
    return a->n == b->n && a->n_batches == b->n_batches &&
           memcmp(a->order, b->order, sizeof *a->order * a->n) == 0 &&
           memcmp(a->cut, b->cut, sizeof *a->cut * (a->n_batches + 1)) == 0;
}

static void test_known_cut(void) {
    // Lengths 5 3 5 2 4 under 10 tokens: order 3(2) 1(3) 4(4) 0(5) 2(5); 2+3+4 = 9, then 5+5 = 10.
    int32_t tok[5] = {0};
    ep_batcher_seq s[5] = {{tok, 5}, {tok, 3}, {tok, 5}, {tok, 2}, {tok, 4}};
    ep_batch_plan plan;
    ep_error err = {0};
    CHECK(ep_batch_plan_make(s, 5, 10, 8, &plan, &err) == EP_OK, "%s", err.message);
    const size_t order[5] = {3, 1, 4, 0, 2}, cut[3] = {0, 3, 5};
    CHECK(plan.n_batches == 2, "%zu batches", plan.n_batches);
    CHECK(memcmp(plan.order, order, sizeof order) == 0, "order %zu %zu %zu %zu %zu", plan.order[0], plan.order[1],
          plan.order[2], plan.order[3], plan.order[4]);
    CHECK(plan.n_batches == 2 && memcmp(plan.cut, cut, sizeof cut) == 0, "cuts");
    ep_batch_plan_free(&plan);
    // The same lengths, at most 2 sequences: 3 1 | 4 0 | 2.
    CHECK(ep_batch_plan_make(s, 5, 100, 2, &plan, &err) == EP_OK, "%s", err.message);
    const size_t cut2[4] = {0, 2, 4, 5};
    CHECK(plan.n_batches == 3 && memcmp(plan.cut, cut2, sizeof cut2) == 0, "max seqs cuts");
    ep_batch_plan_free(&plan);
}

static void test_longer_than_budget(void) {
    // 3, 50, 4 under 8 tokens: 0(3) 2(4) | 1(50) alone, and packing grows the storage for it.
    int32_t *big = calloc(50, sizeof *big);
    for (int t = 0; t < 50; t++) big[t] = t + 7;
    int32_t small[4] = {1, 2, 3, 4};
    ep_batcher_seq s[3] = {{small, 3}, {big, 50}, {small, 4}};
    check_plan("longer than the budget", s, 3, 8, 16);
    ep_batch_plan plan;
    ep_error err = {0};
    CHECK(ep_batch_plan_make(s, 3, 8, 16, &plan, &err) == EP_OK, "%s", err.message);
    CHECK(plan.n_batches == 2 && plan.cut[1] == 2 && plan.order[2] == 1, "the long sequence is not alone");
    ep_batch_plan_free(&plan);
    // Two long ones in a row: each alone.
    ep_batcher_seq two[2] = {{big, 50}, {big, 50}};
    CHECK(ep_batch_plan_make(two, 2, 8, 16, &plan, &err) == EP_OK, "%s", err.message);
    CHECK(plan.n_batches == 2, "two long sequences in %zu batches", plan.n_batches);
    ep_batch_plan_free(&plan);
    free(big);
}

static void test_random_groups(void) {
    const size_t sizes[] = {0, 1, 2, 7, 100, 3000};
    const size_t budgets[] = {1, 16, 128, 4096};
    const int limits[] = {1, 3, 1024};
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++) {
        group g = make_group(sizes[a], 1, 130); /* some longer than the small budgets */
        for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++)
            for (size_t c = 0; c < sizeof limits / sizeof *limits; c++) {
                char name[96];
                snprintf(name, sizeof name, "%zu sequences, %zu tokens, %d seqs", sizes[a], budgets[b], limits[c]);
                check_plan(name, g.seqs, g.n, budgets[b], limits[c]);
            }
        free_group(&g);
    }
    // Many ties: order among equal lengths is by position.
    group ties = make_group(500, 4, 6);
    check_plan("ties", ties.seqs, ties.n, 64, 1024);
    free_group(&ties);
}

static void test_deterministic(void) {
    // The plan depends only on the lengths: the same group twice, and the same lengths with other tokens
    // at other addresses (as after a resume), give the same plan.
    group g = make_group(2000, 2, 256);
    int32_t *other_tokens = calloc(256, sizeof *other_tokens);
    ep_batcher_seq *h = calloc(g.n, sizeof *h);
    for (size_t i = 0; i < g.n; i++) h[i] = (ep_batcher_seq){other_tokens, g.seqs[i].n_tokens};
    ep_batch_plan p1, p2, p3;
    ep_error err = {0};
    CHECK(ep_batch_plan_make(g.seqs, g.n, 4096, 1024, &p1, &err) == EP_OK, "%s", err.message);
    CHECK(ep_batch_plan_make(g.seqs, g.n, 4096, 1024, &p2, &err) == EP_OK, "%s", err.message);
    CHECK(ep_batch_plan_make(h, g.n, 4096, 1024, &p3, &err) == EP_OK, "%s", err.message);
    CHECK(same_plan(&p1, &p2), "the same group gave two plans");
    CHECK(same_plan(&p1, &p3), "the same lengths with other tokens gave another plan");
    ep_batch_plan_free(&p1);
    ep_batch_plan_free(&p2);
    ep_batch_plan_free(&p3);
    free_group(&g);
    free(h);
    free(other_tokens);
}

static void test_bad_input(void) {
    int32_t tok[1] = {0};
    ep_batcher_seq s[2] = {{tok, 1}, {tok, 0}};
    ep_batch_plan plan;
    ep_error err = {0};
    CHECK(ep_batch_plan_make(s, 2, 10, 4, &plan, &err) == EP_ERR_USAGE, "an empty sequence was accepted");
    ep_batch_plan_free(&plan);
    CHECK(ep_batch_plan_make(s, 1, 0, 4, &plan, &err) == EP_ERR_USAGE, "a budget of 0 tokens was accepted");
    ep_batch_plan_free(&plan);
    CHECK(ep_batch_plan_make(s, 1, 10, 0, &plan, &err) == EP_ERR_USAGE, "a limit of 0 sequences was accepted");
    ep_batch_plan_free(&plan);
    // A plan cut for more sequences than the storage holds is refused, not overflowed.
    ep_batcher_seq three[3] = {{tok, 1}, {tok, 1}, {tok, 1}};
    CHECK(ep_batch_plan_make(three, 3, 10, 3, &plan, &err) == EP_OK, "%s", err.message);
    ep_packed_batch pb;
    CHECK(ep_packed_batch_init(&pb, 10, 2, &err) == EP_OK, "%s", err.message);
    ep_batch b;
    CHECK(ep_batch_pack(&plan, 0, three, &pb, &b, &err) == EP_ERR_USAGE, "3 sequences packed into room for 2");
    ep_packed_batch_free(&pb);
    ep_batch_plan_free(&plan);
}

int main(void) {
    test_known_cut();
    test_longer_than_budget();
    test_random_groups();
    test_deterministic();
    test_bad_input();
    if (failures) {
        fprintf(stderr, "test_batcher: %d failures\n", failures);
        return 1;
    }
    printf("test_batcher: ok\n");
    return 0;
}
