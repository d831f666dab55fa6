/* Users: a name and the hash of their current token (never the token). The
 * CLI adds, re-keys and removes them, also while a server runs on the same
 * file; the server reads the whole (small) table to check tokens. */
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"

int64_t store_user_add(store *st, const char *name, const unsigned char *token_hash, char *err, size_t errlen)
{
    sqlite3 *db = store_take(st);
    if (!db) {
        snprintf(err, errlen, "cannot open the database");
        return -1;
    }
    sqlite3_stmt *q = NULL;
    int64_t id = -1;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO users(name, token_hash, created_at, token_at) VALUES (?1, ?2, ?3, ?3)"
                           " ON CONFLICT(name) DO NOTHING",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(q, 2, token_hash, STORE_TOKEN_HASH_LEN, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 3, store_now_ms());
        if (sqlite3_step(q) == SQLITE_DONE)
            id = sqlite3_changes(db) ? sqlite3_last_insert_rowid(db) : 0;
    }
    if (id < 0)
        snprintf(err, errlen, "cannot add the user: %s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    store_give(st, db);
    return id;
}

int store_user_set_token(store *st, const char *name, const unsigned char *token_hash)
{
    sqlite3 *db = store_take(st);
    if (!db)
        return -1;
    sqlite3_stmt *q = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "UPDATE users SET token_hash=?2, token_at=?3 WHERE name=?1", -1, &q, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(q, 2, token_hash, STORE_TOKEN_HASH_LEN, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 3, store_now_ms());
        if (sqlite3_step(q) == SQLITE_DONE)
            rc = sqlite3_changes(db) > 0;
    }
    sqlite3_finalize(q);
    store_give(st, db);
    return rc;
}

int store_user_remove(store *st, const char *name, char *err, size_t errlen)
{
    err[0] = 0;
    sqlite3 *db = store_take(st);
    if (!db) {
        snprintf(err, errlen, "cannot open the database");
        return -1;
    }
    sqlite3_stmt *q = NULL;
    int64_t id = 0;
    int rc = -1;
    if (store_exec(db, "BEGIN IMMEDIATE"))
        goto out;
    if (sqlite3_prepare_v2(db, "SELECT id FROM users WHERE name=?1", -1, &q, NULL) != SQLITE_OK)
        goto rollback;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) == SQLITE_ROW)
        id = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    q = NULL;
    if (id == 0) {
        rc = 0;
        goto rollback;
    }
    if (id == STORE_LOCAL_USER) {
        snprintf(err, errlen, "the local user holds what is stored with auth off; it cannot be removed");
        goto rollback;
    }
    /* Messages go with their conversations (ON DELETE CASCADE). */
    static const char *const owned[] = {"conversations", "memories", "movies", "music", "projects", "users"};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s=?1", owned[i], strcmp(owned[i], "users") ? "user_id" : "id");
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
            goto rollback;
        sqlite3_bind_int64(q, 1, id);
        int s = sqlite3_step(q);
        sqlite3_finalize(q);
        q = NULL;
        if (s != SQLITE_DONE)
            goto rollback;
    }
    if (store_exec(db, "COMMIT") == 0) {
        store_give(st, db);
        return 1;
    }
rollback:
    if (rc < 0 && !err[0])
        snprintf(err, errlen, "cannot remove the user: %s", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    store_exec(db, "ROLLBACK");
out:
    if (rc < 0 && !err[0])
        snprintf(err, errlen, "cannot remove the user: %s", sqlite3_errmsg(db));
    store_give(st, db);
    return rc;
}

int store_users_load(store *st, struct store_user *out, int max)
{
    sqlite3 *db = store_take(st);
    if (!db)
        return -1;
    sqlite3_stmt *q = NULL;
    int n = 0;
    if (sqlite3_prepare_v2(db, "SELECT id, name, token_hash, created_at FROM users ORDER BY id", -1, &q, NULL) !=
        SQLITE_OK) {
        store_give(st, db);
        return -1;
    }
    int s = SQLITE_DONE;
    while (n < max && (s = sqlite3_step(q)) == SQLITE_ROW) {
        struct store_user *u = &out[n++];
        memset(u, 0, sizeof *u);
        u->id = sqlite3_column_int64(q, 0);
        snprintf(u->name, sizeof u->name, "%s", (const char *)sqlite3_column_text(q, 1));
        if (sqlite3_column_bytes(q, 2) == STORE_TOKEN_HASH_LEN) {
            memcpy(u->token_hash, sqlite3_column_blob(q, 2), STORE_TOKEN_HASH_LEN);
            u->has_token = 1;
        }
        u->created_ms = sqlite3_column_int64(q, 3);
    }
    if (n < max && s != SQLITE_DONE)
        n = -1;
    sqlite3_finalize(q);
    store_give(st, db);
    return n;
}
