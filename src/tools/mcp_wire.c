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
            if (!l->skipping && (len > 0 || l->keep_empty))
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

int mcp_sse_init(struct mcp_sse *s, size_t max)
{
    memset(s, 0, sizeof *s);
    s->max = max;
    s->data = malloc(max);
    if (!s->data || mcp_lines_init(&s->lines, max)) {
        free(s->data);
        return -1;
    }
    s->lines.keep_empty = 1;
    return 0;
}

void mcp_sse_free(struct mcp_sse *s)
{
    free(s->data);
    s->data = NULL;
    mcp_lines_free(&s->lines);
}

static void sse_line(void *ud, const char *line, size_t len)
{
    struct mcp_sse *s = ud;
    if (len == 0) { /* the event ends */
        if (s->have && !s->dropping)
            s->on_event(s->ud, s->data, s->len);
        s->have = s->dropping = 0;
        s->len = 0;
        return;
    }
    if (len < 5 || memcmp(line, "data", 4) || (len > 4 && line[4] != ':'))
        return; /* a comment (":..."), event:, id:, retry: */
    const char *v = line + 5;
    size_t vlen = len - 5;
    if (vlen && *v == ' ')
        v++, vlen--;
    if (s->len + vlen + 1 > s->max) {
        s->dropping = 1;
        return;
    }
    if (s->have)
        s->data[s->len++] = '\n';
    memcpy(s->data + s->len, v, vlen);
    s->len += vlen;
    s->have = 1;
}

static void sse_overlong(void *ud)
{
    ((struct mcp_sse *)ud)->dropping = 1;
}

void mcp_sse_feed(struct mcp_sse *s, const char *bytes, size_t n, void (*on_event)(void *ud, const char *data, size_t len),
                  void *ud)
{
    s->on_event = on_event;
    s->ud = ud;
    mcp_lines_feed(&s->lines, bytes, n, sse_line, sse_overlong, s);
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
