/* The registry is a small array under a mutex: MCP servers add and remove
 * tools from their own threads while sessions read definitions and call. */
#include "tools/tools.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *name, *description, *parameters;
    int changes_data;
    tool_fn fn;
    void *ud;
};

struct tools {
    pthread_mutex_t lock;
    struct entry items[TOOLS_MAX];
    int n;
};

tools *tools_new(void)
{
    tools *t = calloc(1, sizeof *t);
    if (t)
        pthread_mutex_init(&t->lock, NULL);
    return t;
}

static void entry_free(struct entry *e)
{
    free(e->name);
    free(e->description);
    free(e->parameters);
}

void tools_free(tools *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n; i++)
        entry_free(&t->items[i]);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

int tools_add(tools *t, const struct tool_def *def)
{
    struct entry e = {strdup(def->name), strdup(def->description ? def->description : ""),
                      strdup(def->parameters ? def->parameters : "{\"type\":\"object\",\"properties\":{}}"),
                      def->changes_data, def->fn, def->ud};
    if (!e.name || !e.description || !e.parameters) {
        entry_free(&e);
        return -1;
    }
    pthread_mutex_lock(&t->lock);
    int i = 0;
    while (i < t->n && strcmp(t->items[i].name, def->name))
        i++;
    int rc = 0;
    if (i < t->n) {
        entry_free(&t->items[i]);
        t->items[i] = e;
    } else if (t->n < TOOLS_MAX) {
        t->items[t->n++] = e;
    } else {
        entry_free(&e);
        rc = -1;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static int listed(const char *name, char *const *keep, int nkeep)
{
    for (int k = 0; k < nkeep; k++)
        if (!strcmp(keep[k], name))
            return 1;
    return 0;
}

void tools_remove_prefix(tools *t, const char *prefix) { tools_retain_prefix(t, prefix, NULL, 0); }

void tools_retain_prefix(tools *t, const char *prefix, char *const *keep, int nkeep)
{
    size_t n = strlen(prefix);
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->n;) {
        if (!strncmp(t->items[i].name, prefix, n) && !listed(t->items[i].name, keep, nkeep)) {
            entry_free(&t->items[i]);
            t->items[i] = t->items[--t->n];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&t->lock);
}

int tools_count(tools *t)
{
    pthread_mutex_lock(&t->lock);
    int n = t->n;
    pthread_mutex_unlock(&t->lock);
    return n;
}

char *tools_definitions(tools *t)
{
    cJSON *arr = cJSON_CreateArray();
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->n; i++) {
        cJSON *def = cJSON_CreateObject(), *fn = cJSON_CreateObject();
        cJSON_AddStringToObject(def, "type", "function");
        cJSON_AddStringToObject(fn, "name", t->items[i].name);
        cJSON_AddStringToObject(fn, "description", t->items[i].description);
        cJSON *params = cJSON_Parse(t->items[i].parameters);
        cJSON_AddItemToObject(fn, "parameters", params ? params : cJSON_CreateObject());
        cJSON_AddItemToObject(def, "function", fn);
        cJSON_AddItemToArray(arr, def);
    }
    int n = t->n;
    pthread_mutex_unlock(&t->lock);
    char *out = n ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return out;
}

static char *error_text(const char *fmt, const char *arg)
{
    char buf[512];
    snprintf(buf, sizeof buf, fmt, arg);
    return strdup(buf);
}

char *tools_call(tools *t, const char *name, const char *args_json, const struct tool_ctx *ctx, int *is_error,
                 int *changes_data)
{
    *is_error = 1;
    *changes_data = 0;
    pthread_mutex_lock(&t->lock);
    struct entry e = {0};
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->items[i].name, name))
            e = t->items[i];
    pthread_mutex_unlock(&t->lock);
    if (!e.fn)
        return error_text("there is no tool called '%s'", name);
    cJSON *args = cJSON_Parse(args_json && args_json[0] ? args_json : "{}");
    if (!cJSON_IsObject(args)) {
        cJSON_Delete(args);
        return error_text("the arguments of %s are not a JSON object", name);
    }
    char *result = NULL;
    struct tool_ctx named = *ctx;
    named.name = name;
    int rc = e.fn(e.ud, args, &named, &result);
    cJSON_Delete(args);
    *is_error = rc != 0;
    *changes_data = e.changes_data && rc == 0;
    return result ? result : strdup(rc ? "the tool failed" : "");
}
