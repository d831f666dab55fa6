/* `parley users …` and `parley tls self-signed DIR`: the commands that make
 * parley safe to reach from other devices. They work on the same data dir
 * as serve, also while it runs (SQLite WAL; the server re-reads users). */
#include "auth/auth_cli.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "auth/tls.h"
#include "store/store.h"

#define MAX_LISTED 1000

static int valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > STORE_USER_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
            return 0;
    return 1;
}

static store *open_store(const char *data_dir, FILE *err)
{
    if (!data_dir[0]) {
        fprintf(err, "parley: users live in the data dir, and data_dir is empty\n");
        return NULL;
    }
    char path[1100], why[512];
    snprintf(path, sizeof path, "%s/parley.db", data_dir);
    struct store_params sp = store_default_params();
    sp.path = path;
    store *st = store_open(&sp, why, sizeof why);
    if (!st)
        fprintf(err, "parley: %s\n", why);
    return st;
}

/* A new token for name (added or re-keyed); the token is the last line. */
static int issue(store *st, const char *name, int add, FILE *out, FILE *err)
{
    char token[64], why[300] = "";
    unsigned char hash[STORE_TOKEN_HASH_LEN];
    if (auth_token_new(token, sizeof token)) {
        fprintf(err, "parley: the system has no randomness to make a token from\n");
        return 1;
    }
    auth_token_hash(token, strlen(token), hash);
    if (add) {
        int64_t id = store_user_add(st, name, hash, why, sizeof why);
        if (id <= 0) {
            fprintf(err, id == 0 ? "parley: a user named '%s' exists (parley users token %s gives them a new token)\n"
                                 : "parley: %s\n",
                    id == 0 ? name : why, name);
            return 1;
        }
    } else {
        int rc = store_user_set_token(st, name, hash);
        if (rc != 1) {
            fprintf(err, rc == 0 ? "parley: no user named '%s' (parley users list)\n" : "parley: cannot store the token of '%s'\n",
                    name);
            return 1;
        }
    }
    fprintf(out, "%s %s. Their token, shown only this once (parley keeps only its hash):\n%s\n",
            add ? "Added user" : "New token for", name, token);
    return 0;
}

static int list(store *st, FILE *out, FILE *err)
{
    static struct store_user users[MAX_LISTED];
    int n = store_users_load(st, users, MAX_LISTED);
    if (n < 0) {
        fprintf(err, "parley: cannot read the users\n");
        return 1;
    }
    fprintf(out, "%-24s %-20s %s\n", "NAME", "CREATED", "TOKEN");
    for (int i = 0; i < n; i++) {
        time_t t = (time_t)(users[i].created_ms / 1000);
        struct tm tm;
        char when[32] = "";
        if (gmtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
        fprintf(out, "%-24s %-20s %s\n", users[i].name, when,
                users[i].has_token ? "yes"
                : users[i].id == STORE_LOCAL_USER ? "none (auth off: everyone; parley users token local to sign in as it)"
                                                  : "none");
    }
    return 0;
}

int auth_cli_users(const char *data_dir, const char *sub, const char *name, FILE *out, FILE *err)
{
    int needs_name = sub && strcmp(sub, "list");
    if (!sub || (needs_name && !name) || (!needs_name && name) ||
        (strcmp(sub, "list") && strcmp(sub, "add") && strcmp(sub, "remove") && strcmp(sub, "token"))) {
        fputs(auth_cli_users_usage, err);
        return 2;
    }
    if (needs_name && !valid_name(name)) {
        fprintf(err, "parley: a user name is 1 to %d letters, digits, '.', '_' or '-'\n", STORE_USER_NAME_MAX);
        return 2;
    }
    store *st = open_store(data_dir, err);
    if (!st)
        return 1;
    int rc;
    if (!strcmp(sub, "list")) {
        rc = list(st, out, err);
    } else if (!strcmp(sub, "add") || !strcmp(sub, "token")) {
        rc = issue(st, name, !strcmp(sub, "add"), out, err);
    } else {
        char why[300] = "";
        int r = store_user_remove(st, name, why, sizeof why);
        if (r == 1)
            fprintf(out, "Removed user %s, with their conversations, memories and tables.\n", name);
        else if (r == 0)
            fprintf(err, "parley: no user named '%s' (parley users list)\n", name);
        else
            fprintf(err, "parley: %s\n", why);
        rc = r == 1 ? 0 : 1;
    }
    store_close(st);
    return rc;
}

int auth_cli_tls(const char *sub, const char *dir, FILE *out, FILE *err)
{
    if (!sub || strcmp(sub, "self-signed") || !dir) {
        fputs(auth_cli_tls_usage, err);
        return 2;
    }
    struct tls_made m;
    char why[600];
    if (tls_make_self_signed(dir, &m, why, sizeof why)) {
        fprintf(err, "parley: %s\n", why);
        return 1;
    }
    fprintf(out,
            "Wrote %s and %s (the server's certificate and key),\n"
            "signed by a one-off authority, %s (its key was not kept).\n"
            "Names: %s\n"
            "Certificate SHA-256: %s\n"
            "Authority SHA-256:   %s\n"
            "\n"
            "Serve with them:\n"
            "  PARLEY_TLS_CERT=%s PARLEY_TLS_KEY=%s PARLEY_LISTEN=0.0.0.0:8443 parley serve\n"
            "On a phone: copy %s to it and trust it\n"
            "  (iPhone: open it, install the profile, then Settings > General > About >\n"
            "  Certificate Trust Settings; Android: Settings > Security > Encryption &\n"
            "  credentials > Install a certificate > CA certificate),\n"
            "check that the authority's SHA-256 above is what the phone shows, then open\n"
            "https://<this machine's address>:8443/. docs/phone.md has every step.\n",
            m.cert, m.key, m.ca, m.names, m.fingerprint, m.ca_fingerprint, m.cert, m.key, m.ca);
    return 0;
}
