/* Long-term memories: short facts, kept with their FTS5 index (triggers keep
 * it in step) and optionally an embedding. Retrieval fuses keyword and vector
 * rankings by reciprocal rank, so either alone still finds things. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define CANDIDATES 50
#define RRF_K 60.0

int64_t store_memory_add(store *st, int64_t user_id, const char *content, const char *conversation_id, uint64_t turn, const float *vec,
                         int dim, const char *model, char *err, size_t errlen)
{
    sqlite3 *db = store_take(st);
    if (!db) {
        snprintf(err, errlen, "cannot open the database");
        return -1;
    }
    sqlite3_stmt *q = NULL, *trim = NULL;
    int64_t id = -1;
    if (store_exec(db, "BEGIN IMMEDIATE"))
        goto out;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO memories(content, conversation_id, embedding, embedding_model, created_at, turn,"
                           " user_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           -1, &q, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(q, 1, content, -1, SQLITE_TRANSIENT);
    store_bind_text_or_null(q, 2, conversation_id);
    if (vec && dim > 0)
        sqlite3_bind_blob(q, 3, vec, dim * (int)sizeof(float), SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, 3);
    store_bind_text_or_null(q, 4, vec ? model : NULL);
    sqlite3_bind_int64(q, 5, store_now_ms());
    if (turn)
        sqlite3_bind_int64(q, 6, (sqlite3_int64)turn);
    else
        sqlite3_bind_null(q, 6);
    sqlite3_bind_int64(q, 7, user_id);
    if (sqlite3_step(q) != SQLITE_DONE)
        goto out;
    id = sqlite3_last_insert_rowid(db);
    /* A bound on what retrieval scans: the user's oldest memories go first. */
    if (sqlite3_prepare_v2(db,
                           "DELETE FROM memories WHERE id IN (SELECT id FROM memories WHERE user_id=?2"
                           " ORDER BY id DESC LIMIT -1 OFFSET ?1)",
                           -1, &trim, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int(trim, 1, st->max_memories);
    sqlite3_bind_int64(trim, 2, user_id);
    if (sqlite3_step(trim) != SQLITE_DONE || store_exec(db, "COMMIT"))
        id = -1;
out:
    if (id < 0) {
        snprintf(err, errlen, "cannot save the memory: %s", sqlite3_errmsg(db));
        store_exec(db, "ROLLBACK");
    }
    sqlite3_finalize(q);
    sqlite3_finalize(trim);
    store_give(st, db);
    return id;
}

int store_memory_forget(store *st, int64_t user_id, int64_t id)
{
    sqlite3 *db = store_take(st);
    if (!db)
        return -1;
    sqlite3_stmt *q = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "DELETE FROM memories WHERE id=?1 AND user_id=?2", -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_int64(q, 2, user_id);
        if (sqlite3_step(q) == SQLITE_DONE)
            rc = sqlite3_changes(db) > 0;
    }
    sqlite3_finalize(q);
    store_give(st, db);
    return rc;
}

/* Words that say nothing about what to recall ("what is my ..."). */
static int is_stopword(const char *w)
{
    static const char *const stop[] = {"a", "an", "and", "are", "as", "at", "be", "do", "does", "for", "from",
                                       "have", "how", "i", "in", "is", "it", "me", "my", "of", "on", "or", "so",
                                       "that", "the", "this", "to", "was", "we", "what", "when", "where", "which",
                                       "who", "why", "you", "your", "can", "could", "would", "will", "tell",
                                       "please", "about", "remember", "did"};
    for (size_t i = 0; i < sizeof stop / sizeof stop[0]; i++)
        if (!strcmp(w, stop[i]))
            return 1;
    return 0;
}

/* An FTS5 query that ORs the query's words, each quoted, so nothing a user
 * says can be read as FTS syntax. Empty when no word is worth searching. */
static void fts_query(const char *text, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        while (*p && !isalnum(*p) && *p < 0x80)
            p++;
        char word[64];
        size_t w = 0;
        while (*p && (isalnum(*p) || *p >= 0x80 || *p == '\'')) {
            if (*p != '\'' && w + 1 < sizeof word)
                word[w++] = (char)tolower(*p);
            p++;
        }
        word[w] = 0;
        if (w < 2 || is_stopword(word))
            continue;
        int k = snprintf(out + n, outlen - n, "%s\"%s\"", n ? " OR " : "", word);
        if (k < 0 || (size_t)k >= outlen - n) {
            out[n] = 0;
            return;
        }
        n += (size_t)k;
    }
}

