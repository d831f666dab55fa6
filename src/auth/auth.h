/* Who may talk to parley: tokens (made, hashed, never stored), the server's
 * copy of the users table that requests are checked against, and the brake
 * on repeated failures from one address. Thread-safe where it says so; no
 * I/O but the random source. */
#ifndef PARLEY_AUTH_H
#define PARLEY_AUTH_H
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Longer is not a token of ours: refused before any hashing. */
#define AUTH_TOKEN_MAX 127

/* auth.mode for a listening host: "on", "off", or "auto" (on unless the host
 * is a loopback address). Returns 1 when tokens are required. */
int auth_required(const char *mode, const char *listen_host);
/* 127.0.0.0/8, ::1 and "localhost". */
int auth_host_is_loopback(const char *host);

/* A new token: "pt_" and 43 base64url characters (256 random bits). Returns
 * 0, or -1 when the system has no randomness to give. */
int auth_token_new(char *out, size_t outlen);
/* SHA-256 of the token: what the store keeps. */
void auth_token_hash(const char *token, size_t len, unsigned char out[STORE_TOKEN_HASH_LEN]);
/* The token of an "Authorization: Bearer TOKEN" header value, or NULL. */
const char *auth_bearer(const char *header);

/* ---- the users the server checks tokens against (thread-safe) ---- */

typedef struct auth_users auth_users;
auth_users *auth_users_new(void);
void auth_users_free(auth_users *u);
/* Replaces the copy with a fresh read of the store. */
void auth_users_replace(auth_users *u, const struct store_user *users, int n);
/* The user whose token this is: 1 with *out filled, or 0. Every user's hash
 * is compared, each in constant time, so timing says nothing of which. */
int auth_users_find(auth_users *u, const char *token, size_t len, struct store_user *out);
/* 1 while user id exists and its token hash is still key. */
int auth_users_valid(auth_users *u, int64_t id, const unsigned char *key);
/* Users in the copy, and how many of them have a token. */
int auth_users_count(auth_users *u, int *with_token);

/* ---- the brake on guessing (one thread: the server's loop) ---- */

struct auth_limiter_params {
    int max_failures; /* within one window, then refused until it ends */
    int window_ms;
};
struct auth_limiter_params auth_limiter_default_params(void);

typedef struct auth_limiter auth_limiter;
auth_limiter *auth_limiter_new(const struct auth_limiter_params *p);
void auth_limiter_free(auth_limiter *l);
/* 0 when addr may try; else the seconds until it may. */
int auth_limiter_check(auth_limiter *l, const char *addr, int64_t now_ms);
void auth_limiter_failed(auth_limiter *l, const char *addr, int64_t now_ms);

#endif
