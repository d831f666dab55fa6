/* The OpenAI-compatible /chat/completions wire format: stream=true gives
 * server-sent events, "data: {choices:[{delta:{content}}]}" lines ending
 * with "data: [DONE]". */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "llm/llm.h"

static int openai_line(const char *line, size_t len, void (*emit)(void *, const char *, size_t), void *ud, char *err,
                       size_t errlen)
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
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(delta, "content");
        if (cJSON_IsString(content) && content->valuestring[0])
            emit(ud, content->valuestring, strlen(content->valuestring));
    }
    cJSON_Delete(obj);
    return rc;
}

const struct llm_wire llm_wire_openai = {
    .name = "openai",
    .path = "/chat/completions",
    .build_body = llm_json_chat_body,
    .parse_line = openai_line,
};
