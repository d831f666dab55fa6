/* Long-term memory as the assistant uses it: save a fact (with its embedding
 * when a model is configured) and recall the facts relevant to what the user
 * just said. Blocking (SQLite, HTTP): runs on workers. */
#ifndef PARLEY_MEMORY_H
#define PARLEY_MEMORY_H
#include <cjson/cJSON.h>
#include <stdint.h>

#include "llm/embed.h"
#include "store/store.h"

struct memory_params {
    store *db;
    struct embed_params embed; /* embed.model empty: keyword search only */
};
struct memory_params memory_default_params(void); /* no store: set db */

/* Both act on user_id's memories only. Returns the new memory's id, or -1
 * with err. */
int64_t memory_save(const struct memory_params *p, int64_t user_id, const char *content, const char *conversation_id, uint64_t turn,
                    char *err, size_t errlen);
/* Hybrid search; an embedding failure falls back to keywords (and is
 * reported in *warning when given). [{"id","content","created_at","score"}] */
cJSON *memory_recall(const struct memory_params *p, int64_t user_id, const char *query, int limit, char *warning, size_t warnlen);
/* The block appended to the system prompt, or NULL when nothing is recalled. */
char *memory_context_block(const cJSON *memories);

#endif
