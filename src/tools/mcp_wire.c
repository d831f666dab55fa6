/* Everything here trusts nothing about the server's bytes: lines are bounded,
 * ids outside the range of ours are not ours, and results of any shape come
 * out as text. */
#include "tools/mcp_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mcp_lines_init(struct mcp_lines *l, size_t max)
{
    memset(l, 0, sizeof *l);
    l->max = max;
    l->buf = malloc(max);
    return l->buf ? 0 : -1;
}

void mcp_lines_free(struct mcp_lines *l)
{
    free(l->buf);
    l->buf = NULL;
}

void mcp_lines_feed(struct mcp_lines *l, const char *data, size_t n, void (*on_line)(void *ud, const char *line, size_t len),
                    void (*on_overlong)(void *ud), void *ud)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            size_t len = l->len;
            if (len > 0 && l->buf[len - 1] == '\r')
                len--;
            if (!l->skipping && len > 0)
                on_line(ud, l->buf, len);
            l->len = 0;
            l->skipping = 0;
        } else if (l->len + 1 >= l->max) {
            if (!l->skipping && on_overlong)
                on_overlong(ud);
            l->skipping = 1;
        } else if (!l->skipping) {
            l->buf[l->len++] = data[i];
        }
    }
}

enum mcp_kind mcp_message_parse(const char *line, size_t len, struct mcp_message *m)
{
    memset(m, 0, sizeof *m);
    m->root = cJSON_ParseWithLength(line, len);
    if (!cJSON_IsObject(m->root))
        return m->kind = MCP_MSG_INVALID;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m->root, "id");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(m->root, "method");
    if (cJSON_IsString(method)) {
        m->method = method->valuestring;
        m->id = id;
        return m->kind = id ? MCP_MSG_REQUEST : MCP_MSG_NOTIFICATION;
    }
    /* ours are small positive integers: anything else answers nothing of ours */
    if (!cJSON_IsNumber(id) || !(id->valuedouble >= 1 && id->valuedouble <= 9007199254740992.0))
        return m->kind = MCP_MSG_OTHER;
    m->response_id = (int64_t)id->valuedouble;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(m->root, "error");
    if (e) {
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
        snprintf(m->error, sizeof m->error, "%s", cJSON_IsString(msg) ? msg->valuestring : "(no message)");
    } else {
        m->result = cJSON_GetObjectItemCaseSensitive(m->root, "result");
    }
    return m->kind = MCP_MSG_RESPONSE;
}

void mcp_message_free(struct mcp_message *m)
{
    cJSON_Delete(m->root);
    m->root = NULL;
}

char *mcp_tool_result_text(const cJSON *res, int *is_error)
{
    *is_error = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "isError"));
    size_t cap = 1, len = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(res, "content"))
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        cap += cJSON_IsString(t) ? strlen(t->valuestring) + 1 : 0;
    }
    char *text = malloc(cap);
    if (!text)
        return NULL;
    text[0] = 0;
    cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(res, "content"))
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (cJSON_IsString(t))
            len += (size_t)snprintf(text + len, cap - len, "%s%s", len ? "\n" : "", t->valuestring);
    }
    const cJSON *structured = cJSON_GetObjectItemCaseSensitive(res, "structuredContent");
    if (!text[0] && structured) {
        char *s = cJSON_PrintUnformatted(structured);
        if (s) {
            free(text);
            return s;
        }
    }
    return text;
}
