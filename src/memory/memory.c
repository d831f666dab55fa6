/* Saving embeds the fact once; recalling embeds the query and lets the store
 * fuse vector and keyword ranks. A dead embedding server degrades recall to
 * keywords instead of failing the turn. */
#include "memory/memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct memory_params memory_default_params(void) { return (struct memory_params){.embed = embed_default_params()}; }

int64_t memory_save(const struct memory_params *p, int64_t user_id, const char *content, const char *conversation_id, uint64_t turn,
                    char *err, size_t errlen)
{
    float *vec = NULL;
    int dim = 0;
    char eerr[256];
    if (p->embed.model && p->embed.model[0] && embed_text(&p->embed, content, &vec, &dim, eerr, sizeof eerr))
        fprintf(stderr, "memory: saved without an embedding: %s\n", eerr);
    int64_t id = store_memory_add(p->db, user_id, content, conversation_id, turn, vec, dim, p->embed.model, err, errlen);
    free(vec);
    return id;
}

cJSON *memory_recall(const struct memory_params *p, int64_t user_id, const char *query, int limit, char *warning, size_t warnlen)
{
    float *vec = NULL;
    int dim = 0;
    char eerr[256];
    if (warning && warnlen)
        warning[0] = 0;
    if (p->embed.model && p->embed.model[0] && query && query[0] &&
        embed_text(&p->embed, query, &vec, &dim, eerr, sizeof eerr) && warning)
        snprintf(warning, warnlen, "%s; recalled by keywords only", eerr);
    cJSON *out = store_memory_search(p->db, user_id, query, vec, dim, limit);
    free(vec);
    return out;
}

char *memory_context_block(const cJSON *memories)
{
    if (cJSON_GetArraySize(memories) == 0)
        return NULL;
    size_t cap = 256, len = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, memories)
    {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
        cap += cJSON_IsString(c) ? strlen(c->valuestring) + 4 : 0;
    }
    char *out = malloc(cap);
    if (!out)
        return NULL;
    len = (size_t)snprintf(out, cap, "Things you remember about the user from earlier conversations:");
    cJSON_ArrayForEach(m, memories)
    {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (cJSON_IsString(c))
            len += (size_t)snprintf(out + len, cap - len, "\n- %s", c->valuestring);
    }
    return out;
}
