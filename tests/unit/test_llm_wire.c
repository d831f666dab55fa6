/* The two wire formats, line by line: content, end markers, error objects,
 * SSE comments, and the request body. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "check.h"
#include "llm/llm.h"
#include "llm/llm_check.h"

static char got[512];

static void emit(void *ud, const char *text, size_t len)
{
    (void)ud;
    strncat(got, text, len);
}

/* Tool-call pieces as the wire reports them, "index:id:name:args|". */
static char calls[512];

static void tool(void *ud, int index, const char *id, const char *name, const char *args, size_t len)
{
    (void)ud;
    snprintf(calls + strlen(calls), sizeof calls - strlen(calls), "%d:%s:%s:%.*s|", index, id ? id : "",
             name ? name : "", (int)len, args);
}

/* Reasoning, kept apart from the reply. */
static char thought[512];

static void think(void *ud, const char *text, size_t len)
{
    (void)ud;
    strncat(thought, text, len);
}

static int line(const struct llm_wire *w, const char *s, char *err)
{
    struct llm_sink sink = {.text = emit, .thinking = think, .tool = tool, .ud = NULL};
    return w->parse_line(s, strlen(s), &sink, err, 256);
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

    /* Tool calls: Ollama's whole, OpenAI's in deltas by index. */
    calls[0] = 0;
    CHECK(line(o, "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":"
                  "{\"name\":\"memory_save\",\"arguments\":{\"content\":\"likes Alien\"}}}]},\"done\":false}",
               err) == 0);
    CHECK_STR(calls, "-1::memory_save:{\"content\":\"likes Alien\"}|");
    calls[0] = 0;
    CHECK(line(a, "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_9\","
                  "\"type\":\"function\",\"function\":{\"name\":\"current_time\",\"arguments\":\"\"}}]}}]}",
               err) == 0);
    CHECK(line(a, "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
                  "{\"arguments\":\"{\\\"tz\\\":\"}}]}}]}",
               err) == 0);
    CHECK_STR(calls, "0:call_9:current_time:|0:::{\"tz\":|");

    struct llm_params p = llm_default_params();
    struct llm_message msgs[] = {{"system", "be brief", NULL, NULL, NULL}, {"user", "say \"hi\"", NULL, NULL, NULL}};
    char *body = o->build_body(&p, msgs, 2);
    cJSON *j = cJSON_Parse(body);
    CHECK(j && cJSON_IsTrue(cJSON_GetObjectItem(j, "stream")));
    CHECK_STR(cJSON_GetObjectItem(j, "model")->valuestring, "mistral");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "messages")) == 2);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "messages"), 1), "content")->valuestring,
              "say \"hi\"");
    cJSON_Delete(j);
    free(body);

    /* A tool round trip, written in each provider's shape. */
    p.tools = "[{\"type\":\"function\",\"function\":{\"name\":\"current_time\",\"parameters\":{}}}]";
    struct llm_message round[] = {
        {"user", "time?", NULL, NULL, NULL},
        {"assistant", "", "[{\"id\":\"call_1\",\"name\":\"current_time\",\"arguments\":{\"tz\":\"UTC\"}}]", NULL,
         NULL},
        {"tool", "{\"time\":\"12:00\"}", NULL, "call_1", "current_time"},
    };
    body = o->build_body(&p, round, 3);
    j = cJSON_Parse(body);
    cJSON *m1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "messages"), 1);
    cJSON *fn = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(m1, "tool_calls"), 0), "function");
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(fn, "arguments")));
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "messages"), 2), "tool_name")->valuestring,
              "current_time");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tools")) == 1);
    cJSON_Delete(j);
    free(body);
    body = a->build_body(&p, round, 3);
    j = cJSON_Parse(body);
    m1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "messages"), 1);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(m1, "content")));
    cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(m1, "tool_calls"), 0);
    CHECK_STR(cJSON_GetObjectItem(c0, "id")->valuestring, "call_1");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(c0, "function"), "arguments")->valuestring, "{\"tz\":\"UTC\"}");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "messages"), 2), "tool_call_id")->valuestring,
              "call_1");
    cJSON_Delete(j);
    free(body);

    /* The start-up check's reading of model lists. */
    char models[400];
    int found = -1;
    const char *tags = "{\"models\":[{\"name\":\"mistral:latest\",\"model\":\"mistral:latest\"},"
                       "{\"name\":\"qwen3:4b\",\"model\":\"qwen3:4b\"}]}";
    CHECK(llm_check_parse_models("ollama", tags, "mistral", models, sizeof models, &found) == 0 && found == 1);
    CHECK_STR(models, "mistral:latest, qwen3:4b");
    CHECK(llm_check_parse_models("ollama", tags, "qwen3:4b", models, sizeof models, &found) == 0 && found == 1);
    CHECK(llm_check_parse_models("ollama", tags, "qwen3", models, sizeof models, &found) == 0 && found == 0);
    CHECK(llm_check_parse_models("ollama", tags, "mistral:7b", models, sizeof models, &found) == 0 && found == 0);
    CHECK(llm_check_parse_models("ollama", "{\"models\":[]}", "mistral", models, sizeof models, &found) == 0 &&
          found == 0 && !models[0]);
    const char *list = "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o-mini\"},{\"id\":\"qwen2.5\"}]}";
    CHECK(llm_check_parse_models("openai", list, "qwen2.5", models, sizeof models, &found) == 0 && found == 1);
    CHECK(llm_check_parse_models("openai", list, "qwen2", models, sizeof models, &found) == 0 && found == 0);
    /* Another server's answer is not a model list. */
    CHECK(llm_check_parse_models("ollama", list, "qwen2.5", models, sizeof models, &found) == -1);
    CHECK(llm_check_parse_models("openai", "<html>", "x", models, sizeof models, &found) == -1);
    /* A long list is cut, never overrun. */
    char tiny[12];
    CHECK(llm_check_parse_models("ollama", tags, "mistral", tiny, sizeof tiny, &found) == 0 && strlen(tiny) < 12);
    /* thinking models: reasoning before content, never part of it */
    got[0] = thought[0] = 0;
    CHECK(line(o, "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"Hmm, \"},\"done\":false}", err) == 0);
    CHECK(line(o, "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"weather.\"},\"done\":false}", err) == 0);
    CHECK(line(o, "{\"message\":{\"role\":\"assistant\",\"content\":\"Sunny.\"},\"done\":false}", err) == 0);
    CHECK_STR(got, "Sunny.");
    CHECK_STR(thought, "Hmm, weather.");
    got[0] = thought[0] = 0;
    CHECK(line(a, "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"Let me see.\",\"content\":null}}]}", err) == 0);
    CHECK(line(a, "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\" Yes.\"}}]}", err) == 0);
    CHECK(line(a, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Rain.\"}}]}", err) == 0);
    CHECK_STR(got, "Rain.");
    CHECK_STR(thought, "Let me see. Yes.");
    /* a usage chunk with no choices, and an error object inside an open stream */
    CHECK(line(a, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}", err) == 0);
    CHECK(line(a, "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}", err) == -1 &&
          strstr(err, "overloaded"));
    /* Ollama's "think" in the body: off by default for voice, left out on auto */
    struct llm_params tp = llm_default_params();
    struct llm_message um = {.role = "user", .content = "hi"};
    body = o->build_body(&tp, &um, 1);
    CHECK(body && strstr(body, "\"think\":false"));
    free(body);
    tp.think = -1;
    body = o->build_body(&tp, &um, 1);
    CHECK(body && !strstr(body, "think"));
    free(body);
    tp.think = 1;
    body = a->build_body(&tp, &um, 1);
    CHECK(body && !strstr(body, "think")); /* not an OpenAI field */
    free(body);
    return check_summary();
}
