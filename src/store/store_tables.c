/* The user's structured data: one descriptor per table drives the tools'
 * schemas and the SQL, so column names in SQL come only from here, never
 * from what a client or model sends; values are always bound. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

static const struct store_column movie_cols[] = {
    {"title", "string", "the film's title"},
    {"year", "integer", "release year"},
    {"rating", "number", "the user's rating from 0 to 10"},
    {"notes", "string", "anything else the user said about it"},
};
static const struct store_column music_cols[] = {
    {"kind", "string", "artist, album or track"},
    {"name", "string", "the artist's, album's or track's name"},
    {"artist", "string", "for albums and tracks: who made it"},
    {"rating", "number", "how much the user likes it, 0 to 10"},
    {"notes", "string", "anything else the user said about it"},
};
static const struct store_column project_cols[] = {
    {"name", "string", "the project's name"},
    {"status", "string", "idea, active, paused or done"},
    {"notes", "string", "what the user said about it"},
};

#define N(a) ((int)(sizeof a / sizeof a[0]))
static const struct store_table tables[] = {
    {"movies", "films the user has seen or wants to, with ratings", {"title"}, movie_cols, N(movie_cols)},
    {"music", "artists, albums and tracks the user likes", {"kind", "name", "artist"}, music_cols, N(music_cols)},
    {"projects", "the user's projects, with status and notes", {"name"}, project_cols, N(project_cols)},
};

const struct store_table *store_tables(int *n)
{
    *n = N(tables);
    return tables;
}

const struct store_table *store_table_find(const char *name)
{
    for (int i = 0; i < N(tables); i++)
        if (!strcmp(tables[i].name, name))
            return &tables[i];
    return NULL;
}

static int is_key(const struct store_table *t, const char *col)
{
    for (int i = 0; i < 3 && t->key[i]; i++)
        if (!strcmp(t->key[i], col))
            return 1;
    return 0;
}

/* Binds a JSON value to a column of the given type; -1 if it does not fit. */
static int bind_value(sqlite3_stmt *q, int idx, const struct store_column *c, const cJSON *v)
{
    if (cJSON_IsNull(v))
        return sqlite3_bind_null(q, idx) == SQLITE_OK ? 0 : -1;
    if (!strcmp(c->type, "string")) {
        if (!cJSON_IsString(v))
            return -1;
        return sqlite3_bind_text(q, idx, v->valuestring, -1, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : -1;
    }
    double d;
    if (cJSON_IsNumber(v))
        d = v->valuedouble;
    else if (cJSON_IsString(v) && v->valuestring[0]) { /* models often quote numbers */
        char *end;
        d = strtod(v->valuestring, &end);
        if (*end)
            return -1;
    } else {
        return -1;
    }
    if (d != d) /* NaN from a quoted "nan" */
        return -1;
    if (!strcmp(c->type, "integer")) {
        if (!(d >= -9.2e18 && d <= 9.2e18)) /* past int64 the cast is undefined (found by fuzz_tool_args) */
            return -1;
        return sqlite3_bind_int64(q, idx, (sqlite3_int64)d) == SQLITE_OK ? 0 : -1;
    }
    return sqlite3_bind_double(q, idx, d) == SQLITE_OK ? 0 : -1;
}

/* A key column the caller did not give: '' for text keys (music's artist). */
static const cJSON *key_value(const struct store_table *t, const cJSON *fields, const char *col, char *err,
                              size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(fields, col);
    if (v && !cJSON_IsNull(v))
        return v;
    if (!strcmp(col, t->key[0])) {
        snprintf(err, errlen, "%s: '%s' is required", t->name, col);
        return NULL;
    }
    static const cJSON empty = {.type = cJSON_String, .valuestring = ""};
    return &empty;
}

static const struct store_column *column(const struct store_table *t, const char *name)
{
    for (int i = 0; i < t->ncolumns; i++)
        if (!strcmp(t->columns[i].name, name))
            return &t->columns[i];
    return NULL;
}

static int check_fields(const struct store_table *t, const cJSON *fields, char *err, size_t errlen)
{
    if (!cJSON_IsObject(fields)) {
        snprintf(err, errlen, "%s: the arguments must be an object", t->name);
        return -1;
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, fields)
    {
        if (!column(t, f->string)) {
            snprintf(err, errlen, "%s has no field '%s'", t->name, f->string);
            return -1;
        }
    }
    return 0;
}

/* Rows are the user's: every statement binds the user's id here. */
#define USER_PARAM 20
#define USER_PARAM_SQL "?20"

/* "WHERE user_id=?20 AND k1=?1 AND k2=?2" for the key columns; returns the
 * key count. */
static int key_clause(const struct store_table *t, char *sql, size_t len)
{
    int n = 0;
    size_t used = strlen(sql);
    used += (size_t)snprintf(sql + used, len - used, " WHERE user_id=" USER_PARAM_SQL);
    for (; n < 3 && t->key[n]; n++)
        used += (size_t)snprintf(sql + used, len - used, " AND %s=?%d", t->key[n], n + 1);
    return n;
}

/* "SELECT id, <the table's columns>, updated_at FROM t": the owner stays
 * out of what tools and the API see. */
static void select_columns(const struct store_table *t, char *sql, size_t len)
{
    size_t used = (size_t)snprintf(sql, len, "SELECT id");
    for (int i = 0; i < t->ncolumns; i++)
        used += (size_t)snprintf(sql + used, len - used, ", %s", t->columns[i].name);
    snprintf(sql + used, len - used, ", updated_at FROM %s", t->name);
}

static cJSON *select_row(sqlite3 *db, int64_t user_id, const struct store_table *t, const cJSON *const *keys)
{
    char sql[512] = "";
    select_columns(t, sql, sizeof sql);
    int n = key_clause(t, sql, sizeof sql);
    sqlite3_stmt *q = NULL;
    cJSON *row = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, USER_PARAM, user_id);
        for (int i = 0; i < n; i++)
            bind_value(q, i + 1, column(t, t->key[i]), keys[i]);
        if (sqlite3_step(q) == SQLITE_ROW)
            row = store_row_json(q);
    }
    sqlite3_finalize(q);
    return row;
}

