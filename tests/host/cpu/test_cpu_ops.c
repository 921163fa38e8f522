/*
 * test_cpu_ops.c - properties of the reference ops that do not need a model:
 * float16 conversion against the compiler's _Float16, packed attention equal
 * to per-sequence attention (no key crosses a sequence), linear against a
 * plain loop, LayerNorm and pooling invariants, GELU identities.
 */
#include "cpu_head.h"
#include "cpu_ops.h"
#include "float16.h"
#include "test_util.h"

#include <math.h>
#include <stdint.h>

static void test_f16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ep_f16_to_f32((uint16_t)h);
        _Float16 ref;
        uint16_t hb = (uint16_t)h;
        memcpy(&ref, &hb, 2);
        if (isnan(f)) {
            bad += !isnan((float)ref);
            continue;
        }
        bad += f != (float)ref;
        bad += ep_f32_to_f16(f) != h;
    }
    CHECKF(bad == 0, "%d of 65536 halves do not round-trip or differ from _Float16", bad);
    // random floats of every magnitude, incl. subnormal-half range and overflow
    bad = 0;
    for (int i = 0; i < 2000000; i++) {
        float f = ep_test_frand() * ldexpf(1.0f, (int)(ep_test_frand() * 40.0f));
        _Float16 r = (_Float16)f;
        uint16_t rb;
        memcpy(&rb, &r, 2);
        if (ep_f32_to_f16(f) != rb) {
            if (bad++ < 5) fprintf(stderr, "f32 %.9g -> %04x, _Float16 gives %04x\n", f, ep_f32_to_f16(f), rb);
        }
    }
    CHECKF(bad == 0, "%d random floats convert differently from _Float16", bad);
}

static void test_attention_packing(void) {
    const int H = 64, heads = 4, n_seqs = 5;
    const int32_t seq_start[6] = {0, 3, 4, 20, 27, 60};
    const int T = seq_start[n_seqs];
    float *qkv = malloc(sizeof(float) * T * 3 * H), *packed = malloc(sizeof(float) * T * H),
          *single = malloc(sizeof(float) * T * H);
    for (int i = 0; i < T * 3 * H; i++) qkv[i] = 2.0f * ep_test_frand();
    ep_cpu_attention(packed, qkv, seq_start, n_seqs, H, heads);
    for (int s = 0; s < n_seqs; s++) {
        int32_t one[2] = {0, seq_start[s + 1] - seq_start[s]};
        ep_cpu_attention(single + (size_t)seq_start[s] * H, qkv + (size_t)seq_start[s] * 3 * H, one, 1, H, heads);
    }
    CHECK(memcmp(packed, single, sizeof(float) * T * H) == 0);
    // constant values in a sequence: softmax weights sum to one, so output == that constant
    for (int t = 0; t < T; t++)
        for (int i = 0; i < H; i++) qkv[(size_t)t * 3 * H + 2 * H + i] = (float)(t >= 4 && t < 20 ? 0.25 : -1.5);
    ep_cpu_attention(packed, qkv, seq_start, n_seqs, H, heads);
    float maxdiff = 0;
    for (int t = 4; t < 20; t++)
        for (int i = 0; i < H; i++) maxdiff = fmaxf(maxdiff, fabsf(packed[t * H + i] - 0.25f));
    CHECKF(maxdiff < 1e-6f, "attention leaks across sequences or does not normalise: %g", maxdiff);
    free(qkv);
    free(packed);
    free(single);
}

static void test_linear(void) {
    const int T = 7, n_in = 33, n_out = 19;
    float in[7 * 33], w[19 * 33], b[19], out[7 * 19];
    for (int i = 0; i < T * n_in; i++) in[i] = ep_test_frand();
    for (int i = 0; i < n_out * n_in; i++) w[i] = ep_test_frand();
    for (int i = 0; i < n_out; i++) b[i] = ep_test_frand();
    ep_cpu_linear(out, in, w, b, T, n_in, n_out);
    double maxerr = 0;
    for (int t = 0; t < T; t++)
        for (int o = 0; o < n_out; o++) {
            double acc = b[o];
            for (int i = 0; i < n_in; i++) acc += (double)in[t * n_in + i] * w[o * n_in + i];
            maxerr = fmax(maxerr, fabs(acc - out[t * n_out + o]));
        }
    CHECKF(maxerr < 1e-4, "linear differs from the plain loop by %g", maxerr);
}

