/* error.c - ep_error helpers: errors are values that carry their own message. */
#include "embedpipe.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

ep_status ep_error_set(ep_error *err, ep_status code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

ep_status ep_error_prefix(ep_error *err, const char *fmt, ...) {
    if (!err) return EP_OK;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof err->message];
    memcpy(old, err->message, sizeof old);
    snprintf(err->message, sizeof err->message, "%s: %s", prefix, old);
    return err->code;
}

const char *ep_status_name(ep_status code) {
    switch (code) {
    case EP_OK: return "ok";
    case EP_ERR_IO: return "i/o error";
    case EP_ERR_FORMAT: return "malformed input";
    case EP_ERR_MODEL: return "model error";
    case EP_ERR_NOMEM: return "out of memory";
    case EP_ERR_USAGE: return "usage error";
    case EP_ERR_DEVICE: return "device error";
    case EP_ERR_MISMATCH: return "mismatch";
    case EP_ERR_INTERRUPTED: return "interrupted";
    case EP_ERR_BUSY: return "folder busy";
    }
    return "unknown error";
}

const char *ep_version(void) { return EP_VERSION_STRING; }
