/* The built-in tools: memory_save/search/forget, list/save/delete for each
 * structured table (their schemas come from the table descriptors), and
 * current_time. Results are JSON text the model reads back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "memory/memory.h"
#include "tools/tools.h"
#include "tools/tools_builtin.h"

static int fail(char **result, const char *msg)
{
    *result = strdup(msg);
    return -1;
}

static int ok_json(char **result, cJSON *j)
{
    *result = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return *result ? 0 : -1;
}

static const char *string_arg(const cJSON *args, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int limit_arg(const cJSON *args, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, "limit");
    int n = cJSON_IsNumber(v) ? v->valueint : dflt;
    return n < 1 ? 1 : n > 50 ? 50 : n;
}

/* ---- memory ---- */

static int memory_save_tool(void *ud, const cJSON *args, const struct tool_ctx *ctx, char **result)
{
    const char *content = string_arg(args, "content");
    if (!content || !content[0])
        return fail(result, "memory_save needs 'content', the fact to remember");
    if (strlen(content) > 2000)
        return fail(result, "a memory is limited to 2000 characters; save a shorter fact");
    char err[256];
    int64_t id = memory_save(ud, ctx->user_id, content, ctx->conversation_id, ctx->turn, err, sizeof err);
    if (id < 0)
        return fail(result, err);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "saved", (double)id);
    cJSON_AddStringToObject(j, "content", content);
    return ok_json(result, j);
}

static int memory_search_tool(void *ud, const cJSON *args, const struct tool_ctx *ctx, char **result)
{
    const char *query = string_arg(args, "query");
    cJSON *found = memory_recall(ud, ctx->user_id, query ? query : "", limit_arg(args, 5), NULL, 0);
    if (!found)
        return fail(result, "memory search failed");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "memories", found);
    return ok_json(result, j);
}

static int memory_forget_tool(void *ud, const cJSON *args, const struct tool_ctx *ctx, char **result)
{
    const struct memory_params *m = ud;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(args, "id");
    if (!cJSON_IsNumber(id) || !(id->valuedouble >= 1 && id->valuedouble <= 9007199254740992.0))
        return fail(result, "memory_forget needs 'id', a number from memory_search");
    int rc = store_memory_forget(m->db, ctx->user_id, (int64_t)id->valuedouble);
    if (rc < 0)
        return fail(result, "the memory could not be deleted");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "forgotten", rc == 1);
    return ok_json(result, j);
}

/* ---- structured tables ---- */

struct table_tool {
    const struct memory_params *mem;
    const struct store_table *table;
};

static int table_list_tool(void *ud, const cJSON *args, const struct tool_ctx *ctx, char **result)
{
    struct table_tool *tt = ud;
    cJSON *rows = store_table_list(tt->mem->db, ctx->user_id, tt->table, string_arg(args, "query"), limit_arg(args, 20));
    if (!rows)
        return fail(result, "the table could not be read");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, tt->table->name, rows);
    return ok_json(result, j);
}

static int table_save_tool(void *ud, const cJSON *args, const struct tool_ctx *ctx, char **result)
{
    struct table_tool *tt = ud;
    char err[256] = "";
    cJSON *row = store_table_save(tt->mem->db, ctx->user_id, tt->table, args, err, sizeof err);
    if (!row)
        return fail(result, err[0] ? err : "the row could not be saved");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "saved", row);
    return ok_json(result, j);
}

static int table_delete_tool(void *ud, const cJSON *args, const struct tool_ctx *ctx, char **result)
{
    struct table_tool *tt = ud;
    char err[256] = "";
    int rc = store_table_delete(tt->mem->db, ctx->user_id, tt->table, args, err, sizeof err);
    if (rc < 0)
        return fail(result, err[0] ? err : "the row could not be deleted");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "deleted", rc == 1);
    return ok_json(result, j);
}

