/* The database: opening (WAL, foreign keys), the connection pool, schema
 * migrations keyed by PRAGMA user_version, and conversations with their
 * messages. Memories and the structured tables have files of their own. */
#include "store/store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_internal.h"

/* Each entry moves the schema one version up; never edit a shipped one. */
static const char *const migrations[] = {
    /* 1: conversations, messages, memories with FTS5, structured tables */
    "CREATE TABLE conversations("
    "  id TEXT PRIMARY KEY,"
    "  title TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE messages("
    "  id INTEGER PRIMARY KEY,"
    "  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    "  turn INTEGER NOT NULL,"
    "  role TEXT NOT NULL CHECK(role IN ('user','assistant','tool')),"
    "  content TEXT NOT NULL,"
    "  input TEXT CHECK(input IS NULL OR input IN ('speech','text')),"
    "  interrupted INTEGER NOT NULL DEFAULT 0,"
    "  tool TEXT,"
    "  metrics TEXT,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX messages_by_conversation ON messages(conversation_id, created_at, id);"
    "CREATE TABLE memories("
    "  id INTEGER PRIMARY KEY,"
    "  content TEXT NOT NULL CHECK(length(content) > 0),"
    "  conversation_id TEXT," /* the source; no foreign key: a memory outlives its conversation */
    "  turn INTEGER,"
    "  embedding BLOB,"
    "  embedding_model TEXT,"
    "  created_at INTEGER NOT NULL);"
    "CREATE VIRTUAL TABLE memories_fts USING fts5(content, content='memories', content_rowid='id',"
    "  tokenize='porter unicode61');"
    "CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN"
    "  INSERT INTO memories_fts(rowid, content) VALUES (new.id, new.content); END;"
    "CREATE TRIGGER memories_ad AFTER DELETE ON memories BEGIN"
    "  INSERT INTO memories_fts(memories_fts, rowid, content) VALUES ('delete', old.id, old.content); END;"
    "CREATE TRIGGER memories_au AFTER UPDATE OF content ON memories BEGIN"
    "  INSERT INTO memories_fts(memories_fts, rowid, content) VALUES ('delete', old.id, old.content);"
    "  INSERT INTO memories_fts(rowid, content) VALUES (new.id, new.content); END;"
    "CREATE TABLE movies("
    "  id INTEGER PRIMARY KEY,"
    "  title TEXT NOT NULL COLLATE NOCASE UNIQUE CHECK(length(title) > 0),"
    "  year INTEGER CHECK(year IS NULL OR year BETWEEN 1870 AND 2200),"
    "  rating REAL CHECK(rating IS NULL OR rating BETWEEN 0 AND 10),"
    "  notes TEXT NOT NULL DEFAULT '',"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE music("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL CHECK(kind IN ('artist','album','track')),"
    "  name TEXT NOT NULL COLLATE NOCASE CHECK(length(name) > 0),"
    "  artist TEXT NOT NULL DEFAULT '' COLLATE NOCASE,"
    "  rating REAL CHECK(rating IS NULL OR rating BETWEEN 0 AND 10),"
    "  notes TEXT NOT NULL DEFAULT '',"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE(kind, name, artist));"
    "CREATE TABLE projects("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL COLLATE NOCASE UNIQUE CHECK(length(name) > 0),"
    "  status TEXT NOT NULL DEFAULT 'active' CHECK(status IN ('idea','active','paused','done')),"
    "  notes TEXT NOT NULL DEFAULT '',"
    "  updated_at INTEGER NOT NULL);",
    /* 2: users, and every conversation, memory and table row belongs to
     * one. What existed goes to the implicit local user (id 1), which is who
     * everyone is with auth off. SQLite cannot change a UNIQUE constraint,
     * so the tables whose keys become per-user are rebuilt. */
    "CREATE TABLE users("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL COLLATE NOCASE UNIQUE CHECK(length(name) BETWEEN 1 AND 64),"
    "  token_hash BLOB CHECK(token_hash IS NULL OR length(token_hash) = 32),"
    "  created_at INTEGER NOT NULL,"
    "  token_at INTEGER);"
    "INSERT INTO users(id, name, created_at) VALUES (1, 'local', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));"
    "ALTER TABLE conversations ADD COLUMN user_id INTEGER NOT NULL DEFAULT 1;"
    "CREATE INDEX conversations_by_user ON conversations(user_id, updated_at);"
    "ALTER TABLE memories ADD COLUMN user_id INTEGER NOT NULL DEFAULT 1;"
    "CREATE INDEX memories_by_user ON memories(user_id, id);"
    "CREATE TABLE movies_v2("
    "  id INTEGER PRIMARY KEY,"
    "  user_id INTEGER NOT NULL DEFAULT 1,"
    "  title TEXT NOT NULL COLLATE NOCASE CHECK(length(title) > 0),"
    "  year INTEGER CHECK(year IS NULL OR year BETWEEN 1870 AND 2200),"
    "  rating REAL CHECK(rating IS NULL OR rating BETWEEN 0 AND 10),"
    "  notes TEXT NOT NULL DEFAULT '',"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE(user_id, title));"
    "INSERT INTO movies_v2(id, title, year, rating, notes, updated_at)"
    "  SELECT id, title, year, rating, notes, updated_at FROM movies;"
    "DROP TABLE movies; ALTER TABLE movies_v2 RENAME TO movies;"
    "CREATE TABLE music_v2("
    "  id INTEGER PRIMARY KEY,"
    "  user_id INTEGER NOT NULL DEFAULT 1,"
    "  kind TEXT NOT NULL CHECK(kind IN ('artist','album','track')),"
    "  name TEXT NOT NULL COLLATE NOCASE CHECK(length(name) > 0),"
    "  artist TEXT NOT NULL DEFAULT '' COLLATE NOCASE,"
    "  rating REAL CHECK(rating IS NULL OR rating BETWEEN 0 AND 10),"
    "  notes TEXT NOT NULL DEFAULT '',"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE(user_id, kind, name, artist));"
    "INSERT INTO music_v2(id, kind, name, artist, rating, notes, updated_at)"
    "  SELECT id, kind, name, artist, rating, notes, updated_at FROM music;"
    "DROP TABLE music; ALTER TABLE music_v2 RENAME TO music;"
    "CREATE TABLE projects_v2("
    "  id INTEGER PRIMARY KEY,"
    "  user_id INTEGER NOT NULL DEFAULT 1,"
    "  name TEXT NOT NULL COLLATE NOCASE CHECK(length(name) > 0),"
    "  status TEXT NOT NULL DEFAULT 'active' CHECK(status IN ('idea','active','paused','done')),"
    "  notes TEXT NOT NULL DEFAULT '',"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE(user_id, name));"
    "INSERT INTO projects_v2(id, name, status, notes, updated_at)"
    "  SELECT id, name, status, notes, updated_at FROM projects;"
    "DROP TABLE projects; ALTER TABLE projects_v2 RENAME TO projects;",
    /* 3: which session wrote an assistant message, so a late correction
     * ('played') finds that session's reply and nothing else: turn numbers
     * restart in every session of a conversation. */
    "ALTER TABLE messages ADD COLUMN reply_key TEXT;",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

