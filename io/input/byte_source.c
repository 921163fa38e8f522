/*
 * byte_source.c - file / stdin / memory bytes, zstd and gzip decompressed on
 * the fly (see byte_source.h).
 */
#include "byte_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define RAW_CAP (1u << 17)

struct ep_byte_source {
    char *name;
    int fd;                     /* -1 for a memory source */
    bool own_fd;                /* false for standard input */
    const unsigned char *mem;   /* memory source */
    size_t mem_len, mem_pos;
    unsigned char *raw;         /* compressed (or plain) bytes not yet used */
    size_t raw_pos, raw_end;
    bool raw_eof;
    uint64_t bytes_in;
    bool detected;
    ep_compression comp;
    ZSTD_DCtx *zstd;
    bool zstd_frame_done;
    z_stream gz;
    bool gz_init, gz_member_done;
    bool finished;
    ep_error pending;           /* corrupt data found after some bytes were produced: reported on the next read */
};

// ----------------------------------------------------------------------------
// The underlying bytes

/* Moves unread raw bytes to the front and reads more after them.
 * @return EP_OK (raw_eof set at the end), or EP_ERR_IO. */
static ep_status raw_fill(ep_byte_source *s, ep_error *err) {
    if (s->raw_pos > 0) {
        memmove(s->raw, s->raw + s->raw_pos, s->raw_end - s->raw_pos);
        s->raw_end -= s->raw_pos;
        s->raw_pos = 0;
    }
    if (s->raw_eof || s->raw_end == RAW_CAP) return EP_OK;
    if (s->fd < 0) {
        size_t n = s->mem_len - s->mem_pos;
        if (n > RAW_CAP - s->raw_end) n = RAW_CAP - s->raw_end;
        memcpy(s->raw + s->raw_end, s->mem + s->mem_pos, n);
        s->mem_pos += n;
        s->raw_end += n;
        s->bytes_in += n;
        if (n == 0) s->raw_eof = true;
        return EP_OK;
    }
    for (;;) {
        ssize_t n = read(s->fd, s->raw + s->raw_end, RAW_CAP - s->raw_end);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ep_error_set(err, EP_ERR_IO, "cannot read %s: %s", s->name, strerror(errno));
        if (n == 0) s->raw_eof = true;
        s->raw_end += (size_t)n;
        s->bytes_in += (uint64_t)n;
        return EP_OK;
    }
}

/* Fills the raw buffer until it holds at least want bytes or the data ends. */
static ep_status raw_want(ep_byte_source *s, size_t want, ep_error *err) {
    while (s->raw_end - s->raw_pos < want && !s->raw_eof) {
        ep_status st = raw_fill(s, err);
        if (st != EP_OK) return st;
    }
    return EP_OK;
}

static ep_status detect(ep_byte_source *s, ep_error *err) {
    ep_status st = raw_want(s, 4, err);
    if (st != EP_OK) return st;
    const unsigned char *p = s->raw + s->raw_pos;
    size_t n = s->raw_end - s->raw_pos;
    s->detected = true;
    if (n >= 4 && p[0] == 0x28 && p[1] == 0xB5 && p[2] == 0x2F && p[3] == 0xFD) {
        s->comp = EP_COMPRESSION_ZSTD;
        s->zstd = ZSTD_createDCtx();
        if (!s->zstd) return ep_error_set(err, EP_ERR_NOMEM, "out of memory creating a zstd decoder for %s", s->name);
        s->zstd_frame_done = true;
    } else if (n >= 2 && p[0] == 0x1F && p[1] == 0x8B) {
        s->comp = EP_COMPRESSION_GZIP;
        memset(&s->gz, 0, sizeof s->gz);
        if (inflateInit2(&s->gz, 15 + 16) != Z_OK)
            return ep_error_set(err, EP_ERR_NOMEM, "cannot create a gzip decoder for %s", s->name);
        s->gz_init = true;
    }
    return EP_OK;
}

