/* test_md5.c - ep_md5 (llm's content_hash for export --to llm) against the RFC 1321 test suite and
 * against coreutils' md5sum, run at test time on messages of every length 0..200 (each padding case:
 * under 56 bytes left, 56..63, whole blocks). */
#include "md5.h"
#include "test_util.h"

/* Writes the hex of a 16-byte digest. */
static void hex16(const uint8_t d[16], char out[33]) {
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Runs `md5sum path` and copies the digest into hex. @return 0 on success. */
static int md5sum(const char *path, char hex[33]) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "md5sum '%s'", path);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    int ok = fscanf(p, "%32s", hex) == 1;
    int rc = pclose(p);
    return ok && rc == 0 && strlen(hex) == 32 ? 0 : -1;
}

int main(void) {
    static const struct {
        const char *msg;
        const char *digest;
    } rfc[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    char hex[33], want[33];
    uint8_t d[16];
    for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
        ep_md5(rfc[i].msg, strlen(rfc[i].msg), d);
        hex16(d, hex);
        CHECKF(strcmp(hex, rfc[i].digest) == 0, "md5(\"%s\") = %s, RFC 1321 says %s", rfc[i].msg, hex, rfc[i].digest);
    }

    char dir[512];
    if (!ep_test_mkdtemp(dir, sizeof dir, "md5")) {
        fprintf(stderr, "cannot make a temporary folder\n");
        return 1;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/msg", dir);
    uint8_t msg[200];
    uint64_t rng = 99;
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)ep_test_rand(&rng);
    for (size_t len = 0; len <= sizeof msg; len++) {
        CHECK(ep_test_write_file(path, msg, len) == 0);
        CHECK(md5sum(path, want) == 0);
        ep_md5(msg, len, d);
        hex16(d, hex);
        CHECKF(strcmp(hex, want) == 0, "%zu bytes: %s, md5sum %s", len, hex, want);
    }
    ep_test_rm_rf(dir);
    return ep_test_finish("test_md5");
}
