/* Ollama's /api/chat wire format: a JSON request with stream=true and an
 * NDJSON response, one {"message":{"content":…,"tool_calls":[…]},"done":…}
 * object a line. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm.h"

static char *ollama_body(const struct llm_params *p, const struct llm_message *msgs, int n)
{
    return llm_json_chat_body(p, msgs, n, 0);
}

static int ollama_line(const char *line, size_t len, const struct llm_sink *sink, char *err, size_t errlen)
{
    if (len == 0)
        return 0;
    cJSON *obj = cJSON_ParseWithLength(line, len);
    if (!obj) {
        snprintf(err, errlen, "malformed line in the Ollama stream");
        return -1;
    }
    int rc = 0;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(obj, "error");
    if (cJSON_IsString(e)) {
        snprintf(err, errlen, "%s", e->valuestring);
        rc = -1;
    } else {
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(obj, "message");
        const cJSON *thinking = cJSON_GetObjectItemCaseSensitive(msg, "thinking");
        if (cJSON_IsString(thinking) && thinking->valuestring[0])
            sink->thinking(sink->ud, thinking->valuestring, strlen(thinking->valuestring));
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
        if (cJSON_IsString(content) && content->valuestring[0])
            sink->text(sink->ud, content->valuestring, strlen(content->valuestring));
        /* Ollama sends each tool call whole, arguments as an object. */
        const cJSON *call;
        cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(msg, "tool_calls"))
        {
            const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(call, "id");
            if (!cJSON_IsString(name))
                continue;
            char *args = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(fn, "arguments"));
            sink->tool(sink->ud, -1, cJSON_IsString(id) ? id->valuestring : NULL, name->valuestring, args ? args : "{}",
                       strlen(args ? args : "{}"));
            free(args);
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "done")))
            rc = 1;
    }
    cJSON_Delete(obj);
    return rc;
}

const struct llm_wire llm_wire_ollama = {
    .name = "ollama",
    .path = "/api/chat",
    .build_body = ollama_body,
    .parse_line = ollama_line,
};
