/* setting_names.c - the option names of the settings, and the program's own. */
#include "setting_names.h"

#include <stddef.h>

/* The C API's names: the fields of ep_run_options (host/pipeline/pipeline.h). */
static const char *const option_names[EP_SETTING_COUNT] = {
    [EP_SETTING_FORMAT] = "format",
    [EP_SETTING_TEXT_PATH] = "text_path",
    [EP_SETTING_ID_PATH] = "id_path",
    [EP_SETTING_MAX_RECORD_BYTES] = "max_record_bytes",
    [EP_SETTING_MAX_SEQ_LENGTH] = "max_seq_length",
    [EP_SETTING_SHARD_ROWS] = "rows_per_shard",
    [EP_SETTING_SKIP_BLANK] = "skip_blank",
    [EP_SETTING_PART] = "part_index/part_count",
    [EP_SETTING_OVERWRITE] = "overwrite",
    [EP_SETTING_REUSE] = "reuse_dir",
    [EP_SETTING_KEEP] = "keep",
    [EP_SETTING_CLEAN] = "clean",
    [EP_SETTING_NO_TEXT] = "no_text",
    [EP_SETTING_OUT_DIR] = "out_dir",
    /* The tools' options (host/tools, host/explore): their argument or field names. */
    [EP_SETTING_EXPORT_TO] = "format",
    [EP_SETTING_DB] = "db_path",
    [EP_SETTING_COLLECTION] = "collection",
    [EP_SETTING_MEMORY] = "memory_bytes",
    [EP_SETTING_DEVICE] = "device",
    [EP_SETTING_PRECISION] = "precision",
    [EP_SETTING_MIN_DIST] = "min_dist",
    [EP_SETTING_SPREAD] = "spread",
    [EP_SETTING_THREADS] = "threads",
    [EP_SETTING_PNG_SIZE] = "png_size",
    [EP_SETTING_DIM] = "dim",
    [EP_SETTING_PROMPT] = "prompt_name",
    [EP_SETTING_PROMPT_TEXT] = "prompt_text",
};

/* Written once before any run (see the header), read by every thread after. */
static const char *const *program_names;

const char *ep_setting_name(ep_setting s) {
    if ((unsigned)s >= EP_SETTING_COUNT) return "?";
    if (program_names && program_names[s]) return program_names[s];
    return option_names[s];
}

void ep_setting_names_use(const char *const *names) { program_names = names; }