struct store_params store_default_params(void)
{
    return (struct store_params){.path = "parley.db", .busy_timeout_ms = 5000, .max_idle = 4, .max_memories = 10000};
}

int64_t store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static sqlite3 *open_connection(store *st, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(st->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the database %s: %s", st->path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, st->busy_timeout_ms);
    char *msg = NULL;
    if (sqlite3_exec(db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot configure the database %s: %s", st->path, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

sqlite3 *store_take(store *st)
{
    pthread_mutex_lock(&st->lock);
    sqlite3 *db = st->nidle ? st->idle[--st->nidle] : NULL;
    pthread_mutex_unlock(&st->lock);
    if (db)
        return db;
    char err[256];
    db = open_connection(st, err, sizeof err);
    if (!db)
        store_log_error(st, err);
    return db;
}

void store_give(store *st, sqlite3 *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&st->lock);
    if (st->nidle < st->max_idle && st->nidle < STORE_MAX_IDLE) {
        st->idle[st->nidle++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&st->lock);
    sqlite3_close(db);
}

void store_log_error(store *st, const char *what)
{
    (void)st;
    fprintf(stderr, "store: %s\n", what);
}

int store_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *q;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (version > NMIGRATIONS) {
        snprintf(err, errlen, "the database is at schema version %d, newer than this parley knows (%d)", version,
                 NMIGRATIONS);
        return -1;
    }
    for (int v = version; v < NMIGRATIONS; v++) {
        char *msg = NULL;
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version=%d;", v + 1);
        if (store_exec(db, "BEGIN IMMEDIATE") ||
            sqlite3_exec(db, migrations[v], NULL, NULL, &msg) != SQLITE_OK || store_exec(db, bump) ||
            store_exec(db, "COMMIT")) {
            snprintf(err, errlen, "migration to schema version %d failed: %s", v + 1,
                     msg ? msg : sqlite3_errmsg(db));
            sqlite3_free(msg);
            store_exec(db, "ROLLBACK");
            return -1;
        }
    }
    return 0;
}

store *store_open(const struct store_params *p, char *err, size_t errlen)
{
    store *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(st->path, sizeof st->path, "%s", p->path);
    st->busy_timeout_ms = p->busy_timeout_ms;
    st->max_idle = p->max_idle;
    st->max_memories = p->max_memories;
    pthread_mutex_init(&st->lock, NULL);
    sqlite3 *db = open_connection(st, err, errlen);
    if (!db) {
        store_close(st);
        return NULL;
    }
    char *msg = NULL;
    /* Another process holding the write lock (a second parley on this data
     * dir?) is found now, with a clear message, not at the first turn. */
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE; COMMIT;", NULL, NULL, NULL);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        snprintf(err, errlen,
                 "the database %s is locked by another process (is another parley serving this data_dir?); "
                 "waited %d ms",
                 p->path, st->busy_timeout_ms);
        sqlite3_close(db);
        store_close(st);
        return NULL;
    }
    /* WAL lets readers (HTTP API, retrieval) run while a turn commits. */
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, &msg) != SQLITE_OK || migrate(db, err, errlen)) {
        if (msg)
            snprintf(err, errlen, "cannot use the database %s: %s", p->path, msg);
        sqlite3_free(msg);
        sqlite3_close(db);
        store_close(st);
        return NULL;
    }
    store_give(st, db);
    return st;
}

