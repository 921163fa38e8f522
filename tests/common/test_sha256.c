/* test_sha256.c - ep_sha256 against the FIPS 180-4 example vectors and against
 * coreutils' sha256sum, run at test time on generated messages (every length
 * around the padding boundaries, streamed in odd pieces) and on a large file. */
#include "sha256.h"
#include "test_util.h"

#include <sys/wait.h>

/* Runs `sha256sum path` and copies the digest into hex. @return 0 on success. */
static int sha256sum(const char *path, char hex[65]) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    int ok = fscanf(p, "%64s", hex) == 1;
    int rc = pclose(p);
    return ok && rc == 0 && strlen(hex) == 64 ? 0 : -1;
}

int main(void) {
    /* FIPS 180-4 / NIST CSRC example vectors (published standard values). */
    static const struct {
        const char *msg;
        const char *digest;
    } fips[] = {
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    char hex[65], want[65];
    for (size_t i = 0; i < sizeof fips / sizeof fips[0]; i++) {
        ep_sha256_hex(fips[i].msg, strlen(fips[i].msg), hex);
        CHECKF(strcmp(hex, fips[i].digest) == 0, "\"%s\": %s", fips[i].msg, hex);
    }
    {
        ep_sha256 ctx;
        ep_sha256_init(&ctx);
        char a[1000];
        memset(a, 'a', sizeof a);
        for (int i = 0; i < 1000; i++) ep_sha256_update(&ctx, a, sizeof a);
        ep_sha256_final_hex(&ctx, hex);
        CHECKF(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
               "a million 'a': %s", hex);
    }
    CHECK(ep_sha256_is_hex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    CHECK(!ep_sha256_is_hex("CDC76E5C9914FB9281A1C7E284D73E67F1809A48A497200E046D39CCC7112CD0"));
    CHECK(!ep_sha256_is_hex("cdc76e5c"));
    CHECK(!ep_sha256_is_hex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd00"));

    char probe[65];
    if (sha256sum("/dev/null", probe) != 0) {
        printf("SKIP: sha256sum (coreutils) is not available to cross-check against\n");
        return ep_test_failures ? 1 : EP_TEST_SKIP;
    }
    char dir[512];
    if (!ep_test_mkdtemp(dir, sizeof dir, "sha256")) {
        fprintf(stderr, "cannot create a scratch folder\n");
        return 1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/msg", dir);
    uint64_t rng = 0x9e3779b97f4a7c15ull;

    /* Every length from 0 to 300 covers the 55/56/63/64/119/120 padding edges. */
    uint8_t msg[300];
    for (size_t len = 0; len <= sizeof msg; len++) {
        for (size_t i = 0; i < len; i++) msg[i] = (uint8_t)ep_test_rand(&rng);
        CHECK(ep_test_write_file(path, msg, len) == 0);
        CHECK(sha256sum(path, want) == 0);
        ep_sha256_hex(msg, len, hex);
        CHECKF(strcmp(hex, want) == 0, "length %zu: %s, sha256sum %s", len, hex, want);
        /* The same message fed in random pieces. */
        ep_sha256 ctx;
        ep_sha256_init(&ctx);
        for (size_t off = 0; off < len;) {
            size_t piece = 1 + (size_t)(ep_test_rand(&rng) % 70);
            if (piece > len - off) piece = len - off;
            ep_sha256_update(&ctx, msg + off, piece);
            off += piece;
        }
        ep_sha256_final_hex(&ctx, hex);
        CHECKF(strcmp(hex, want) == 0, "length %zu streamed: %s, sha256sum %s", len, hex, want);
        ep_error e = {0};
        CHECK_OK(ep_sha256_file(path, hex, &e), &e);
        CHECKF(strcmp(hex, want) == 0, "length %zu via ep_sha256_file", len);
    }

    /* A large file, bigger than any read buffer, of an odd length. */
    size_t big = (48u << 20) + 37;
    uint8_t *data = malloc(big);
    CHECK(data != NULL);
    if (data) {
        for (size_t i = 0; i + 8 <= big; i += 8) {
            uint64_t r = ep_test_rand(&rng);
            memcpy(data + i, &r, 8);
        }
        for (size_t i = big / 8 * 8; i < big; i++) data[i] = (uint8_t)i;
        CHECK(ep_test_write_file(path, data, big) == 0);
        free(data);
        ep_error err = {0};
        CHECK_OK(ep_sha256_file(path, hex, &err), &err);
        CHECK(sha256sum(path, want) == 0);
        CHECKF(strcmp(hex, want) == 0, "48 MiB file: %s, sha256sum %s", hex, want);
    }

    ep_error err = {0};
    snprintf(path, sizeof path, "%s/does-not-exist", dir);
    CHECK(ep_sha256_file(path, hex, &err) == EP_ERR_IO);
    CHECKF(strstr(err.message, "does-not-exist") != NULL, "message should name the file: %s", err.message);
    ep_test_rm_rf(dir);
    return ep_test_finish("test_sha256");
}
