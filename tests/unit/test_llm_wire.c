/* The two wire formats, line by line: content, end markers, error objects,
 * SSE comments, and the request body. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "check.h"
#include "llm/llm.h"

static char got[512];

static void emit(void *ud, const char *text, size_t len)
{
    (void)ud;
    strncat(got, text, len);
}

static int line(const struct llm_wire *w, const char *s, char *err)
{
    return w->parse_line(s, strlen(s), emit, NULL, err, 256);
}

int main(void)
{
    char err[256];
    const struct llm_wire *o = llm_wire_find("ollama"), *a = llm_wire_find("openai");
    CHECK(o && a && !llm_wire_find("x"));
    CHECK_STR(o->path, "/api/chat");
    CHECK_STR(a->path, "/chat/completions");

    got[0] = 0;
    CHECK(line(o, "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}", err) == 0);
    CHECK(line(o, "{\"message\":{\"role\":\"assistant\",\"content\":\"lo\"},\"done\":false}", err) == 0);
    CHECK(line(o, "", err) == 0);
    CHECK(line(o, "{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done_reason\":\"stop\",\"done\":true}", err) == 1);
    CHECK_STR(got, "Hello");
    CHECK(line(o, "{\"error\":\"model 'x' not found\"}", err) == -1);
    CHECK(strstr(err, "not found") != NULL);
    CHECK(line(o, "{not json", err) == -1);

    got[0] = 0;
    CHECK(line(a, ": keep-alive", err) == 0);
    CHECK(line(a, "", err) == 0);
    CHECK(line(a, "event: message", err) == 0);
    CHECK(line(a, "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}", err) == 0);
    CHECK(line(a, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi \"}}]}", err) == 0);
    CHECK(line(a, "data:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"you\"}}]}", err) == 0);
    CHECK(line(a, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}", err) == 0);
    CHECK(line(a, "data: [DONE]", err) == 1);
    CHECK_STR(got, "Hi you");
    CHECK(line(a, "data: {\"error\":{\"message\":\"rate limited\"}}", err) == -1);
    CHECK_STR(err, "rate limited");

    struct llm_params p = llm_default_params();
    struct llm_message msgs[] = {{"system", "be brief"}, {"user", "say \"hi\""}};
    char *body = o->build_body(&p, msgs, 2);
    cJSON *j = cJSON_Parse(body);
    CHECK(j && cJSON_IsTrue(cJSON_GetObjectItem(j, "stream")));
    CHECK_STR(cJSON_GetObjectItem(j, "model")->valuestring, "mistral");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "messages")) == 2);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "messages"), 1), "content")->valuestring,
              "say \"hi\"");
    cJSON_Delete(j);
    free(body);
    return check_summary();
}
