/*
 * manifest_job.c - "is this the same job?": whether two manifests describe
 * rows that may be mixed (a run resumed in its folder, a previous output
 * reused, the parts of a merge). One comparison, so that resume, --reuse and
 * merge cannot drift apart on what makes a job.
 */
#include "manifest.h"
#include "setting_names.h"

#include <stdio.h>
#include <string.h>

#define DIFF_S(field, what)                                                                                  \
    if (strcmp(a->field, b->field) != 0) {                                                                   \
        snprintf(why, cap, "%s: \"%s\" vs \"%s\"", what, a->field, b->field);                                \
        return why;                                                                                          \
    }
#define DIFF_U(field, what)                                                                                  \
    if ((uint64_t)a->field != (uint64_t)b->field) {                                                          \
        snprintf(why, cap, "%s: %llu vs %llu", what, (unsigned long long)a->field, (unsigned long long)b->field); \
        return why;                                                                                          \
    }

/* The same, for a field that a setting decides: the label is pre, the setting's name, post (the caller's
 * spelling, see setting_names.h). */
#define DIFF_SET_S(field, pre, setting, post)                                                                \
    if (strcmp(a->field, b->field) != 0) {                                                                   \
        snprintf(why, cap, "%s%s%s: \"%s\" vs \"%s\"", pre, ep_setting_name(setting), post, a->field, b->field); \
        return why;                                                                                          \
    }
#define DIFF_SET_U(field, pre, setting, post)                                                                \
    if ((uint64_t)a->field != (uint64_t)b->field) {                                                          \
        snprintf(why, cap, "%s%s%s: %llu vs %llu", pre, ep_setting_name(setting), post,                       \
                 (unsigned long long)a->field, (unsigned long long)b->field);                                \
        return why;                                                                                          \
    }

static const char *inputs_differ(const ep_manifest *a, const ep_manifest *b, unsigned what, char *why, size_t cap) {
    DIFF_U(n_inputs, "the number of inputs");
    for (size_t i = 0; i < a->n_inputs; i++) {
        const ep_manifest_input *x = &a->inputs[i], *y = &b->inputs[i];
        if (strcmp(x->path, y->path) != 0) {
            snprintf(why, cap, "input %zu: %s vs %s (the same inputs, named by the same paths)", i + 1, x->path,
                     y->path);
            return why;
        }
        if ((what & EP_JOB_INPUT_FORMATS) && strcmp(x->format, y->format) != 0) {
            snprintf(why, cap, "input %s was read as %s vs %s", x->path, x->format, y->format);
            return why;
        }
        // A damaged input may have been repaired since: the caller decides what that means.
        if (x->size != y->size && !((what & EP_JOB_DAMAGED_MAY_CHANGE) && x->damage.present)) {
            snprintf(why, cap, "input %s had %llu vs %llu bytes (it changed)", x->path, (unsigned long long)x->size,
                     (unsigned long long)y->size);
            return why;
        }
    }
    return NULL;
}

const char *ep_manifest_same_job(const ep_manifest *a, const ep_manifest *b, unsigned what, char *why, size_t cap) {
    if (what & EP_JOB_MODEL) {
        DIFF_S(model_sha256, "the model (SHA-256 of model.safetensors)");
        DIFF_S(dense_sha256, "the model's Dense modules (SHA-256 of their weights)");
        DIFF_SET_U(dim, "the vector width (", EP_SETTING_DIM, ")");
        if (strcmp(a->prompt, b->prompt) != 0) {
            snprintf(why, cap, "the prompt put before every text (%s, %s): \"%s\" vs \"%s\"",
                     ep_setting_name(EP_SETTING_PROMPT), ep_setting_name(EP_SETTING_PROMPT_TEXT), a->prompt, b->prompt);
            return why;
        }
        DIFF_SET_U(max_seq_length, "", EP_SETTING_MAX_SEQ_LENGTH, "");
        DIFF_U(null_device, "the device (1 = null: zero rows, not embeddings)");
        // A folder of an older version records none: nothing to compare.
        if (a->precision[0] && b->precision[0])
            DIFF_SET_S(precision, "", EP_SETTING_PRECISION, " (as run: auto resolves per machine)");
    }
    if (what & EP_JOB_WRITER) {
        DIFF_S(model_name, "the model name (its folder name)");
        DIFF_S(pooling, "the pooling");
        DIFF_U(normalized, "normalisation");
        DIFF_S(tool_version, "the embedpipe version");
    }
    if (what & EP_JOB_READING) {
        DIFF_SET_S(text_path, "", EP_SETTING_TEXT_PATH, "");
        DIFF_SET_S(id_path, "", EP_SETTING_ID_PATH, "");
        DIFF_SET_S(run.format, "", EP_SETTING_FORMAT, "");
        DIFF_SET_U(run.shard_rows, "", EP_SETTING_SHARD_ROWS, "");
        DIFF_SET_U(run.max_record_bytes, "", EP_SETTING_MAX_RECORD_BYTES, "");
        DIFF_SET_U(run.skip_blank, "", EP_SETTING_SKIP_BLANK, " (1 = given)");
        DIFF_SET_S(run.clean, "", EP_SETTING_CLEAN, " (it changes the texts embedded)");
    }
    if (what & EP_JOB_KEPT) {
        DIFF_SET_U(run.text, "the texts kept (1 = kept, 0 = ", EP_SETTING_NO_TEXT, ")");
        DIFF_SET_S(run.keep, "", EP_SETTING_KEEP, "");
    }
    if (what & EP_JOB_PART) {
        DIFF_SET_U(run.part_count, "the number of parts (", EP_SETTING_PART, " I/N)");
        DIFF_SET_U(run.part_index, "the part (", EP_SETTING_PART, " I/N)");
    }
    if (what & EP_JOB_READING) return inputs_differ(a, b, what, why, cap);
    return NULL;
}
