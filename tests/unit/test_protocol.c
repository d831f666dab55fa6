/* Protocol validation: which client messages are accepted, which are
 * recoverable errors, and which close the connection; builders emit JSON. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "check.h"
#include "protocol/protocol.h"

static int parse(const char *s, struct proto_client_msg *m, int *fatal)
{
    char err[256];
    return proto_parse(s, strlen(s), m, fatal, err, sizeof err);
}

int main(void)
{
    struct proto_client_msg m;
    int fatal;
    CHECK(parse("{\"type\":\"start\",\"sample_rate\":48000,\"format\":\"pcm_f32le\",\"tts\":\"espeak\"}", &m, &fatal) == 0);
    CHECK(m.type == MSG_START && m.sample_rate == 48000 && m.format == FMT_F32LE);
    CHECK_STR(m.tts, "espeak");
    CHECK(parse("{\"type\":\"start\"}", &m, &fatal) == 0);
    CHECK(m.half_duplex == -1);
    CHECK(parse("{\"type\":\"start\",\"half_duplex\":true}", &m, &fatal) == 0 && m.half_duplex == 1);
    CHECK(parse("{\"type\":\"start\",\"half_duplex\":\"yes\"}", &m, &fatal) == -1 && !fatal);
    CHECK(m.sample_rate == 16000 && m.format == FMT_S16LE);

    /* Recoverable: a known type with bad fields. */
    CHECK(parse("{\"type\":\"start\",\"sample_rate\":\"16k\"}", &m, &fatal) == -1 && !fatal);
    CHECK(parse("{\"type\":\"start\",\"sample_rate\":100}", &m, &fatal) == -1 && !fatal);
    CHECK(parse("{\"type\":\"start\",\"format\":\"mp3\"}", &m, &fatal) == -1 && !fatal);
    CHECK(parse("{\"type\":\"text\"}", &m, &fatal) == -1 && !fatal);
    CHECK(parse("{\"type\":\"text\",\"text\":\"\"}", &m, &fatal) == -1 && !fatal);
    CHECK(parse("{\"type\":\"played\",\"turn\":1}", &m, &fatal) == -1 && !fatal);

    /* Fatal: not JSON, not an object, no type, unknown type. */
    CHECK(parse("hello", &m, &fatal) == -1 && fatal);
    CHECK(parse("[1,2]", &m, &fatal) == -1 && fatal);
    CHECK(parse("{\"kind\":\"start\"}", &m, &fatal) == -1 && fatal);
    CHECK(parse("{\"type\":42}", &m, &fatal) == -1 && fatal);
    CHECK(parse("{\"type\":\"dance\"}", &m, &fatal) == -1 && fatal);

    CHECK(parse("{\"type\":\"text\",\"text\":\"hi there\"}", &m, &fatal) == 0);
    CHECK(m.type == MSG_TEXT);
    CHECK_STR(m.text, "hi there");
    proto_client_msg_clear(&m);
    CHECK(parse("{\"type\":\"played\",\"turn\":3,\"ms\":1500}", &m, &fatal) == 0);
    CHECK(m.type == MSG_PLAYED && m.turn == 3 && m.ms == 1500);
    CHECK(parse("{\"type\":\"stop\"}", &m, &fatal) == 0 && m.type == MSG_STOP);
    CHECK(parse("{\"type\":\"cancel\"}", &m, &fatal) == 0 && m.type == MSG_CANCEL);

    char *s = proto_error(ERR_LLM_FAIL, "cannot reach \"x\"", 1);
    cJSON *j = cJSON_Parse(s);
    CHECK(j != NULL);
    CHECK_STR(cJSON_GetObjectItem(j, "type")->valuestring, "error");
    CHECK_STR(cJSON_GetObjectItem(j, "code")->valuestring, "LLM_FAIL");
    CHECK_STR(cJSON_GetObjectItem(j, "message")->valuestring, "cannot reach \"x\"");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "recoverable")));
    cJSON_Delete(j);
    free(s);

    s = proto_done(4, "{\"total_ms\":12.5}");
    j = cJSON_Parse(s);
    CHECK(cJSON_GetObjectItem(j, "turn")->valueint == 4);
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metrics"), "total_ms")->valuedouble == 12.5);
    cJSON_Delete(j);
    free(s);

    const char *engines[] = {"flite", "espeak"};
    struct llm_check unchecked = {0};
    struct proto_ready_info info = {.session_id = "abc", .conversation_id = "conv1", .out_rate = 22050,
                                    .tts_engines = engines, .ntts_engines = 2, .llm = &unchecked,
                                    .llm_model = "mistral", .asr_engine = "whisper", .asr_partials = "pocketsphinx"};
    s = proto_ready(&info);
    j = cJSON_Parse(s);
    CHECK(!strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "asr"), "engine")->valuestring, "whisper"));
    CHECK(!strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "asr"), "partials")->valuestring, "pocketsphinx"));
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "audio_out"), "sample_rate")->valueint == 22050);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tts_engines")) == 2);
    /* Before the first check: no verdict, so no banner. */
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "llm"), "checked")));
    CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(j, "llm"), "ok"));
    cJSON_Delete(j);
    free(s);

    struct llm_check missing = {.checked = 1, .reachable = 1, .model_found = 0};
    snprintf(missing.problem, sizeof missing.problem, "Ollama has no model 'mistral'");
    snprintf(missing.fix, sizeof missing.fix, "ollama pull mistral");
    s = proto_llm_status(&missing, "mistral");
    j = cJSON_Parse(s);
    const cJSON *llm = cJSON_GetObjectItem(j, "llm");
    CHECK(!strcmp(cJSON_GetObjectItem(j, "type")->valuestring, "llm_status"));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(llm, "ok")) && cJSON_IsTrue(cJSON_GetObjectItem(llm, "reachable")));
    CHECK(!strcmp(cJSON_GetObjectItem(llm, "fix")->valuestring, "ollama pull mistral"));
    CHECK(!strcmp(cJSON_GetObjectItem(llm, "model")->valuestring, "mistral"));
    cJSON_Delete(j);
    free(s);
    return check_summary();
}
