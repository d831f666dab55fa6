/* Ollama's /api/chat wire format: a JSON request with stream=true and an
 * NDJSON response, one {"message":{"content":…},"done":…} object a line. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "llm/llm.h"

static int ollama_line(const char *line, size_t len, void (*emit)(void *, const char *, size_t), void *ud, char *err,
                       size_t errlen)
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
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
        if (cJSON_IsString(content) && content->valuestring[0])
            emit(ud, content->valuestring, strlen(content->valuestring));
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "done")))
            rc = 1;
    }
    cJSON_Delete(obj);
    return rc;
}

const struct llm_wire llm_wire_ollama = {
    .name = "ollama",
    .path = "/api/chat",
    .build_body = llm_json_chat_body,
    .parse_line = ollama_line,
};
