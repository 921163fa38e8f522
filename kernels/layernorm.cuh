/*
 * layernorm.cuh - LayerNorm of one row held by one warp, shared by the
 * embedding and the residual kernels.
 *
 * A row of H = 64 * P values lives in registers: lane l holds the half2 pairs
 * l, l + 32, ..., so loads are coalesced. Mean, then the variance of the
 * deviations (two passes, as the CPU reference and PyTorch do), in fp32.
 */
#ifndef EP_KERNELS_LAYERNORM_CUH
#define EP_KERNELS_LAYERNORM_CUH

#include "common.cuh"

template <int P>
__device__ __forceinline__ void ep_layernorm_row_store(float (&v)[2 * P], const float *gamma, const float *beta,
                                                       __half *out_row, float eps) {
    constexpr int H = 64 * P;
    const int lane = threadIdx.x % 32;
    float sum = 0.0f;
    EP_UNROLL
    for (int k = 0; k < 2 * P; k++) sum += v[k];
    const float mean = ep_warp_sum(sum) / H;
    float sq = 0.0f;
    EP_UNROLL
    for (int k = 0; k < 2 * P; k++) {
        const float d = v[k] - mean;
        sq += d * d;
    }
    const float rstd = 1.0f / sqrtf(ep_warp_sum(sq) / H + eps);
    __half2 *out2 = reinterpret_cast<__half2 *>(out_row);
    EP_UNROLL
    for (int k = 0; k < P; k++) {
        const int c = lane + 32 * k; // half2 column
        const float a = (v[2 * k] - mean) * rstd * gamma[2 * c] + beta[2 * c];
        const float b = (v[2 * k + 1] - mean) * rstd * gamma[2 * c + 1] + beta[2 * c + 1];
        out2[c] = __floats2half2_rn(a, b);
    }
}

// Calls body.template operator()<P>() with P = hidden / 64, for the supported widths.
#define EP_DISPATCH_HIDDEN(hidden, P_BODY)                                                                  \
    switch ((hidden) / 64) {                                                                                \
    case 1: { constexpr int P = 1; P_BODY; } break;                                                         \
    case 2: { constexpr int P = 2; P_BODY; } break;                                                         \
    case 3: { constexpr int P = 3; P_BODY; } break;                                                         \
    case 4: { constexpr int P = 4; P_BODY; } break;                                                         \
    case 6: { constexpr int P = 6; P_BODY; } break;                                                         \
    case 8: { constexpr int P = 8; P_BODY; } break;                                                         \
    case 12: { constexpr int P = 12; P_BODY; } break;                                                       \
    case 16: { constexpr int P = 16; P_BODY; } break;                                                       \
    default: break;                                                                                         \
    }

// Rows (tokens) per 128-thread block: one warp each.
#define EP_LN_ROWS_PER_BLOCK 4

#endif /* EP_KERNELS_LAYERNORM_CUH */
