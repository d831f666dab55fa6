/* The OpenAI-compatible /chat/completions wire format: stream=true gives
 * server-sent events, "data: {choices:[{delta:{content, tool_calls}}]}" lines
 * ending with "data: [DONE]". */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "llm/llm.h"

static char *openai_body(const struct llm_params *p, const struct llm_message *msgs, int n)
{
    return llm_json_chat_body(p, msgs, n, 1);
}

static int openai_line(const char *line, size_t len, const struct llm_sink *sink, char *err, size_t errlen)
{
    /* SSE: only data fields matter; comments (":"), event names and blank
     * separators are skipped. */
    if (len < 5 || strncmp(line, "data:", 5))
        return 0;
    line += 5;
    len -= 5;
    if (len > 0 && *line == ' ')
        line++, len--;
    if (len == 6 && !strncmp(line, "[DONE]", 6))
        return 1;
    cJSON *obj = cJSON_ParseWithLength(line, len);
    if (!obj) {
        snprintf(err, errlen, "malformed event in the OpenAI stream");
        return -1;
    }
    int rc = 0;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(obj, "error");
    if (e) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
        snprintf(err, errlen, "%s", cJSON_IsString(m) ? m->valuestring : "error event in the stream");
        rc = -1;
    } else {
        const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(obj, "choices"), 0);
        const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
        /* reasoning_content (DeepSeek, vLLM, llama.cpp) or reasoning (others) */
        const cJSON *reasoning = cJSON_GetObjectItemCaseSensitive(delta, "reasoning_content");
        if (!cJSON_IsString(reasoning))
            reasoning = cJSON_GetObjectItemCaseSensitive(delta, "reasoning");
        if (cJSON_IsString(reasoning) && reasoning->valuestring[0])
            sink->thinking(sink->ud, reasoning->valuestring, strlen(reasoning->valuestring));
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(delta, "content");
        if (cJSON_IsString(content) && content->valuestring[0])
            sink->text(sink->ud, content->valuestring, strlen(content->valuestring));
        /* Tool calls arrive as deltas: id and name first, then fragments of
         * the arguments' JSON text, all tied together by index. */
        const cJSON *call;
        cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(delta, "tool_calls"))
        {
            const cJSON *index = cJSON_GetObjectItemCaseSensitive(call, "index");
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(call, "id");
            const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
            const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
            int i = cJSON_IsNumber(index) ? index->valueint : 0;
            if (i < 0)
                continue;
            sink->tool(sink->ud, i, cJSON_IsString(id) ? id->valuestring : NULL,
                       cJSON_IsString(name) ? name->valuestring : NULL, cJSON_IsString(args) ? args->valuestring : "",
                       cJSON_IsString(args) ? strlen(args->valuestring) : 0);
        }
    }
    cJSON_Delete(obj);
    return rc;
}

const struct llm_wire llm_wire_openai = {
    .name = "openai",
    .path = "/chat/completions",
    .build_body = openai_body,
    .parse_line = openai_line,
};
