/* LLM streams: the first byte picks the wire (Ollama NDJSON or OpenAI SSE)
 * and where the lines are cut, as a network would; the rest is the stream.
 * Whatever text comes out, repaired as llm.c repairs it, is valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "llm/llm.h"

static void text(void *ud, const char *t, size_t len)
{
    (void)ud;
    size_t n = 0;
    char *fixed = utf8_repair(t, len, &n);
    if (fixed && !utf8_valid(fixed, n))
        abort();
    free(fixed);
}

static void thinking(void *ud, const char *t, size_t len) { text(ud, t, len); }

static void tool(void *ud, int index, const char *id, const char *name, const char *args, size_t len)
{
    (void)ud, (void)index, (void)id, (void)name, (void)args, (void)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const struct llm_wire *w = llm_wire_find(data[0] & 1 ? "openai" : "ollama");
    struct llm_sink sink = {.text = text, .thinking = thinking, .tool = tool, .ud = NULL};
    char err[512];
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    /* lines as the transfer delivers them: split on \n, a line's \r dropped */
    for (size_t start = 0, i = 0; i <= n; i++) {
        if (i == n || s[i] == '\n') {
            size_t len = i - start;
            if (len && s[start + len - 1] == '\r')
                len--;
            char *line = malloc(len + 1);
            if (!line)
                return 0;
            memcpy(line, s + start, len);
            line[len] = 0;
            int rc = w->parse_line(line, len, &sink, err, sizeof err);
            free(line);
            if (rc != 0)
                break; /* done, or an error: the request ends there */
            start = i + 1;
        }
    }
    return 0;
}
