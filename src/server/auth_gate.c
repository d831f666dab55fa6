/* The server's side of auth: which user a request or a WebSocket acts for,
 * the brake on guessing, and keeping the users current while `parley users`
 * changes them (an I/O job re-reads the table every second, so the network
 * thread never touches the database). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/tls.h"
#include "core/clock.h"
#include "core/log.h"
#include "server/server_internal.h"

#define USERS_REFRESH_US 1000000
#define USERS_MAX 4096

static void local_user(struct session_user *user)
{
    memset(user, 0, sizeof *user);
    user->id = STORE_LOCAL_USER;
    snprintf(user->name, sizeof user->name, "local");
}

/* ---- keeping the users current ---- */

static void read_users(void *arg)
{
    server *srv = arg;
    struct store_user *u = malloc(sizeof *u * USERS_MAX);
    int n = u ? store_users_load(srv->env.db, u, USERS_MAX) : -1;
    if (n >= 0)
        auth_users_replace(srv->users, u, n);
    else
        log_warn("auth: cannot read the users; keeping the last list");
    free(u);
    atomic_store(&srv->users_reading, 0);
}

static void users_timer_fired(lws_sorted_usec_list_t *sul)
{
    server *srv = lws_container_of(sul, server, users_timer);
    if (srv->stopping)
        return;
    if (!atomic_exchange(&srv->users_reading, 1) && workers_submit(srv->env.io, read_users, srv))
        atomic_store(&srv->users_reading, 0);
    lws_sul_schedule(srv->ctx, 0, &srv->users_timer, users_timer_fired, USERS_REFRESH_US);
}

int server_auth_start(server *srv, char *err, size_t errlen)
{
    const struct parley_config *cfg = srv->cfg;
    if (cfg->tls_cert[0] && tls_check_pair(cfg->tls_cert, cfg->tls_key, err, errlen))
        return -1; /* the message names the file: tls.cert or tls.key */
    srv->auth_on = auth_required(cfg->auth_mode, cfg->listen_host);
    if (!srv->auth_on)
        return 0;
    if (!srv->env.db) {
        snprintf(err, errlen, "auth.mode: auth is on, and users live in the data dir, but data_dir is empty");
        return -1;
    }
    struct auth_limiter_params lp = auth_limiter_default_params();
    lp.max_failures = cfg->auth_max_failures;
    srv->users = auth_users_new();
    srv->limiter = auth_limiter_new(&lp);
    if (!srv->users || !srv->limiter) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    read_users(srv); /* start-up may wait; the loop never does */
    srv->env.authenticate = server_authenticate;
    srv->env.authorized = server_authorized;
    srv->env.auth_ud = srv;
    return 0;
}

void server_auth_stop(server *srv)
{
    auth_users_free(srv->users);
    auth_limiter_free(srv->limiter);
    srv->users = NULL;
    srv->limiter = NULL;
}

void server_auth_log(server *srv)
{
    const struct parley_config *cfg = srv->cfg;
    const char *scheme = cfg->tls_cert[0] ? "https" : "http";
    int loopback = auth_host_is_loopback(cfg->listen_host);
    if (srv->auth_on) {
        int with_token = 0;
        int n = auth_users_count(srv->users, &with_token);
        log_info("auth: on (auth.mode %s): %d user(s), %d with a token; TLS: %s", cfg->auth_mode, n, with_token,
                 cfg->tls_cert[0] ? cfg->tls_cert : "off");
        if (!with_token)
            log_warn("auth is on and no user has a token yet, so nobody can talk to parley: parley users add NAME");
        lws_sul_schedule(srv->ctx, 0, &srv->users_timer, users_timer_fired, USERS_REFRESH_US);
    } else {
        log_info("auth: off (auth.mode %s): everyone is the local user; TLS: %s", cfg->auth_mode,
                 cfg->tls_cert[0] ? cfg->tls_cert : "off");
    }
    if (!loopback && !srv->auth_on)
        log_warn("listening on %s with auth.mode off: anyone who can reach %s://%s/ can talk to parley and read its "
                 "memories and conversations",
                 cfg->listen_host, scheme, cfg->listen);
    if (!loopback && !cfg->tls_cert[0])
        log_info("other devices' browsers give the microphone only to https pages: parley tls self-signed DIR "
                 "(docs/phone.md)");
}

