/* Store internals shared by store.c (connections, conversations),
 * store_memory.c and store_tables.c. Not for other modules. */
#ifndef PARLEY_STORE_INTERNAL_H
#define PARLEY_STORE_INTERNAL_H
#include <pthread.h>
#include <sqlite3.h>

#include "store/store.h"

#define STORE_MAX_IDLE 16

struct store {
    char path[1024];
    int busy_timeout_ms, max_idle, max_memories;
    pthread_mutex_t lock; /* guards idle[] */
    sqlite3 *idle[STORE_MAX_IDLE];
    int nidle;
};

/* Borrow a configured connection (NULL if the file cannot be opened). */
sqlite3 *store_take(store *st);
void store_give(store *st, sqlite3 *db);
void store_log_error(store *st, const char *what);
int store_exec(sqlite3 *db, const char *sql);
void store_bind_text_or_null(sqlite3_stmt *q, int i, const char *v);
cJSON *store_row_json(sqlite3_stmt *q);
cJSON *store_rows_json(sqlite3_stmt *q);
/* Adds item to parent (to an object under key, to an array when key is
 * NULL); on failure deletes item and returns -1. */
int store_json_add(cJSON *parent, const char *key, cJSON *item);
/* Runs one query to its end, binding the arguments in order by types, a
 * string of 's' (const char *, NULL binds NULL), 'i' (int) and 'I' (int64_t). */
cJSON *store_query_rows(store *st, const char *sql, const char *types, ...);

#endif
