/*
 * test_reader_split.c - the two halves of reading, as the pipeline uses them: one thread cuts
 * frames (ep_reader_next_frame) and copies their bytes; extractors elsewhere parse them
 * (record_extract.h), in any order, one extractor serving frames of several files and formats.
 * Every record, rejection, reason, id, line and blank flag must equal ep_reader_next's, for every
 * format: the real data of ../shared/data when it is there, and synthetic inputs with every kind
 * of rejection (API pages with empty "data" and non-object elements, \u0000 escapes inside a page,
 * records over --max-record-bytes, blank lines, NUL bytes, invalid UTF-8, empty files).
 */
#include "reader_test_util.h"
#include "record_extract.h"

typedef struct frame_copy {
    ep_frame frame;   /* bytes point at its own copy */
    char *reason;
} frame_copy;

typedef struct split_file {
    frame_copy *frames;
    size_t n;
    bool ended;       /* EP_FRAME_END reached (not damage) */
    ep_status status;
    char no_records[1024];
} split_file;

static split_file frame_all(ep_reader *r) {
    split_file s = {0};
    size_t cap = 0;
    for (;;) {
        ep_frame f;
        ep_frame_kind k;
        ep_error err;
        s.status = ep_reader_next_frame(r, &f, &k, &err);
        if (s.status != EP_OK) break;
        if (k == EP_FRAME_END) {
            s.ended = true;
            snprintf(s.no_records, sizeof s.no_records, "%s", ep_reader_no_records_reason(r));
            break;
        }
        if (s.n == cap) {
            cap = cap ? 2 * cap : 64;
            s.frames = realloc(s.frames, sizeof *s.frames * cap);
            if (!s.frames) abort();
        }
        frame_copy *c = &s.frames[s.n++];
        c->frame = f;
        c->frame.bytes = f.bytes || f.len ? dup_n(f.bytes, f.len) : dup_n("", 0);
        c->reason = f.reason ? dup_n(f.reason, strlen(f.reason)) : NULL;
        c->frame.reason = c->reason;
        CHECK((k == EP_FRAME_REJECTED) == (f.reason != NULL));
    }
    return s;
}

/* The records of frame i of s, extracted by x, appended to out. */
static void extract_frame(ep_extractor *x, const frame_copy *c, got_all *out) {
    ep_extractor_begin(x, &c->frame);
    ep_record rec;
    ep_read_kind kind;
    while (ep_extractor_next(x, &rec, &kind)) {
        out->v = realloc(out->v, sizeof *out->v * (out->n + 1));
        if (!out->v) abort();
        got_rec *o = &out->v[out->n++];
        memset(o, 0, sizeof *o);
        o->kind = kind;
        o->line = rec.line;
        o->blank = rec.blank;
        o->id = dup_n(rec.id, strlen(rec.id));
        if (kind == EP_READ_RECORD) {
            o->text = dup_n(rec.text, rec.text_len);
            o->text_len = rec.text_len;
            out->records++;
        } else {
            o->reason = dup_n(rec.reason, strlen(rec.reason));
            out->rejected++;
        }
    }
}

static void same(const got_all *a, const got_all *b, const char *what) {
    CHECKF(a->n == b->n, "%s: %zu records read whole, %zu split", what, a->n, b->n);
    for (size_t i = 0; i < a->n && i < b->n; i++) {
        const got_rec *p = &a->v[i], *q = &b->v[i];
        bool eq = p->kind == q->kind && p->line == q->line && p->blank == q->blank && strcmp(p->id, q->id) == 0 &&
                  (p->text ? q->text && p->text_len == q->text_len && memcmp(p->text, q->text, p->text_len) == 0
                           : !q->text) &&
                  (p->reason ? q->reason && strcmp(p->reason, q->reason) == 0 : !q->reason);
        if (!eq) {
            CHECKF(0, "%s: record %zu differs: line %llu/%llu, reason '%s' / '%s'", what, i,
                   (unsigned long long)p->line, (unsigned long long)q->line, p->reason ? p->reason : "",
                   q->reason ? q->reason : "");
            return;
        }
    }
}

/* Reads the inputs whole with ep_reader_next, then split (frames of every file first; extracted in
 * reverse order by one extractor for all files), and compares. */