cJSON *store_table_save(store *st, int64_t user_id, const struct store_table *t, const cJSON *fields, char *err, size_t errlen)
{
    if (check_fields(t, fields, err, errlen))
        return NULL;
    const cJSON *keys[3] = {0};
    int nkeys = 0;
    for (; nkeys < 3 && t->key[nkeys]; nkeys++)
        if (!(keys[nkeys] = key_value(t, fields, t->key[nkeys], err, errlen)))
            return NULL;
    /* INSERT (keys, given columns, updated_at) ... ON CONFLICT(keys) DO
     * UPDATE SET only the given columns. */
    char cols[512] = "", vals[256] = "", sets[512] = "updated_at=excluded.updated_at";
    const struct store_column *bound[16];
    const cJSON *bound_v[16];
    int nb = 0;
    for (int i = 0; i < t->ncolumns && nb < 16; i++) {
        const struct store_column *c = &t->columns[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(fields, c->name);
        int key = is_key(t, c->name);
        if (!key && !v)
            continue;
        if (key)
            for (int k = 0; k < nkeys; k++)
                if (!strcmp(t->key[k], c->name))
                    v = keys[k];
        bound[nb] = c;
        bound_v[nb] = v;
        nb++;
        snprintf(cols + strlen(cols), sizeof cols - strlen(cols), "%s,", c->name);
        snprintf(vals + strlen(vals), sizeof vals - strlen(vals), "?%d,", nb);
        if (!key)
            snprintf(sets + strlen(sets), sizeof sets - strlen(sets), ",%s=excluded.%s", c->name, c->name);
    }
    char target[128] = "user_id";
    for (int k = 0; k < nkeys; k++)
        snprintf(target + strlen(target), sizeof target - strlen(target), ",%s", t->key[k]);
    char sql[1600];
    snprintf(sql, sizeof sql,
             "INSERT INTO %s(user_id,%supdated_at) VALUES (" USER_PARAM_SQL ",%s?%d) ON CONFLICT(%s) DO UPDATE SET %s",
             t->name, cols, vals, nb + 1, target, sets);

    sqlite3 *db = store_take(st);
    if (!db) {
        snprintf(err, errlen, "cannot open the database");
        return NULL;
    }
    sqlite3_stmt *q = NULL;
    cJSON *row = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", t->name, sqlite3_errmsg(db));
        goto out;
    }
    for (int i = 0; i < nb; i++)
        if (bind_value(q, i + 1, bound[i], bound_v[i])) {
            snprintf(err, errlen, "%s: '%s' must be a %s", t->name, bound[i]->name, bound[i]->type);
            goto out;
        }
    sqlite3_bind_int64(q, nb + 1, store_now_ms());
    sqlite3_bind_int64(q, USER_PARAM, user_id);
    if (sqlite3_step(q) != SQLITE_DONE) {
        /* CHECK constraints speak for the schema: a bad status or rating. */
        snprintf(err, errlen, "%s: %s", t->name, sqlite3_errmsg(db));
        goto out;
    }
    row = select_row(db, user_id, t, keys);
out:
    sqlite3_finalize(q);
    store_give(st, db);
    return row;
}

