/* The one SQLite file under the data directory: conversations and their
 * messages, long-term memories (FTS5 + vectors), and the user's structured
 * tables. Thread-safe: every call borrows a connection from a small pool, so
 * workers can read and write at once (WAL); callers never hold one. */
#ifndef PARLEY_STORE_H
#define PARLEY_STORE_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct store_params {
    const char *path;     /* the database file; created if missing */
    int busy_timeout_ms;  /* how long a writer waits for another */
    int max_idle;         /* connections kept open between calls */
    int max_memories;     /* the oldest memory goes past this */
};
struct store_params store_default_params(void);

typedef struct store store;
store *store_open(const struct store_params *p, char *err, size_t errlen);
void store_close(store *st);
int store_schema_version(store *st);
int64_t store_now_ms(void); /* wall clock, as stored in created_at columns */

/* Every conversation, memory and table row belongs to one user, and every
 * call below sees only that user's. With auth off everyone is the local
 * user; a database from before users existed belongs to it. */
#define STORE_LOCAL_USER 1

/* ---- conversations ---- */

struct store_message {
    uint64_t turn;
    const char *role;    /* user | assistant | tool */
    const char *content;
    const char *input;   /* user: speech | text; NULL otherwise */
    int interrupted;     /* assistant: cut short by a barge-in */
    int64_t created_ms;
    const char *metrics; /* JSON object text or NULL */
    const char *tool;    /* tool messages: the tool's name */
    const char *reply_key; /* assistant messages: the writing session's key (store_set_reply_text) */
};

/* Writes a finished turn's messages in one transaction, creating the
 * conversation on its first turn. Returns 0 or -1 with err. */
int store_commit_turn(store *st, int64_t user_id, const char *conversation_id, const struct store_message *msgs, int n, char *err,
                      size_t errlen);
/* What was heard of a reply that a barge-in cut short (marks it interrupted):
 * the assistant message of turn that the session with reply_key stored.
 * Nothing matches (0 rows, still 0) when that session stored no reply. */
int store_set_reply_text(store *st, int64_t user_id, const char *conversation_id, const char *reply_key, uint64_t turn,
                         const char *text);
/* 1 if it exists (and is the user's), 0 if not, -1 on error. */
int store_conversation_exists(store *st, int64_t user_id, const char *conversation_id);
/* The newest max user/assistant messages, oldest first:
 * [{"role","content","turn"}]. The caller frees it. NULL on error. */
cJSON *store_load_history(store *st, int64_t user_id, const char *conversation_id, int max);
/* [{"id","title","created_at","updated_at","messages"}], newest first. */
cJSON *store_list_conversations(store *st, int64_t user_id, int limit, int offset);
/* {"id",…,"messages":[…]} or NULL when there is no such conversation. */
cJSON *store_get_conversation(store *st, int64_t user_id, const char *conversation_id);

/* ---- memories ---- */

/* conversation_id and turn say where it was learnt (may be NULL / 0); vec may
 * be NULL (no embedding model). Returns the new id or -1. */
int64_t store_memory_add(store *st, int64_t user_id, const char *content, const char *conversation_id, uint64_t turn, const float *vec,
                         int dim, const char *model, char *err, size_t errlen);
/* Hybrid retrieval: FTS5 keyword ranks fused with cosine ranks (when qvec is
 * given) by reciprocal rank. [{"id","content","created_at","score"}]. */
cJSON *store_memory_search(store *st, int64_t user_id, const char *query, const float *qvec, int dim, int limit);
/* 1 deleted, 0 no such memory, -1 error. */
int store_memory_forget(store *st, int64_t user_id, int64_t id);

/* ---- structured tables (movies, music, projects) ---- */

/* The tables' schemas as tool descriptions can show them: one entry each. */
struct store_column {
    const char *name;
    const char *type; /* string | integer | number */
    const char *description;
};
struct store_table {
    const char *name;
    const char *description;
    const char *key[3]; /* the columns that identify a row (an upsert's target) */
    const struct store_column *columns;
    int ncolumns;
};
const struct store_table *store_tables(int *n);
const struct store_table *store_table_find(const char *name);
/* Inserts or updates the row whose key columns match; only given columns
 * change. Returns the row as JSON, or NULL with err (bad or missing field). */
cJSON *store_table_save(store *st, int64_t user_id, const struct store_table *t, const cJSON *fields, char *err, size_t errlen);
/* Rows, newest change first; query (may be NULL) filters on the key columns. */
cJSON *store_table_list(store *st, int64_t user_id, const struct store_table *t, const char *query, int limit);
/* 1 deleted, 0 no such row, -1 error. */
int store_table_delete(store *st, int64_t user_id, const struct store_table *t, const cJSON *fields, char *err, size_t errlen);

/* ---- users (the CLI manages them; the server reads them) ---- */

#define STORE_USER_NAME_MAX 64
#define STORE_TOKEN_HASH_LEN 32
struct store_user {
    int64_t id;
    char name[STORE_USER_NAME_MAX + 1];
    unsigned char token_hash[STORE_TOKEN_HASH_LEN];
    int has_token;
    int64_t created_ms;
};
/* Adds a user with the hash of their first token. Returns the new id, 0 if
 * the name is taken, -1 with err. */
int64_t store_user_add(store *st, const char *name, const unsigned char *token_hash, char *err, size_t errlen);
/* Replaces a user's token hash: 1 done, 0 no such user, -1 error. */
int store_user_set_token(store *st, const char *name, const unsigned char *token_hash);
/* Removes a user with every conversation, memory and table row of theirs,
 * in one transaction: 1 done, 0 no such user, -1 error (err says why; the
 * local user cannot be removed). */
int store_user_remove(store *st, const char *name, char *err, size_t errlen);
/* Up to max users, by id. Returns how many, or -1. */
int store_users_load(store *st, struct store_user *out, int max);

#endif
