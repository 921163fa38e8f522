/* backend.c - what every backend shares: the synchronous helper and free. */
#include "backend.h"

ep_status ep_backend_encode(ep_backend *backend, const ep_batch *batch, float *out_f32, uint16_t *out_f16,
                            ep_error *err) {
    ep_status st = backend->submit(backend, batch, out_f32, out_f16, err);
    if (st != EP_OK) return st;
    return backend->wait_oldest(backend, err);
}

void ep_backend_free(ep_backend *backend) {
    if (backend && backend->destroy) backend->destroy(backend);
}