void store_close(store *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->nidle; i++)
        sqlite3_close(st->idle[i]);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

int store_schema_version(store *st)
{
    sqlite3 *db = store_take(st);
    if (!db)
        return -1;
    sqlite3_stmt *q;
    int version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    store_give(st, db);
    return version;
}

void store_bind_text_or_null(sqlite3_stmt *q, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(q, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, i);
}

/* ---- conversations ---- */

/* A conversation's title: the start of its first user message. */
static void make_title(const char *text, char *out, size_t outlen)
{
    size_t n = strlen(text);
    if (n < outlen) {
        memcpy(out, text, n + 1);
        return;
    }
    size_t cut = outlen - 4;
    while (cut > 0 && text[cut] != ' ')
        cut--;
    if (cut == 0)
        cut = outlen - 4;
    while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
        cut--; /* never split a UTF-8 sequence */
    snprintf(out, outlen, "%.*s...", (int)cut, text);
}

int store_commit_turn(store *st, int64_t user_id, const char *conversation_id, const struct store_message *msgs, int n,
                      char *err, size_t errlen)
{
    sqlite3 *db = store_take(st);
    if (!db) {
        snprintf(err, errlen, "cannot open the database");
        return -1;
    }
    int64_t now = store_now_ms();
    char title[81] = "";
    for (int i = 0; i < n; i++)
        if (!strcmp(msgs[i].role, "user")) {
            make_title(msgs[i].content, title, sizeof title);
            break;
        }
    sqlite3_stmt *conv = NULL, *ins = NULL;
    int rc = -1;
    err[0] = 0;
    if (store_exec(db, "BEGIN IMMEDIATE"))
        goto out;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO conversations(id, title, created_at, updated_at, user_id)"
                           " VALUES (?1, ?2, ?3, ?3, ?4)"
                           " ON CONFLICT(id) DO UPDATE SET updated_at=excluded.updated_at,"
                           " title=CASE WHEN title='' THEN excluded.title ELSE title END"
                           " WHERE user_id=excluded.user_id",
                           -1, &conv, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO messages(conversation_id, turn, role, content, input, interrupted, tool,"
                           " metrics, created_at, reply_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                           -1, &ins, NULL) != SQLITE_OK)
        goto rollback;
    sqlite3_bind_text(conv, 1, conversation_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(conv, 2, title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(conv, 3, now);
    sqlite3_bind_int64(conv, 4, user_id);
    if (sqlite3_step(conv) != SQLITE_DONE)
        goto rollback;
    if (sqlite3_changes(db) == 0) { /* the id is another user's conversation */
        snprintf(err, errlen, "cannot store the turn: conversation %s belongs to another user", conversation_id);
        store_exec(db, "ROLLBACK");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const struct store_message *m = &msgs[i];
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, conversation_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 2, (sqlite3_int64)m->turn);
        sqlite3_bind_text(ins, 3, m->role, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 4, m->content ? m->content : "", -1, SQLITE_TRANSIENT);
        store_bind_text_or_null(ins, 5, m->input);
        sqlite3_bind_int(ins, 6, m->interrupted);
        store_bind_text_or_null(ins, 7, m->tool);
        store_bind_text_or_null(ins, 8, m->metrics);
        sqlite3_bind_int64(ins, 9, m->created_ms ? m->created_ms : now);
        store_bind_text_or_null(ins, 10, m->reply_key);
        if (sqlite3_step(ins) != SQLITE_DONE)
            goto rollback;
    }
    if (store_exec(db, "COMMIT") == 0)
        rc = 0;
rollback:
    if (rc) {
        snprintf(err, errlen, "cannot store the turn: %s", sqlite3_errmsg(db));
        store_exec(db, "ROLLBACK");
    }
out:
    if (rc && !err[0])
        snprintf(err, errlen, "cannot store the turn: %s", sqlite3_errmsg(db));
    sqlite3_finalize(conv);
    sqlite3_finalize(ins);
    store_give(st, db);
    return rc;
}

int store_set_reply_text(store *st, int64_t user_id, const char *conversation_id, const char *reply_key, uint64_t turn,
                         const char *text)
{
    sqlite3 *db = store_take(st);
    if (!db)
        return -1;
    sqlite3_stmt *q = NULL;
    int rc = -1;
    /* The assistant message of that session's turn: a resumed conversation
     * reuses turn numbers, so the session's key tells its reply from others'. */
    if (sqlite3_prepare_v2(db,
                           "UPDATE messages SET content=?3, interrupted=1 WHERE id=(SELECT max(id) FROM messages"
                           " WHERE conversation_id=?1 AND turn=?2 AND role='assistant' AND reply_key=?5"
                           " AND conversation_id IN (SELECT id FROM conversations WHERE user_id=?4))",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, conversation_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)turn);
        sqlite3_bind_text(q, 3, text, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 4, user_id);
        sqlite3_bind_text(q, 5, reply_key, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_finalize(q);
    store_give(st, db);
    return rc;
}

int store_conversation_exists(store *st, int64_t user_id, const char *conversation_id)
{
    sqlite3 *db = store_take(st);
    if (!db)
        return -1;
    sqlite3_stmt *q = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM conversations WHERE id=?1 AND user_id=?2", -1, &q, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(q, 1, conversation_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 2, user_id);
        int s = sqlite3_step(q);
        rc = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_finalize(q);
    store_give(st, db);
    return rc;
}

/* One JSON object per row, keys from the column names, NULLs kept. */
cJSON *store_row_json(sqlite3_stmt *q)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < sqlite3_column_count(q); i++) {
        const char *name = sqlite3_column_name(q, i);
        switch (sqlite3_column_type(q, i)) {
        case SQLITE_INTEGER: cJSON_AddNumberToObject(o, name, (double)sqlite3_column_int64(q, i)); break;
        case SQLITE_FLOAT: cJSON_AddNumberToObject(o, name, sqlite3_column_double(q, i)); break;
        case SQLITE_NULL: cJSON_AddNullToObject(o, name); break;
        default: cJSON_AddStringToObject(o, name, (const char *)sqlite3_column_text(q, i)); break;
        }
    }
    return o;
}

int store_json_add(cJSON *parent, const char *key, cJSON *item)
{
    int ok = item && parent &&
             (key ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item));
    if (!ok)
        cJSON_Delete(item); /* out of memory somewhere: nothing is left behind */
    return ok ? 0 : -1;
}

