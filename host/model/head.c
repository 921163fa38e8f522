/* head.c - what a row is made of after the encoder: the pooling modes, the Dense modules, the
 * truncation and the normalisation a model and its run ask for, as widths and names (model.h). The
 * arithmetic itself belongs to each backend (host/cpu/cpu_head.c, kernels/head.cu). */
#include "model.h"
#include "setting_names.h"

#include <stdio.h>
#include <string.h>

int ep_model_pool_modes(const ep_model_config *c, ep_pooling modes[EP_MAX_POOL_MODES]) {
    if (c->n_pool_modes <= 1) {
        modes[0] = c->n_pool_modes == 1 ? c->pool_modes[0] : c->pooling;
        return 1;
    }
    memcpy(modes, c->pool_modes, sizeof(ep_pooling) * (size_t)c->n_pool_modes);
    return c->n_pool_modes;
}

int ep_model_pooled_dim(const ep_model_config *c) {
    return c->hidden * (c->n_pool_modes > 1 ? c->n_pool_modes : 1);
}

int ep_model_full_dim(const ep_model_config *c) {
    return c->n_dense > 0 ? c->dense[c->n_dense - 1].out : ep_model_pooled_dim(c);
}

int ep_model_output_dim(const ep_model *m) {
    const int full = ep_model_full_dim(&m->config);
    return m->run.dim > 0 && m->run.dim < full ? m->run.dim : full;
}

bool ep_model_normalizes(const ep_model *m) { return m->config.normalize || m->run.normalize; }

bool ep_model_head_is_simple(const ep_model *m) {
    ep_pooling modes[EP_MAX_POOL_MODES];
    const int n = ep_model_pool_modes(&m->config, modes);
    const bool skip = m->config.exclude_prompt && m->run.prompt_tokens > 0;
    return n == 1 && (modes[0] == EP_POOLING_MEAN || modes[0] == EP_POOLING_CLS) && m->config.n_dense == 0 && !skip &&
           ep_model_output_dim(m) == m->config.hidden;
}

int ep_model_max_tokens(const ep_model_config *c) {
    return c->positions == EP_POSITIONS_AFTER_PAD ? c->max_position - c->pad_token_id - 1 : c->max_position;
}

int ep_model_position_pad(const ep_model_config *c) {
    return c->positions == EP_POSITIONS_AFTER_PAD ? c->pad_token_id : -1;
}

const char *ep_pooling_name(ep_pooling mode) {
    switch (mode) {
    case EP_POOLING_MEAN: return "mean";
    case EP_POOLING_CLS: return "cls";
    case EP_POOLING_MAX: return "max";
    case EP_POOLING_MEAN_SQRT_LEN: return "mean_sqrt_len_tokens";
    case EP_POOLING_WEIGHTED_MEAN: return "weightedmean";
    case EP_POOLING_LAST: return "lasttoken";
    }
    return "?";
}

char *ep_model_pooling_string(const ep_model_config *c, char *buf, size_t cap) {
    ep_pooling modes[EP_MAX_POOL_MODES];
    const int n = ep_model_pool_modes(c, modes);
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "+" : "", ep_pooling_name(modes[i]));
    return buf;
}

const char *ep_activation_name(ep_activation act) {
    switch (act) {
    case EP_ACTIVATION_IDENTITY: return "Identity";
    case EP_ACTIVATION_TANH: return "Tanh";
    case EP_ACTIVATION_RELU: return "ReLU";
    case EP_ACTIVATION_GELU: return "GELU";
    case EP_ACTIVATION_SIGMOID: return "Sigmoid";
    case EP_ACTIVATION_SILU: return "SiLU";
    }
    return "?";
}

ep_status ep_model_set_run(ep_model *m, const ep_model_run *run, ep_error *err) {
    const int full = ep_model_full_dim(&m->config);
    if (run->dim < 0 || run->dim > full)
        return ep_error_set(err, EP_ERR_USAGE, "%s %d: this model's rows have %d values; choose 1 to %d",
                            ep_setting_name(EP_SETTING_DIM), run->dim, full, full);
    if (run->prompt_tokens < 0)
        return ep_error_set(err, EP_ERR_USAGE, "prompt_tokens %d is negative", run->prompt_tokens);
    m->run = *run;
    return EP_OK;
}