/* ---- checking ---- */

static enum session_auth check(server *srv, const char *peer, const char *token, struct session_user *user, char *why,
                               size_t whylen, int *retry_after_s)
{
    if (!srv->auth_on) {
        local_user(user);
        return SESSION_AUTH_OK;
    }
    int64_t now_ms = clock_now_us() / 1000;
    int wait_s = auth_limiter_check(srv->limiter, peer, now_ms);
    if (wait_s) {
        snprintf(why, whylen, "too many failed sign-ins from this address; try again in %d s", wait_s);
        if (retry_after_s)
            *retry_after_s = wait_s;
        return SESSION_AUTH_LIMITED;
    }
    struct store_user u;
    if (token && auth_users_find(srv->users, token, strlen(token), &u)) {
        memset(user, 0, sizeof *user);
        user->id = u.id;
        snprintf(user->name, sizeof user->name, "%s", u.name);
        memcpy(user->key, u.token_hash, sizeof user->key);
        return SESSION_AUTH_OK;
    }
    if (token) /* a wrong token counts; a missing one is a client that has not signed in yet */
        auth_limiter_failed(srv->limiter, peer, now_ms);
    snprintf(why, whylen, token ? "this token is not valid (parley users token NAME gives a new one)"
                                : "a token is needed: Authorization: Bearer TOKEN, or 'token' in start "
                                  "(parley users add NAME makes one)");
    return SESSION_AUTH_DENIED;
}

/* The token of an Authorization header; *given says whether one came. */
static const char *header_token(struct lws *wsi, char *buf, size_t len, int *given)
{
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    *given = n > 0;
    buf[0] = 0;
    if (n <= 0 || (size_t)n >= len || lws_hdr_copy(wsi, buf, (int)len, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0)
        return NULL; /* absent, or longer than any token of ours */
    return auth_bearer(buf);
}

static void peer_address(struct lws *wsi, char *out, size_t len)
{
    if (!lws_get_peer_simple(wsi, out, len))
        snprintf(out, len, "?");
}

enum session_auth server_auth_request(server *srv, struct lws *wsi, struct session_user *user, char *why,
                                      size_t whylen, int *retry_after_s)
{
    char peer[64], hdr[AUTH_TOKEN_MAX + 16];
    int given;
    peer_address(wsi, peer, sizeof peer);
    const char *token = header_token(wsi, hdr, sizeof hdr, &given);
    if (given && !token && srv->auth_on) {
        token = "-"; /* a malformed header is a wrong token, not a missing one */
    }
    return check(srv, peer, token, user, why, whylen, retry_after_s);
}

void server_auth_capture(struct conn *c)
{
    char hdr[AUTH_TOKEN_MAX + 16];
    peer_address(c->wsi, c->peer, sizeof c->peer);
    const char *token = header_token(c->wsi, hdr, sizeof hdr, &c->bearer_given);
    snprintf(c->bearer, sizeof c->bearer, "%s", token ? token : (c->bearer_given ? "-" : ""));
}

enum session_auth server_authenticate(void *ud, void *io_ud, const char *token, struct session_user *user, char *why,
                                      size_t whylen)
{
    server *srv = ud;
    struct conn *c = io_ud;
    /* The header (non-browser clients) first; then 'start''s field. */
    const char *t = c->bearer[0] ? c->bearer : token;
    return check(srv, c->peer, t, user, why, whylen, NULL);
}

int server_authorized(void *ud, const struct session_user *user)
{
    server *srv = ud;
    return !srv->auth_on || auth_users_valid(srv->users, user->id, user->key);
}