// ----------------------------------------------------------------------------
// Decoders

static ep_status read_plain(ep_byte_source *s, unsigned char *buf, size_t cap, size_t *got, ep_error *err) {
    if (s->raw_pos == s->raw_end) {
        if (s->raw_eof) return EP_OK;
        ep_status st = raw_fill(s, err);
        if (st != EP_OK) return st;
    }
    size_t n = s->raw_end - s->raw_pos;
    if (n > cap) n = cap;
    memcpy(buf, s->raw + s->raw_pos, n);
    s->raw_pos += n;
    *got = n;
    return EP_OK;
}

static ep_status read_zstd(ep_byte_source *s, unsigned char *buf, size_t cap, size_t *got, ep_error *err) {
    for (;;) {
        if (s->raw_pos == s->raw_end && !s->raw_eof) {
            ep_status st = raw_fill(s, err);
            if (st != EP_OK) return st;
        }
        ZSTD_inBuffer in = {s->raw + s->raw_pos, s->raw_end - s->raw_pos, 0};
        ZSTD_outBuffer out = {buf, cap, 0};
        size_t r = ZSTD_decompressStream(s->zstd, &out, &in);
        s->raw_pos += in.pos;
        if (ZSTD_isError(r)) {
            ep_error_set(&s->pending, EP_ERR_FORMAT,
                         "%s: corrupt zstd data near compressed byte %llu (%s); check the file with `zstd -t`",
                         s->name, (unsigned long long)(s->bytes_in - (s->raw_end - s->raw_pos)), ZSTD_getErrorName(r));
            // The bytes decoded before the damage are good: hand them out first.
            if (out.pos > 0) {
                *got = out.pos;
                return EP_OK;
            }
            if (err) *err = s->pending;
            return EP_ERR_FORMAT;
        }
        // With no input taken and nothing produced the decoder's state has not moved (after a frame's end it
        // would ask for the next frame's header, which does not make the data truncated).
        if (in.pos > 0 || out.pos > 0) s->zstd_frame_done = r == 0;
        if (out.pos > 0) {
            *got = out.pos;
            return EP_OK;
        }
        if (s->raw_pos == s->raw_end && s->raw_eof) {
            if (!s->zstd_frame_done)
                return ep_error_set(err, EP_ERR_FORMAT,
                                    "%s: the zstd data ends in the middle of a frame: the file is truncated; "
                                    "copy or download it again",
                                    s->name);
            return EP_OK;
        }
    }
}

static ep_status read_gzip(ep_byte_source *s, unsigned char *buf, size_t cap, size_t *got, ep_error *err) {
    for (;;) {
        if (s->gz_member_done) {
            // A gzip file may hold several members back to back; anything else after one is ignored, as gzip -d does.
            ep_status st = raw_want(s, 2, err);
            if (st != EP_OK) return st;
            const unsigned char *p = s->raw + s->raw_pos;
            if (s->raw_end - s->raw_pos < 2 || p[0] != 0x1F || p[1] != 0x8B) {
                s->raw_pos = s->raw_end;
                s->finished = true;
                return EP_OK;
            }
            inflateReset(&s->gz);
            s->gz_member_done = false;
        }
        if (s->raw_pos == s->raw_end && !s->raw_eof) {
            ep_status st = raw_fill(s, err);
            if (st != EP_OK) return st;
        }
        size_t avail = s->raw_end - s->raw_pos;
        if (cap > UINT32_MAX) cap = UINT32_MAX;
        s->gz.next_in = s->raw + s->raw_pos;
        s->gz.avail_in = (uInt)avail;
        s->gz.next_out = buf;
        s->gz.avail_out = (uInt)cap;
        int r = inflate(&s->gz, Z_NO_FLUSH);
        s->raw_pos += avail - s->gz.avail_in;
        size_t produced = cap - s->gz.avail_out;
        if (r == Z_STREAM_END) {
            s->gz_member_done = true;
        } else if (r != Z_OK && !(r == Z_BUF_ERROR && produced == 0 && avail == 0)) {
            ep_error_set(&s->pending, EP_ERR_FORMAT,
                         "%s: corrupt gzip data near compressed byte %llu (%s); check the file with `gzip -t`",
                         s->name, (unsigned long long)(s->bytes_in - (s->raw_end - s->raw_pos)),
                         s->gz.msg ? s->gz.msg : zError(r));
            // The bytes inflated before the damage are good: hand them out first.
            if (produced > 0) {
                *got = produced;
                return EP_OK;
            }
            if (err) *err = s->pending;
            return EP_ERR_FORMAT;
        }
        if (produced > 0) {
            *got = produced;
            return EP_OK;
        }
        if (!s->gz_member_done && s->raw_pos == s->raw_end && s->raw_eof)
            return ep_error_set(err, EP_ERR_FORMAT,
                                "%s: the gzip data ends in the middle of a member: the file is truncated; "
                                "copy or download it again",
                                s->name);
    }
}