static void check_split(const char *const *paths, size_t n, const ep_reader_options *o) {
    got_all *whole = calloc(n, sizeof *whole), *split = calloc(n, sizeof *split);
    split_file *files = calloc(n, sizeof *files);
    if (!whole || !split || !files) abort();
    for (size_t f = 0; f < n; f++) {
        whole[f] = read_path(paths[f], o);
        ep_reader *r = NULL;
        ep_error err;
        if (ep_reader_open(paths[f], o, &r, &err) == EP_OK) {
            files[f] = frame_all(r);
            ep_reader_free(r);
        }
        CHECKF(files[f].status == whole[f].status, "%s: framing ends with %d, reading with %d", paths[f],
               (int)files[f].status, (int)whole[f].status);
    }
    ep_extractor *x = NULL;
    ep_error err;
    CHECK(ep_extractor_create(o, &x, &err) == EP_OK);
    // Extracted last frame first, each frame's records kept apart, then put back in frame order.
    for (size_t f = n; f-- > 0;) {
        got_all *per = calloc(files[f].n ? files[f].n : 1, sizeof *per);
        if (!per) abort();
        for (size_t i = files[f].n; i-- > 0;) extract_frame(x, &files[f].frames[i], &per[i]);
        for (size_t i = 0; i < files[f].n; i++) {
            for (size_t k = 0; k < per[i].n; k++) {
                split[f].v = realloc(split[f].v, sizeof *split[f].v * (split[f].n + 1));
                if (!split[f].v) abort();
                split[f].v[split[f].n++] = per[i].v[k];
            }
            free(per[i].v);
        }
        free(per);
        // A file that gave no record at all: the one rejection ep_reader_next gives.
        if (split[f].n == 0 && files[f].ended) {
            split[f].v = calloc(1, sizeof *split[f].v);
            split[f].v[0] = (got_rec){.kind = EP_READ_REJECTED, .id = dup_n("", 0),
                                      .reason = dup_n(files[f].no_records, strlen(files[f].no_records))};
            split[f].n = 1;
        }
        same(&whole[f], &split[f], paths[f]);
    }
    ep_extractor_free(x);
    for (size_t f = 0; f < n; f++) {
        for (size_t i = 0; i < files[f].n; i++) {
            free(files[f].frames[i].frame.bytes);
            free(files[f].frames[i].reason);
        }
        free(files[f].frames);
        got_free(&whole[f]);
        got_free(&split[f]);
    }
    free(whole);
    free(split);
    free(files);
}

static const char *synth(const char *name, const char *text) { return tmp_write(name, text, strlen(text)); }

int main(void) {
    const char *pages = synth("pages.jsonl",
        "{\"data\": []}\n\n{\"data\": [{\"id\": \"1\", \"text\": \"one\"}, 7, {\"id\": \"3\"}, {\"id\": 44, \"text\": \"a\\u0000b\"}]}\n"
        "  \n{\"text\": \"x\", \"id\": 2}\n{\"data\": [{\"id\": \"5\", \"text\": null}]}\n{bad json\n[1, 2]\n"
        "{\"text\": \"\\ud800 lone\"}\n{\"id\": \"9\", \"text\": \"" "0123456789012345678901234567890123456789" "\"}\n"
        "{\"text\": \"no newline\"");
    const char *lines = synth("lines.txt", "plain\n\n  \r\nnul\0here\nbad \xff utf8\n\tlast");
    const char *only_empty = synth("only-empty.jsonl", "{\"data\": []}\n{\"data\": []}\n");
    const char *only_blank = synth("only-blank.jsonl", "\n \n");
    const char *empty = synth("empty.jsonl", "");
    const char *tweets = synth("tweets.js",
        "window.YTD.tweets.part0 = [\n{\"tweet\": {\"id_str\": \"1\", \"full_text\": \"hi\"}},\n 3,\n"
        "{\"tweet\": {\"id\": 12345678901234567890, \"full_text\": \"big id\"}},\n{\"tweet\": {}}\n]");
    const char *archive = synth("archive.json",
        "{\"account\": [{\"a\": 1}], \"tweets\": [{\"tweet\": {\"id_str\": \"7\", \"full_text\": \"t\"}}, [], "
        "{\"tweet\": {\"id_str\": \"8\", \"full_text\": \"" "long long long long long long long long long" "\"}}], \"like\": []}");
    const char *damaged = synth("damaged.js", "window.YTD.tweets.part0 = [\n{\"tweet\": {\"full_text\": \"ok\"}},\n{\"tweet\": ");
    // lines.txt holds a NUL byte: write it with its length.
    static const char lines_bytes[] = "plain\n\n  \r\nnul\0here\nbad \xff utf8\n\tlast";
    lines = tmp_write("lines.txt", lines_bytes, sizeof lines_bytes - 1); /* every byte but the literal's NUL */
    const char *all[] = {pages, lines, only_empty, only_blank, empty, tweets, archive, damaged};
    ep_reader_options small = {.max_record_bytes = 60};
    check_split(all, sizeof all / sizeof *all, NULL);
    check_split(all, sizeof all / sizeof *all, &small);
    ep_reader_options paths = {.text_path = "data.0.text", .id_path = "id"};
    check_split(all, sizeof all / sizeof *all, &paths);

    const char *data = getenv("EP_SHARED_DATA") ? getenv("EP_SHARED_DATA") : "../shared/data";
    char real[6][1024];
    const char *names[] = {"twitter-export/tweets.js", "twarc/kpop.jsonl", "twarc/brexit.jsonl", "twarc/flat.jsonl",
                           "twarc/streaming_output_with_error.jsonl", "tweeteval/emotion-test_text.txt"};
    const char *have[6];
    size_t n = 0;
    for (size_t i = 0; i < 6; i++) {
        snprintf(real[i], sizeof real[i], "%s/%s", data, names[i]);
        if (ep_test_exists(real[i])) have[n++] = real[i];
    }
    if (n) check_split(have, n, NULL);
    else printf("note: no shared data at %s: the real files are not compared\n", data);
    tmp_cleanup();
    return ep_test_finish("test_reader_split");
}
