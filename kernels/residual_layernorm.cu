/*
 * residual_layernorm.cu - after the attention output projection and after the
 * feed-forward: x = LayerNorm(y + bias + x), fused so that the sum never goes
 * to memory. One warp per token row; x is the residual stream, updated in place.
 */
#include "layernorm.cuh"

template <int P>
static __global__ void __launch_bounds__(32 * EP_LN_ROWS_PER_BLOCK)
    bias_residual_layernorm_kernel(__half *x, const __half *y, const float *bias, const float *gamma,
                                   const float *beta, int n_tokens, float eps) {
    constexpr int H = 64 * P;
    const int lane = threadIdx.x % 32;
    const int t = blockIdx.x * EP_LN_ROWS_PER_BLOCK + threadIdx.x / 32;
    if (t >= n_tokens) return; // whole warps leave; no block barrier here
    const __half2 *y2 = reinterpret_cast<const __half2 *>(y + (size_t)t * H);
    const __half2 *x2 = reinterpret_cast<const __half2 *>(x + (size_t)t * H);
    float v[2 * P];
    EP_UNROLL
    for (int k = 0; k < P; k++) {
        const int c = lane + 32 * k;
        const float2 a = __half22float2(y2[c]), r = __half22float2(x2[c]);
        v[2 * k] = a.x + bias[2 * c] + r.x;
        v[2 * k + 1] = a.y + bias[2 * c + 1] + r.y;
    }
    ep_layernorm_row_store<P>(v, gamma, beta, x + (size_t)t * H, eps);
}

extern "C" ep_status ep_cuda_bias_residual_layernorm(uint16_t *x, const uint16_t *y, const float *bias,
                                                     const float *gamma, const float *beta, int n_tokens, int hidden,
                                                     float eps, ep_cuda_stream stream, ep_error *err) {
    if (n_tokens <= 0) return EP_OK;
    const unsigned blocks = ep_div_up(n_tokens, EP_LN_ROWS_PER_BLOCK);
    __half *xh = reinterpret_cast<__half *>(x);
    const __half *yh = reinterpret_cast<const __half *>(y);
    bool launched = false;
    EP_DISPATCH_HIDDEN(hidden, {
        EP_LAUNCH(bias_residual_layernorm_kernel<P>, blocks, 32 * EP_LN_ROWS_PER_BLOCK, 0, stream, xh, yh, bias, gamma,
                  beta, n_tokens, eps);
        launched = true;
    })
    if (!launched)
        return ep_error_set(err, EP_ERR_USAGE, "ep_cuda_bias_residual_layernorm: hidden %d unsupported", hidden);
    EP_LAUNCH_CHECK(err);
    return EP_OK;
}