cJSON *store_table_list(store *st, int64_t user_id, const struct store_table *t, const char *query, int limit)
{
    char sql[1024], cols[512];
    select_columns(t, cols, sizeof cols);
    if (query && query[0]) {
        char like[256] = "";
        for (int k = 0; k < 3 && t->key[k]; k++)
            snprintf(like + strlen(like), sizeof like - strlen(like), "%s%s LIKE ?1", k ? " OR " : "", t->key[k]);
        snprintf(sql, sizeof sql,
                 "%s WHERE user_id=?3 AND (%s OR notes LIKE ?1) ORDER BY updated_at DESC, id DESC LIMIT ?2", cols, like);
    } else {
        snprintf(sql, sizeof sql, "%s WHERE user_id=?3 AND ?1 IS NULL ORDER BY updated_at DESC, id DESC LIMIT ?2", cols);
    }
    char pattern[300];
    snprintf(pattern, sizeof pattern, "%%%s%%", query ? query : "");
    return store_query_rows(st, sql, "siI", query && query[0] ? pattern : NULL, limit, user_id);
}

int store_table_delete(store *st, int64_t user_id, const struct store_table *t, const cJSON *fields, char *err, size_t errlen)
{
    if (check_fields(t, fields, err, errlen))
        return -1;
    const cJSON *keys[3] = {0};
    int nkeys = 0;
    for (; nkeys < 3 && t->key[nkeys]; nkeys++)
        if (!(keys[nkeys] = key_value(t, fields, t->key[nkeys], err, errlen)))
            return -1;
    char sql[512];
    snprintf(sql, sizeof sql, "DELETE FROM %s", t->name);
    key_clause(t, sql, sizeof sql);
    sqlite3 *db = store_take(st);
    if (!db)
        return -1;
    sqlite3_stmt *q = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
        int ok = 1;
        sqlite3_bind_int64(q, USER_PARAM, user_id);
        for (int i = 0; i < nkeys; i++)
            if (bind_value(q, i + 1, column(t, t->key[i]), keys[i])) {
                snprintf(err, errlen, "%s: '%s' must be a %s", t->name, t->key[i], column(t, t->key[i])->type);
                ok = 0;
            }
        if (ok && sqlite3_step(q) == SQLITE_DONE)
            rc = sqlite3_changes(db) > 0;
    }
    sqlite3_finalize(q);
    store_give(st, db);
    return rc;
}
