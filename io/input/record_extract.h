/*
 * record_extract.h - the second half of reading: one framed record's raw bytes
 * (ep_frame, cut by the reader: ep_reader_next_frame) into its text and id, or
 * the reason it cannot be used. This is where JSON is parsed (a strict
 * scanner for plain records, json_scan.h; cJSON for everything else) and the
 * fields are taken out (reader_fields.h), so it is the costly half, and it
 * needs nothing of the file: any thread may run it, each with its own
 * extractor, on frames cut by one reader thread.
 *
 * ep_reader_next is exactly ep_reader_next_frame followed by this, so both
 * ways of reading give the same records, rejections and reasons byte for byte.
 * A frame yields zero or more records: one for a line or an array element, one
 * per element of an API v2 page's "data" (zero for an empty one), and for an
 * NDJSON frame never a blank (the framer drops blank NDJSON lines).
 */
#ifndef EP_RECORD_EXTRACT_H
#define EP_RECORD_EXTRACT_H

#include "reader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_extractor ep_extractor;

/* An extractor for records read with options (only text_path and id_path matter here; the
 * format comes with each frame). @return EP_OK and *out set, or EP_ERR_NOMEM. */
ep_status ep_extractor_create(const ep_reader_options *options, ep_extractor **out, ep_error *err);

/* Frees the extractor. Accepts NULL. */
void ep_extractor_free(ep_extractor *x);

/* Starts on frame (an EP_FRAME_RECORD or EP_FRAME_REJECTED), dropping what is left of the
 * previous one. frame->bytes must stay valid, and unchanged by anyone else, until the next
 * ep_extractor_begin; the extractor may write into them (it cuts a line's '\r'). */
void ep_extractor_begin(ep_extractor *x, const ep_frame *frame);

/* The frame's next record. rec's pointers stay valid until the next call on x.
 * @return true with rec and *kind (EP_READ_RECORD or EP_READ_REJECTED) set; false when
 * the frame holds no more records. */
bool ep_extractor_next(ep_extractor *x, ep_record *rec, ep_read_kind *kind);

/* Turns the fast path (plain JSON records read without a cJSON tree; json_scan.h) on (the default)
 * or off, for tests that check both paths give the same records. */
void ep_extractor_set_fast(ep_extractor *x, bool on);

/* @return how many records the fast path has returned so far. */
uint64_t ep_extractor_fast_records(const ep_extractor *x);

#ifdef __cplusplus
}
#endif

#endif /* EP_RECORD_EXTRACT_H */
