/* test_setting_names.c - how library messages name a setting (common/setting_names.h): by the C API's
 * option name until a program installs its own spelling, by that spelling after, and by the option name
 * again where the program leaves a setting out or uninstalls its names. Also: every setting has an option
 * name, and an option name is never a command-line flag (a library caller has no flags). */
#include "setting_names.h"
#include "test_util.h"

int main(void) {
    CHECKF(strcmp(ep_setting_name(EP_SETTING_MAX_RECORD_BYTES), "max_record_bytes") == 0, "'%s'",
           ep_setting_name(EP_SETTING_MAX_RECORD_BYTES));
    CHECK(strcmp(ep_setting_name(EP_SETTING_OVERWRITE), "overwrite") == 0);
    for (int s = 0; s < EP_SETTING_COUNT; s++) {
        const char *name = ep_setting_name((ep_setting)s);
        CHECKF(name && *name && strcmp(name, "?") != 0 && name[0] != '-', "setting %d: '%s'", s,
               name ? name : "(null)");
    }
    CHECK(strcmp(ep_setting_name(EP_SETTING_COUNT), "?") == 0);
    CHECK(strcmp(ep_setting_name((ep_setting)-1), "?") == 0);

    // A program's spelling; a setting it leaves NULL keeps the option name.
    static const char *const flags[EP_SETTING_COUNT] = {
        [EP_SETTING_MAX_RECORD_BYTES] = "--max-record-bytes",
        [EP_SETTING_OUT_DIR] = "-o",
    };
    ep_setting_names_use(flags);
    CHECK(strcmp(ep_setting_name(EP_SETTING_MAX_RECORD_BYTES), "--max-record-bytes") == 0);
    CHECK(strcmp(ep_setting_name(EP_SETTING_OUT_DIR), "-o") == 0);
    CHECK(strcmp(ep_setting_name(EP_SETTING_OVERWRITE), "overwrite") == 0);

    ep_setting_names_use(NULL);
    CHECK(strcmp(ep_setting_name(EP_SETTING_MAX_RECORD_BYTES), "max_record_bytes") == 0);
    CHECK(strcmp(ep_setting_name(EP_SETTING_OUT_DIR), "out_dir") == 0);
    return ep_test_finish("test_setting_names");
}