/* Runs a prepared query to its end, one JSON object a row. NULL when it
 * fails or memory runs out: never a partial list. */
cJSON *store_rows_json(sqlite3_stmt *q)
{
    cJSON *arr = cJSON_CreateArray();
    int s, ok = arr != NULL;
    while (ok && (s = sqlite3_step(q)) == SQLITE_ROW)
        ok = store_json_add(arr, NULL, store_row_json(q)) == 0;
    if (!ok || s != SQLITE_DONE) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

cJSON *store_query_rows(store *st, const char *sql, const char *types, ...)
{
    sqlite3 *db = store_take(st);
    if (!db)
        return NULL;
    sqlite3_stmt *q = NULL;
    cJSON *out = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
        va_list ap;
        va_start(ap, types);
        for (int i = 0; types[i]; i++) {
            if (types[i] == 's')
                store_bind_text_or_null(q, i + 1, va_arg(ap, const char *));
            else if (types[i] == 'I')
                sqlite3_bind_int64(q, i + 1, va_arg(ap, int64_t));
            else
                sqlite3_bind_int(q, i + 1, va_arg(ap, int));
        }
        va_end(ap);
        out = store_rows_json(q);
    }
    sqlite3_finalize(q);
    store_give(st, db);
    return out;
}

cJSON *store_load_history(store *st, int64_t user_id, const char *conversation_id, int max)
{
    return store_query_rows(st,
                            "SELECT role, content, turn FROM (SELECT id, role, content, turn, created_at FROM messages"
                            " WHERE conversation_id=?1 AND role IN ('user','assistant')"
                            " AND conversation_id IN (SELECT id FROM conversations WHERE user_id=?3)"
                            " ORDER BY created_at DESC, id DESC LIMIT ?2) ORDER BY created_at, id",
                            "siI", conversation_id, max, user_id);
}

