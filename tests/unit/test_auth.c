/* Tokens, the users copy, the brake on guessing, and TLS files: what the
 * server's auth rests on, without a server. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/tls.h"
#include "check.h"

static void test_tokens(void)
{
    char a[64], b[64];
    CHECK(auth_token_new(a, sizeof a) == 0 && auth_token_new(b, sizeof b) == 0);
    CHECK(strlen(a) == 46 && !strncmp(a, "pt_", 3) && strcmp(a, b));
    CHECK(strspn(a + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
    CHECK(auth_token_new(a, 20) == -1);
    unsigned char h1[STORE_TOKEN_HASH_LEN], h2[STORE_TOKEN_HASH_LEN];
    auth_token_hash("abc", 3, h1);
    /* SHA-256("abc") */
    static const unsigned char abc[] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    CHECK(!memcmp(h1, abc, sizeof abc));
    auth_token_hash("abd", 3, h2);
    CHECK(memcmp(h1, h2, sizeof h1));

    CHECK_STR(auth_bearer("Bearer pt_x"), "pt_x");
    CHECK_STR(auth_bearer("bearer   pt_x"), "pt_x");
    CHECK(auth_bearer("Basic dXNlcjpwYXNz") == NULL && auth_bearer("Bearer ") == NULL && auth_bearer("") == NULL);

    CHECK(auth_host_is_loopback("127.0.0.1") && auth_host_is_loopback("127.1.2.3") &&
          auth_host_is_loopback("localhost") && auth_host_is_loopback("::1"));
    CHECK(!auth_host_is_loopback("0.0.0.0") && !auth_host_is_loopback("192.168.1.5") &&
          !auth_host_is_loopback("127example.com"));
    CHECK(!auth_required("auto", "127.0.0.1") && auth_required("auto", "0.0.0.0") &&
          auth_required("on", "127.0.0.1") && !auth_required("off", "0.0.0.0"));
}

static void test_users(void)
{
    auth_users *u = auth_users_new();
    struct store_user list[3] = {{.id = 1, .name = "local"}, {.id = 2, .name = "ann", .has_token = 1},
                                 {.id = 3, .name = "bob", .has_token = 1}};
    auth_token_hash("pt_ann", 6, list[1].token_hash);
    auth_token_hash("pt_bob", 6, list[2].token_hash);
    auth_users_replace(u, list, 3);
    struct store_user found;
    CHECK(auth_users_find(u, "pt_bob", 6, &found) == 1 && found.id == 3 && !strcmp(found.name, "bob"));
    CHECK(auth_users_find(u, "pt_bo", 5, &found) == 0);
    CHECK(auth_users_find(u, "", 0, &found) == 0);
    char big[1000];
    memset(big, 'a', sizeof big);
    CHECK(auth_users_find(u, big, sizeof big, &found) == 0);
    int with = -1;
    CHECK(auth_users_count(u, &with) == 3 && with == 2);
    CHECK(auth_users_valid(u, 2, list[1].token_hash) && !auth_users_valid(u, 2, list[2].token_hash));
    /* a new token for ann, bob removed: both noticed */
    auth_token_hash("pt_ann2", 7, list[1].token_hash);
    unsigned char old_ann[STORE_TOKEN_HASH_LEN];
    auth_token_hash("pt_ann", 6, old_ann);
    auth_users_replace(u, list, 2);
    CHECK(!auth_users_valid(u, 2, old_ann) && auth_users_valid(u, 2, list[1].token_hash));
    CHECK(!auth_users_valid(u, 3, list[2].token_hash) && auth_users_find(u, "pt_bob", 6, &found) == 0);
    CHECK(!auth_users_valid(u, 1, old_ann)); /* the local user has no token to match */
    auth_users_free(u);
}

static void test_limiter(void)
{
    struct auth_limiter_params p = auth_limiter_default_params();
    auth_limiter *l = auth_limiter_new(&p);
    int64_t t = 1000000;
    for (int i = 0; i < p.max_failures; i++) {
        CHECK(auth_limiter_check(l, "10.0.0.1", t) == 0);
        auth_limiter_failed(l, "10.0.0.1", t + i);
    }
    int wait = auth_limiter_check(l, "10.0.0.1", t + 100);
    CHECK(wait > 0 && wait <= p.window_ms / 1000);
    CHECK(auth_limiter_check(l, "10.0.0.2", t + 100) == 0); /* others are not slowed */
    CHECK(auth_limiter_check(l, "10.0.0.1", t + p.window_ms) == 0); /* the window ends */
    /* bounded: thousands of addresses never grow it, and the newest is kept */
    char a[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(a, sizeof a, "10.1.%d.%d", i / 256, i % 256);
        for (int k = 0; k < p.max_failures; k++)
            auth_limiter_failed(l, a, t + 200000 + i);
    }
    CHECK(auth_limiter_check(l, a, t + 200000 + 5000) > 0);
    auth_limiter_free(l);
}

static void test_tls(void)
{
    char dir[] = "/tmp/parley-tls-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct tls_made m;
    char err[600] = "";
    CHECK(tls_make_self_signed(dir, &m, err, sizeof err) == 0);
    CHECK(strstr(m.names, "DNS:localhost") && strstr(m.names, "IP:127.0.0.1"));
    CHECK(strlen(m.fingerprint) == 32 * 3 - 1 && strcmp(m.fingerprint, m.ca_fingerprint));
    struct stat st;
    CHECK(stat(m.key, &st) == 0 && (st.st_mode & 077) == 0); /* the key is the owner's alone */
    CHECK(tls_check_pair(m.cert, m.key, err, sizeof err) == 0);
    char fp[100];
    CHECK(tls_fingerprint(m.cert, fp, sizeof fp, err, sizeof err) == 0 && !strcmp(fp, m.fingerprint));
    /* another pair's key does not fit: the message names both files */
    char other[sizeof dir + 8];
    snprintf(other, sizeof other, "%s/b", dir);
    struct tls_made m2;
    CHECK(tls_make_self_signed(other, &m2, err, sizeof err) == 0);
    CHECK(tls_check_pair(m.cert, m2.key, err, sizeof err) == -1 && strstr(err, m2.key) && strstr(err, "does not belong"));
    CHECK(tls_check_pair("/nonexistent.crt", m.key, err, sizeof err) == -1 && strstr(err, "/nonexistent.crt"));
    CHECK(tls_check_pair(m.key, m.key, err, sizeof err) == -1 && strstr(err, "not a PEM certificate"));
    CHECK(tls_check_pair(m.cert, m.cert, err, sizeof err) == -1 && strstr(err, "not a PEM private key"));
    const char *files[] = {m.cert, m.key, m.ca, m2.cert, m2.key, m2.ca};
    for (int i = 0; i < 6; i++)
        unlink(files[i]);
    rmdir(other);
    rmdir(dir);
}

int main(void)
{
    test_tokens();
    test_users();
    test_limiter();
    test_tls();
    return check_summary();
}
