/* Tokens are 256 random bits, so a plain SHA-256 is enough to store them by
 * (there is nothing to brute-force); what the server compares is hashes, in
 * constant time. The limiter is a small table of fixed windows by address:
 * bounded, and the oldest window gives way to a new address. */
#include "auth/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define LIMITER_SLOTS 256

int auth_host_is_loopback(const char *host)
{
    return !strncmp(host, "127.", 4) || !strcmp(host, "::1") || !strcmp(host, "[::1]") ||
           !strcasecmp(host, "localhost");
}

int auth_required(const char *mode, const char *listen_host)
{
    if (!strcmp(mode, "on"))
        return 1;
    if (!strcmp(mode, "off"))
        return 0;
    return !auth_host_is_loopback(listen_host);
}

int auth_token_new(char *out, size_t outlen)
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char rnd[33]; /* 264 bits: 44 characters, the last one dropped */
    if (outlen < 3 + 43 + 1 || getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return -1;
    memcpy(out, "pt_", 3);
    size_t n = 3;
    for (size_t i = 0; i + 2 < sizeof rnd && n < 3 + 43; i += 3) {
        unsigned v = (unsigned)rnd[i] << 16 | (unsigned)rnd[i + 1] << 8 | rnd[i + 2];
        for (int k = 3; k >= 0 && n < 3 + 43; k--)
            out[n++] = b64url[(v >> (6 * k)) & 63];
    }
    out[n] = 0;
    return 0;
}

void auth_token_hash(const char *token, size_t len, unsigned char out[STORE_TOKEN_HASH_LEN])
{
    unsigned int n = 0;
    if (!EVP_Digest(token, len, out, &n, EVP_sha256(), NULL) || n != STORE_TOKEN_HASH_LEN)
        memset(out, 0, STORE_TOKEN_HASH_LEN); /* matches no stored hash: those are never all zero */
}

const char *auth_bearer(const char *header)
{
    if (strncasecmp(header, "Bearer ", 7))
        return NULL;
    header += 7;
    while (*header == ' ')
        header++;
    return *header ? header : NULL;
}

/* ---- users ---- */

struct auth_users {
    pthread_mutex_t lock;
    struct store_user *users;
    int n;
};

auth_users *auth_users_new(void)
{
    auth_users *u = calloc(1, sizeof *u);
    if (u)
        pthread_mutex_init(&u->lock, NULL);
    return u;
}

void auth_users_free(auth_users *u)
{
    if (!u)
        return;
    pthread_mutex_destroy(&u->lock);
    free(u->users);
    free(u);
}

void auth_users_replace(auth_users *u, const struct store_user *users, int n)
{
    struct store_user *copy = n > 0 ? malloc(sizeof *copy * (size_t)n) : NULL;
    if (n > 0 && !copy)
        return; /* keep the old copy rather than lock everyone out */
    if (copy)
        memcpy(copy, users, sizeof *copy * (size_t)n);
    pthread_mutex_lock(&u->lock);
    struct store_user *old = u->users;
    u->users = copy;
    u->n = n > 0 ? n : 0;
    pthread_mutex_unlock(&u->lock);
    free(old);
}

int auth_users_find(auth_users *u, const char *token, size_t len, struct store_user *out)
{
    if (!token || len == 0 || len > AUTH_TOKEN_MAX)
        return 0;
    unsigned char h[STORE_TOKEN_HASH_LEN];
    auth_token_hash(token, len, h);
    int found = -1;
    pthread_mutex_lock(&u->lock);
    for (int i = 0; i < u->n; i++) /* no early exit */
        if (u->users[i].has_token && !CRYPTO_memcmp(u->users[i].token_hash, h, sizeof h))
            found = i;
    if (found >= 0)
        *out = u->users[found];
    pthread_mutex_unlock(&u->lock);
    return found >= 0;
}

int auth_users_valid(auth_users *u, int64_t id, const unsigned char *key)
{
    int ok = 0;
    pthread_mutex_lock(&u->lock);
    for (int i = 0; i < u->n; i++)
        if (u->users[i].id == id)
            ok = u->users[i].has_token && !CRYPTO_memcmp(u->users[i].token_hash, key, STORE_TOKEN_HASH_LEN);
    pthread_mutex_unlock(&u->lock);
    return ok;
}

int auth_users_count(auth_users *u, int *with_token)
{
    pthread_mutex_lock(&u->lock);
    int n = u->n, t = 0;
    for (int i = 0; i < u->n; i++)
        t += u->users[i].has_token;
    pthread_mutex_unlock(&u->lock);
    if (with_token)
        *with_token = t;
    return n;
}

/* ---- the limiter ---- */

struct limiter_slot {
    char addr[64];
    int64_t window_start;
    int failures;
};

struct auth_limiter {
    struct auth_limiter_params p;
    struct limiter_slot slot[LIMITER_SLOTS];
};

struct auth_limiter_params auth_limiter_default_params(void)
{
    return (struct auth_limiter_params){.max_failures = 10, .window_ms = 60000};
}

auth_limiter *auth_limiter_new(const struct auth_limiter_params *p)
{
    auth_limiter *l = calloc(1, sizeof *l);
    if (l)
        l->p = *p;
    return l;
}

void auth_limiter_free(auth_limiter *l) { free(l); }

static struct limiter_slot *find_slot(auth_limiter *l, const char *addr, int64_t now_ms, int create)
{
    struct limiter_slot *oldest = &l->slot[0];
    for (int i = 0; i < LIMITER_SLOTS; i++) {
        struct limiter_slot *s = &l->slot[i];
        if (s->addr[0] && now_ms - s->window_start >= l->p.window_ms)
            s->addr[0] = 0; /* its window is over */
        if (s->addr[0] && !strcmp(s->addr, addr))
            return s;
        if (!s->addr[0] || (oldest->addr[0] && s->window_start < oldest->window_start))
            oldest = s;
    }
    if (!create)
        return NULL;
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->addr, sizeof oldest->addr, "%s", addr);
    oldest->window_start = now_ms;
    return oldest;
}

int auth_limiter_check(auth_limiter *l, const char *addr, int64_t now_ms)
{
    struct limiter_slot *s = find_slot(l, addr, now_ms, 0);
    if (!s || s->failures < l->p.max_failures)
        return 0;
    int64_t left = s->window_start + l->p.window_ms - now_ms;
    return (int)((left + 999) / 1000);
}

void auth_limiter_failed(auth_limiter *l, const char *addr, int64_t now_ms)
{
    struct limiter_slot *s = find_slot(l, addr, now_ms, 1);
    s->failures++;
}