// ----------------------------------------------------------------------------
// Public interface

static ep_status source_new(const char *name, ep_byte_source **out, ep_error *err) {
    ep_byte_source *s = calloc(1, sizeof *s);
    if (s) s->name = strdup(name ? name : "(memory)");
    if (s && s->name) s->raw = malloc(RAW_CAP);
    if (!s || !s->name || !s->raw) {
        ep_byte_source_free(s);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory opening %s", name ? name : "(memory)");
    }
    s->fd = -1;
    *out = s;
    return EP_OK;
}

ep_status ep_byte_source_open(const char *path, ep_byte_source **out, ep_error *err) {
    *out = NULL;
    if (!path || !*path) return ep_error_set(err, EP_ERR_USAGE, "no input path given");
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ep_error_set(err, EP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (!is_stdin) close(fd);
        return ep_error_set(err, EP_ERR_IO, "%s is a folder; give the files inside it", path);
    }
    ep_byte_source *s = NULL;
    ep_status rc = source_new(is_stdin ? "(standard input)" : path, &s, err);
    if (rc != EP_OK) {
        if (!is_stdin) close(fd);
        return rc;
    }
    s->fd = fd;
    s->own_fd = !is_stdin;
    *out = s;
    return EP_OK;
}

ep_status ep_byte_source_open_memory(const void *data, size_t len, const char *name, ep_byte_source **out,
                                     ep_error *err) {
    *out = NULL;
    ep_byte_source *s = NULL;
    ep_status rc = source_new(name, &s, err);
    if (rc != EP_OK) return rc;
    s->mem = data;
    s->mem_len = data ? len : 0;
    *out = s;
    return EP_OK;
}

ep_status ep_byte_source_read(ep_byte_source *s, void *buf, size_t cap, size_t *got, ep_error *err) {
    *got = 0;
    if (s->pending.code != EP_OK) {
        if (err) *err = s->pending;
        return s->pending.code;
    }
    if (cap == 0 || s->finished) return EP_OK;
    if (!s->detected) {
        ep_status st = detect(s, err);
        if (st != EP_OK) return st;
    }
    switch (s->comp) {
    case EP_COMPRESSION_ZSTD: return read_zstd(s, buf, cap, got, err);
    case EP_COMPRESSION_GZIP: return read_gzip(s, buf, cap, got, err);
    default: return read_plain(s, buf, cap, got, err);
    }
}

ep_compression ep_byte_source_compression(const ep_byte_source *s) { return s->comp; }

uint64_t ep_byte_source_bytes_in(const ep_byte_source *s) { return s->bytes_in; }

void ep_byte_source_free(ep_byte_source *s) {
    if (!s) return;
    if (s->own_fd && s->fd >= 0) close(s->fd);
    ZSTD_freeDCtx(s->zstd);
    if (s->gz_init) inflateEnd(&s->gz);
    free(s->raw);
    free(s->name);
    free(s);
}
