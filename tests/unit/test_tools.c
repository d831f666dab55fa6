/* The tool registry and the built-in tools against a real SQLite file:
 * definitions the LLM gets, calls with good and hostile arguments, MCP-style
 * prefix removal, and memories recalled the way a turn recalls them. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "memory/memory.h"
#include "tools/tools.h"
#include "tools/tools_builtin.h"

static char *call(tools *t, const char *name, const char *args, int *is_error, int *changes)
{
    struct tool_ctx ctx = {.conversation_id = NULL, .user_id = STORE_LOCAL_USER, .timeout_ms = 1000};
    return tools_call(t, name, args, &ctx, is_error, changes);
}

static int echo(void *ud, const cJSON *args, const struct tool_ctx *ctx, char **result)
{
    (void)ud, (void)args;
    *result = strdup(ctx->name);
    return 0;
}

int main(void)
{
    char dir[] = "/tmp/parley-tools-XXXXXX", path[256], err[256];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/parley.db", dir);
    struct store_params sp = store_default_params();
    sp.path = path;
    store *db = store_open(&sp, err, sizeof err);
    CHECK(db != NULL);
    struct memory_params mem = {.db = db, .embed = {.provider = "ollama", .url = "http://127.0.0.1:1", .model = ""}};

    tools *t = tools_new();
    builtins *b = tools_add_builtins(t, &mem);
    CHECK(b && tools_count(t) == 4 + 3 * 3);
    char *defs = tools_definitions(t);
    cJSON *d = cJSON_Parse(defs);
    CHECK(cJSON_GetArraySize(d) == 13);
    const cJSON *def;
    int movie_schema_ok = 0;
    cJSON_ArrayForEach(def, d)
    {
        const cJSON *fn = cJSON_GetObjectItem(def, "function");
        CHECK_STR(cJSON_GetObjectItem(def, "type")->valuestring, "function");
        CHECK(cJSON_IsObject(cJSON_GetObjectItem(fn, "parameters")));
        if (!strcmp(cJSON_GetObjectItem(fn, "name")->valuestring, "movies_save")) {
            const cJSON *props = cJSON_GetObjectItem(cJSON_GetObjectItem(fn, "parameters"), "properties");
            movie_schema_ok = cJSON_IsObject(cJSON_GetObjectItem(props, "rating")) &&
                              !strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(props, "year"), "type")->valuestring,
                                      "integer");
        }
    }
    CHECK(movie_schema_ok);
    cJSON_Delete(d);
    free(defs);

    int is_error, changes;
    char *r = call(t, "memory_save", "{\"content\":\"The user's favourite film is Alien\"}", &is_error, &changes);
    CHECK(!is_error && changes && strstr(r, "\"saved\""));
    free(r);
    r = call(t, "memory_save", "{\"content\":\"\"}", &is_error, &changes);
    CHECK(is_error && !changes && strstr(r, "content"));
    free(r);
    r = call(t, "memory_save", "not json at all", &is_error, &changes);
    CHECK(is_error && strstr(r, "not a JSON object"));
    free(r);
    r = call(t, "memory_save", "[\"an\",\"array\"]", &is_error, &changes);
    CHECK(is_error);
    free(r);
    r = call(t, "no_such_tool", "{}", &is_error, &changes);
    CHECK(is_error && strstr(r, "no_such_tool"));
    free(r);
    /* Recall works with no embedding server at all (keywords). */
    char warning[300];
    cJSON *found = memory_recall(&mem, STORE_LOCAL_USER, "what is my favourite film", 3, warning, sizeof warning);
    CHECK(cJSON_GetArraySize(found) == 1 && !warning[0]);
    char *block = memory_context_block(found);
    CHECK(block && strstr(block, "favourite film is Alien"));
    free(block);
    cJSON_Delete(found);
    /* An embedding model that cannot be reached: keywords still, and a warning. */
    mem.embed.model = "nomic-embed-text";
    mem.embed.timeout_ms = 500;
    found = memory_recall(&mem, STORE_LOCAL_USER, "favourite film", 3, warning, sizeof warning);
    CHECK(cJSON_GetArraySize(found) == 1 && strstr(warning, "keywords only"));
    cJSON_Delete(found);
    mem.embed.model = "";

    r = call(t, "memory_search", "{\"query\":\"film\"}", &is_error, &changes);
    CHECK(!is_error && !changes && strstr(r, "Alien"));
    free(r);
    r = call(t, "memory_forget", "{\"id\":\"one\"}", &is_error, &changes);
    CHECK(is_error);
    free(r);
    r = call(t, "memory_forget", "{\"id\":1}", &is_error, &changes);
    CHECK(!is_error && changes && strstr(r, "true"));
    free(r);

    r = call(t, "projects_save", "{\"name\":\"parley\",\"status\":\"active\"}", &is_error, &changes);
    CHECK(!is_error && changes && strstr(r, "parley"));
    free(r);
    r = call(t, "projects_save", "{\"name\":\"parley\",\"status\":\"finished?\"}", &is_error, &changes);
    CHECK(is_error && !changes);
    free(r);
    r = call(t, "projects_list", "{}", &is_error, &changes);
    CHECK(!is_error && strstr(r, "\"status\":\"active\""));
    free(r);
    r = call(t, "current_time", "{}", &is_error, &changes);
    CHECK(!is_error && strstr(r, "iso8601"));
    free(r);

    /* MCP servers come and go by prefix. */
    struct tool_def remote = {"srv__echo", "echoes", NULL, 1, echo, NULL};
    CHECK(tools_add(t, &remote) == 0);
    r = call(t, "srv__echo", "{}", &is_error, &changes);
    CHECK_STR(r, "srv__echo");
    free(r);
    tools_remove_prefix(t, "srv__");
    CHECK(tools_count(t) == 13);

    tools_free(t);
    tools_builtins_free(b);
    store_close(db);
    char wal[300];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(wal, sizeof wal, "%s%s", path, suffix[i]);
        unlink(wal);
    }
    rmdir(dir);
    return check_summary();
}
