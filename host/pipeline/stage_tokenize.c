/*
 * stage_tokenize.c - tokenizer workers: each takes whole chunks, tokenises
 * the texts of this part's rows and hashes them. Chunks leave in any order;
 * the compute stage puts them back in order.
 */
#include "pipeline_internal.h"

#include <stdlib.h>
#include <xxhash.h>

void *ep_stage_tokenize(void *arg) {
    ep_pipeline *p = arg;
    double busy = 0;
    ep_chunk *c;
    while ((c = ep_queue_pop(&p->to_tokenize)) != NULL) {
        double t0 = ep_now();
        for (int i = 0; i < c->n && !p->failed && !ep_pipeline_should_abandon(p); i++) {
            ep_item *it = &c->items[i];
            if (!it->text) continue;
            it->hash = XXH3_64bits(it->text, it->text_len);
            it->ids = malloc(sizeof(int32_t) * (size_t)p->max_len);
            if (!it->ids) {
                ep_error err;
                ep_error_set(&err, EP_ERR_NOMEM, "tokenizer: out of memory");
                ep_pipeline_fail(p, &err);
                break;
            }
            it->n_tokens = ep_tokenizer_encode(p->tok, it->text, it->text_len, it->ids, p->max_len, &it->truncated);
            int32_t *fit = realloc(it->ids, sizeof(int32_t) * (size_t)it->n_tokens); /* keep a group's memory small */
            if (fit) it->ids = fit;
            // Unless it is stored with the row, the text is not needed any more: only its tokens and hash travel on.
            if (p->opt->no_text) {
                free(it->text);
                it->text = NULL;
            }
        }
        busy += ep_now() - t0;
        if (!ep_queue_push(&p->to_compute, c)) {
            for (int i = 0; i < c->n; i++) ep_item_clear(&c->items[i]);
            free(c);
        }
    }
    pthread_mutex_lock(&p->times_mu);
    p->times.tokenize += busy;
    pthread_mutex_unlock(&p->times_mu);
    return NULL;
}
