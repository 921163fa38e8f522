/*
 * setting_names.h - how messages name the settings a user can change.
 *
 * Library code says what to change when it rejects a record or refuses a
 * folder ("raise max_record_bytes to read it"), but the library does not know
 * how its caller spells that setting: the C API calls it by its option name
 * (the fields of ep_run_options: "max_record_bytes"), the command
 * line by its flag ("--max-record-bytes"), the Python package by a keyword.
 * So messages name a setting through ep_setting_name(), and a front end that
 * spells settings its own way installs its names once, at start-up, before
 * any run (the CLI does, in main()). The names are process-wide on purpose:
 * they are the vocabulary of the program the user runs, and passing them
 * through every reader and stage only to spell a word would touch every
 * signature.
 */
#ifndef EP_SETTING_NAMES_H
#define EP_SETTING_NAMES_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ep_setting {
    EP_SETTING_FORMAT,            /* the input format */
    EP_SETTING_TEXT_PATH,         /* the dotted path of the text field */
    EP_SETTING_ID_PATH,           /* the dotted path of the id field */
    EP_SETTING_MAX_RECORD_BYTES,  /* the largest record read */
    EP_SETTING_MAX_SEQ_LENGTH,    /* tokens per text */
    EP_SETTING_SHARD_ROWS,        /* rows per shard */
    EP_SETTING_SKIP_BLANK,        /* skip blank lines */
    EP_SETTING_PART,              /* which part of a split job */
    EP_SETTING_OVERWRITE,         /* replace what the output folder holds */
    EP_SETTING_REUSE,             /* copy unchanged rows from an earlier output */
    EP_SETTING_KEEP,              /* the kept fields */
    EP_SETTING_CLEAN,             /* the text cleaning steps */
    EP_SETTING_NO_TEXT,           /* do not store the texts */
    EP_SETTING_OUT_DIR,           /* the output folder */
    EP_SETTING_EXPORT_TO,         /* export: the format written */
    EP_SETTING_DB,                /* export to llm: the SQLite file */
    EP_SETTING_COLLECTION,        /* export to llm: the collection */
    EP_SETTING_MEMORY,            /* related/cluster: the memory budget of the row blocks */
    EP_SETTING_DEVICE,            /* where the model runs: cpu, cuda, cuda:N */
    EP_SETTING_PRECISION,         /* the arithmetic of the backend */
    EP_SETTING_MIN_DIST,             /* the map's smallest distance between points */
    EP_SETTING_SPREAD,               /* the map's scale of the embedded points */
    EP_SETTING_THREADS,              /* worker threads */
    EP_SETTING_PNG_SIZE,             /* the still image's size */
    EP_SETTING_DIM,                  /* the row width kept (Matryoshka truncation) */
    EP_SETTING_PROMPT,               /* the name of a model's prompt put before each text */
    EP_SETTING_PROMPT_TEXT,          /* a prompt given as text */
    EP_SETTING_COUNT
} ep_setting;

/* @return how the program names setting s: the installed name, else the C
 * API's option name ("max_record_bytes"); never NULL. */
const char *ep_setting_name(ep_setting s);

/* Installs the program's names, indexed by ep_setting (a NULL entry keeps the
 * option name). Call once, before any run starts; the array must outlive the
 * process's use of the library. NULL restores the option names. */
void ep_setting_names_use(const char *const *names);

#ifdef __cplusplus
}
#endif

#endif /* EP_SETTING_NAMES_H */