struct hit {
    int64_t id;
    double score;
};

static void add_rank(struct hit *hits, int *nhits, int64_t id, int rank)
{
    for (int i = 0; i < *nhits; i++)
        if (hits[i].id == id) {
            hits[i].score += 1.0 / (RRF_K + rank);
            return;
        }
    if (*nhits < 2 * CANDIDATES)
        hits[(*nhits)++] = (struct hit){id, 1.0 / (RRF_K + rank)};
}

static int by_score(const void *a, const void *b)
{
    double d = ((const struct hit *)b)->score - ((const struct hit *)a)->score;
    return d > 0 ? 1 : d < 0 ? -1 : 0;
}

static double cosine(const float *a, const float *b, int dim)
{
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < dim; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    return na > 0 && nb > 0 ? dot / (sqrt(na) * sqrt(nb)) : 0;
}

cJSON *store_memory_search(store *st, int64_t user_id, const char *query, const float *qvec, int dim, int limit)
{
    sqlite3 *db = store_take(st);
    if (!db)
        return NULL;
    struct hit hits[2 * CANDIDATES];
    int nhits = 0;
    char fts[2048];
    fts_query(query ? query : "", fts, sizeof fts);
    sqlite3_stmt *q = NULL;
    if (!fts[0] && !qvec && (!query || !query[0])) {
        store_give(st, db); /* no query: the newest memories, for listing */
        return store_query_rows(st,
                                "SELECT id, content, conversation_id, turn, created_at FROM memories WHERE user_id=?2"
                                " ORDER BY id DESC LIMIT ?1",
                                "iI", limit, user_id);
    }
    if (fts[0] && sqlite3_prepare_v2(db,
                                     "SELECT memories_fts.rowid FROM memories_fts JOIN memories m ON m.id=memories_fts.rowid"
                                     " WHERE memories_fts MATCH ?1 AND m.user_id=?3"
                                     " ORDER BY bm25(memories_fts) LIMIT ?2",
                                     -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, fts, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(q, 2, CANDIDATES);
        sqlite3_bind_int64(q, 3, user_id);
        for (int rank = 1; sqlite3_step(q) == SQLITE_ROW; rank++)
            add_rank(hits, &nhits, sqlite3_column_int64(q, 0), rank);
    }
    sqlite3_finalize(q);
    q = NULL;
    if (qvec && dim > 0 &&
        sqlite3_prepare_v2(db, "SELECT id, embedding FROM memories WHERE length(embedding)=?1 AND user_id=?2", -1,
                           &q, NULL) == SQLITE_OK) {
        /* Keep the best CANDIDATES by cosine; a linear scan is fine at the
         * bounded number of memories. */
        struct hit best[CANDIDATES];
        int nbest = 0;
        sqlite3_bind_int(q, 1, dim * (int)sizeof(float));
        sqlite3_bind_int64(q, 2, user_id);
        while (sqlite3_step(q) == SQLITE_ROW) {
            const float *v = sqlite3_column_blob(q, 1);
            double sim = cosine(qvec, v, dim);
            if (sim <= 0)
                continue;
            if (nbest < CANDIDATES) {
                best[nbest++] = (struct hit){sqlite3_column_int64(q, 0), sim};
            } else {
                int worst = 0;
                for (int i = 1; i < nbest; i++)
                    if (best[i].score < best[worst].score)
                        worst = i;
                if (sim > best[worst].score)
                    best[worst] = (struct hit){sqlite3_column_int64(q, 0), sim};
            }
        }
        qsort(best, (size_t)nbest, sizeof best[0], by_score);
        for (int i = 0; i < nbest; i++)
            add_rank(hits, &nhits, best[i].id, i + 1);
    }
    sqlite3_finalize(q);
    qsort(hits, (size_t)nhits, sizeof hits[0], by_score);

    cJSON *out = cJSON_CreateArray();
    q = NULL;
    if (sqlite3_prepare_v2(db, "SELECT id, content, conversation_id, turn, created_at FROM memories WHERE id=?1", -1, &q,
                           NULL) == SQLITE_OK) {
        for (int i = 0; i < nhits && i < limit; i++) {
            sqlite3_reset(q);
            sqlite3_bind_int64(q, 1, hits[i].id);
            if (sqlite3_step(q) != SQLITE_ROW)
                continue;
            cJSON *row = store_row_json(q);
            cJSON_AddNumberToObject(row, "score", hits[i].score);
            store_json_add(out, NULL, row);
        }
    }
    sqlite3_finalize(q);
    store_give(st, db);
    return out;
}