cJSON *store_list_conversations(store *st, int64_t user_id, int limit, int offset)
{
    return store_query_rows(st,
                            "SELECT c.id, c.title, c.created_at, c.updated_at,"
                            " (SELECT count(*) FROM messages m WHERE m.conversation_id=c.id) AS messages"
                            " FROM conversations c WHERE c.user_id=?3"
                            " ORDER BY c.updated_at DESC, c.id LIMIT ?1 OFFSET ?2",
                            "iiI", limit, offset, user_id);
}

cJSON *store_get_conversation(store *st, int64_t user_id, const char *conversation_id)
{
    sqlite3 *db = store_take(st);
    if (!db)
        return NULL;
    sqlite3_stmt *c = NULL, *m = NULL;
    cJSON *out = NULL;
    if (sqlite3_prepare_v2(db, "SELECT id, title, created_at, updated_at FROM conversations WHERE id=?1 AND user_id=?2",
                           -1, &c, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db,
                           "SELECT id, turn, role, content, input, interrupted, tool, metrics, created_at"
                           " FROM messages WHERE conversation_id=?1 ORDER BY created_at, id",
                           -1, &m, NULL) == SQLITE_OK) {
        sqlite3_bind_text(c, 1, conversation_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(c, 2, user_id);
        sqlite3_bind_text(m, 1, conversation_id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(c) == SQLITE_ROW) {
            out = store_row_json(c);
            cJSON *msgs = store_rows_json(m);
            /* metrics are stored as JSON text; hand them back as objects */
            cJSON *it;
            cJSON_ArrayForEach(it, msgs)
            {
                cJSON *mt = cJSON_GetObjectItemCaseSensitive(it, "metrics");
                cJSON *parsed = cJSON_IsString(mt) ? cJSON_Parse(mt->valuestring) : NULL;
                if (parsed && !cJSON_ReplaceItemInObjectCaseSensitive(it, "metrics", parsed))
                    cJSON_Delete(parsed);
                cJSON *flag = cJSON_GetObjectItemCaseSensitive(it, "interrupted");
                cJSON *b = cJSON_CreateBool(cJSON_IsNumber(flag) && flag->valueint);
                if (b && !cJSON_ReplaceItemInObjectCaseSensitive(it, "interrupted", b))
                    cJSON_Delete(b);
            }
            if (!msgs || store_json_add(out, "messages", msgs)) { /* a conversation is whole or not at all */
                cJSON_Delete(out);
                out = NULL;
            }
        }
    }
    sqlite3_finalize(c);
    sqlite3_finalize(m);
    store_give(st, db);
    return out;
}