/* JSON Schema of a table's columns; with keys_only, just the key columns. */
static char *table_schema(const struct store_table *t, int keys_only)
{
    cJSON *s = cJSON_CreateObject(), *props = cJSON_CreateObject(), *req = cJSON_CreateArray();
    cJSON_AddStringToObject(s, "type", "object");
    for (int i = 0; i < t->ncolumns; i++) {
        const struct store_column *c = &t->columns[i];
        int key = 0;
        for (int k = 0; k < 3 && t->key[k]; k++)
            key |= !strcmp(t->key[k], c->name);
        if (keys_only && !key)
            continue;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "type", c->type);
        cJSON_AddStringToObject(p, "description", c->description);
        cJSON_AddItemToObject(props, c->name, p);
        if (!strcmp(c->name, t->key[0]))
            cJSON_AddItemToArray(req, cJSON_CreateString(c->name));
    }
    cJSON_AddItemToObject(s, "properties", props);
    cJSON_AddItemToObject(s, "required", req);
    char *out = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    return out;
}

static int current_time_tool(void *ud, const cJSON *args, const struct tool_ctx *ctx, char **result)
{
    (void)ud, (void)args, (void)ctx;
    time_t now = time(NULL);
    struct tm local;
    localtime_r(&now, &local);
    char iso[64], spoken[96];
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S%z", &local);
    strftime(spoken, sizeof spoken, "%A %e %B %Y, %H:%M", &local);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "iso8601", iso);
    cJSON_AddStringToObject(j, "local", spoken);
    cJSON_AddStringToObject(j, "timezone", local.tm_zone ? local.tm_zone : "");
    return ok_json(result, j);
}

struct builtins {
    struct table_tool tables[8];
};

builtins *tools_add_builtins(tools *t, const struct memory_params *mem)
{
    builtins *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    tools_add(t, &(struct tool_def){"current_time", "The current local date and time.",
                                    "{\"type\":\"object\",\"properties\":{}}", 0, current_time_tool, NULL});
    if (!mem || !mem->db)
        return b;
    tools_add(t, &(struct tool_def){
                     "memory_save",
                     "Remember a fact about the user for future conversations (a short, self-contained sentence).",
                     "{\"type\":\"object\",\"properties\":{\"content\":{\"type\":\"string\",\"description\":"
                     "\"the fact, e.g. 'The user's favourite film is Alien'\"}},\"required\":[\"content\"]}",
                     1, memory_save_tool, (void *)mem});
    tools_add(t, &(struct tool_def){"memory_search", "Search what you remember about the user.",
                                    "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\"},"
                                    "\"limit\":{\"type\":\"integer\"}},\"required\":[\"query\"]}",
                                    0, memory_search_tool, (void *)mem});
    tools_add(t, &(struct tool_def){"memory_forget", "Forget a remembered fact, by the id memory_search gave.",
                                    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"}},"
                                    "\"required\":[\"id\"]}",
                                    1, memory_forget_tool, (void *)mem});
    int n;
    const struct store_table *tables = store_tables(&n);
    for (int i = 0; i < n && i < 8; i++) {
        const struct store_table *tb = &tables[i];
        b->tables[i] = (struct table_tool){mem, tb};
        char name[64], desc[256], *schema;
        snprintf(name, sizeof name, "%s_list", tb->name);
        snprintf(desc, sizeof desc, "List the user's %s; query filters by name.", tb->description);
        tools_add(t, &(struct tool_def){name, desc,
                                        "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\"},"
                                        "\"limit\":{\"type\":\"integer\"}}}",
                                        0, table_list_tool, &b->tables[i]});
        schema = table_schema(tb, 0);
        snprintf(name, sizeof name, "%s_save", tb->name);
        snprintf(desc, sizeof desc, "Add or update an entry in the user's %s (matched by %s).", tb->description,
                 tb->key[0]);
        tools_add(t, &(struct tool_def){name, desc, schema, 1, table_save_tool, &b->tables[i]});
        free(schema);
        schema = table_schema(tb, 1);
        snprintf(name, sizeof name, "%s_delete", tb->name);
        snprintf(desc, sizeof desc, "Remove an entry from the user's %s.", tb->description);
        tools_add(t, &(struct tool_def){name, desc, schema, 1, table_delete_tool, &b->tables[i]});
        free(schema);
    }
    return b;
}

void tools_builtins_free(builtins *b) { free(b); }