static void test_layernorm_pool_gelu(void) {
    const int T = 6, H = 48;
    float x[6 * 48], res[6 * 48], g[48], b[48];
    for (int i = 0; i < T * H; i++) {
        x[i] = 3.0f * ep_test_frand() + 2.0f;
        res[i] = ep_test_frand();
    }
    for (int i = 0; i < H; i++) {
        g[i] = 1.0f;
        b[i] = 0.0f;
    }
    ep_cpu_residual_layernorm(x, res, g, b, T, H, 1e-12f);
    for (int t = 0; t < T; t++) {
        double mean = 0, var = 0;
        for (int i = 0; i < H; i++) mean += x[t * H + i];
        mean /= H;
        for (int i = 0; i < H; i++) var += (x[t * H + i] - mean) * (x[t * H + i] - mean);
        var /= H;
        CHECKF(fabs(mean) < 1e-5 && fabs(var - 1.0) < 1e-4, "row %d: mean %g var %g", t, mean, var);
    }
    const int32_t seq_start[3] = {0, 2, 6};
    float pooled[2 * 48];
    ep_cpu_pool_normalize(pooled, x, seq_start, 2, H, 0, 0);
    for (int i = 0; i < H; i++) CHECK(fabsf(pooled[i] - (x[i] + x[H + i]) / 2) < 1e-6f);
    ep_cpu_pool_normalize(pooled, x, seq_start, 2, H, 1, 1);
    double norm = 0;
    for (int i = 0; i < H; i++) norm += (double)pooled[H + i] * pooled[H + i];
    CHECKF(fabs(norm - 1.0) < 1e-5, "normalised row has squared norm %g", norm);
    for (int i = 0; i < H; i++) CHECK(fabsf(pooled[H + i] - x[2 * H + i] / sqrtf(H)) < 1e-3f);
    // GELU: gelu(x) - gelu(-x) == x; gelu(0) == 0; saturates to x and 0
    float v[6] = {0.0f, 1.3f, -1.3f, 8.0f, -8.0f, 0.5f};
    float w[6];
    memcpy(w, v, sizeof v);
    ep_cpu_gelu(w, 6);
    CHECK(w[0] == 0.0f);
    CHECK(fabsf((w[1] - w[2]) - 1.3f) < 1e-6f);
    CHECK(fabsf(w[3] - 8.0f) < 1e-6f && fabsf(w[4]) < 1e-6f);
    CHECK(fabsf(w[5] - 0.5f * 0.5f * (1.0f + erff(0.5f / sqrtf(2.0f)))) < 1e-7f);
}

/* RoBERTa positions against transformers' create_position_ids_from_input_ids written as it is there:
 * cumsum(ids != pad) * (ids != pad) + pad, for a sequence with padding ids inside it. */
static void test_positions(void) {
    const int32_t ids[] = {0, 5, 1, 7, 1, 9, 2};
    const int n = (int)(sizeof ids / sizeof ids[0]), pad = 1;
    int cumsum = 0, non_pad = 0;
    for (int t = 0; t < n; t++) {
        const int mask = ids[t] != pad;
        cumsum += mask;
        const int want = cumsum * mask + pad;
        CHECKF(ep_cpu_position(pad, ids[t], t, &non_pad) == want, "token %d: position %d", t, want);
    }
    non_pad = 0;
    for (int t = 0; t < n; t++) CHECK(ep_cpu_position(-1, ids[t], t, &non_pad) == t); /* BERT: the offset */
}

/* Every pooling mode on a sequence whose token t is the row (t + 1, -2 (t + 1)^2), with and without
 * the first two tokens left out (include_prompt false). */
static void test_pooling_modes(void) {
    const int H = 2, L = 5;
    float x[2 * 2 + 5 * 2];
    const int32_t seq_start[3] = {0, 2, 2 + L}; /* a 2-token sequence first, then the one checked */
    for (int t = 0; t < 2 + L; t++) {
        const int k = t - 2 + 1; /* the checked sequence's token numbers, from 1 */
        x[t * H] = (float)k;
        x[t * H + 1] = -2.0f * (float)(k * k);
    }
    const ep_pooling modes[6] = {EP_POOLING_CLS, EP_POOLING_MAX, EP_POOLING_MEAN, EP_POOLING_MEAN_SQRT_LEN,
                                 EP_POOLING_WEIGHTED_MEAN, EP_POOLING_LAST};
    for (int skip = 0; skip <= 2; skip += 2) {
        float out[2 * 12];
        ep_cpu_pooling(out, x, seq_start, 2, H, modes, 6, skip);
        const float *o = out + 12; /* the second sequence's row */
        double sum0 = 0, sum1 = 0, wsum = 0, w0 = 0, w1 = 0;
        for (int k = skip + 1; k <= L; k++) {
            sum0 += k, sum1 += -2.0 * k * k, wsum += k, w0 += (double)k * k, w1 += -2.0 * k * k * k;
        }
        const int n = L - skip;
        const double want[12] = {skip + 1, -2.0 * (skip + 1) * (skip + 1), L, -2.0 * (skip + 1) * (skip + 1),
                                 sum0 / n, sum1 / n, sum0 / sqrt(n), sum1 / sqrt(n), w0 / wsum, w1 / wsum, L,
                                 -2.0 * L * L};
        for (int i = 0; i < 12; i++)
            CHECKF(fabs(o[i] - want[i]) <= 1e-5 * fabs(want[i]) + 1e-6, "skip %d, value %d: %g, expected %g", skip, i,
                   o[i], want[i]);
    }
    /* A sequence shorter than what is left out: cls takes its first token, the others are zeros. */
    float out[2 * 12];
    ep_cpu_pooling(out, x, seq_start, 1, H, modes, 6, 3);
    CHECK(out[0] == x[0] && out[1] == x[1]);
    for (int i = 2; i < 12; i++) CHECKF(out[i] == 0.0f, "value %d of a fully left-out sequence: %g", i, out[i]);
}

int main(void) {
    test_positions();
    test_pooling_modes();
    test_f16();
    test_attention_packing();
    test_linear();
    test_layernorm_pool_gelu();
    return ep_test_finish("test_cpu_ops");
}
