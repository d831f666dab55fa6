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
    CHECK(m.half_duplex == -1 && m.echo_cancellation == -1);
    CHECK(parse("{\"type\":\"start\",\"half_duplex\":true}", &m, &fatal) == 0 && m.half_duplex == 1);
    CHECK(parse("{\"type\":\"start\",\"half_duplex\":\"yes\"}", &m, &fatal) == -1 && !fatal);
    CHECK(parse("{\"type\":\"start\",\"echo_cancellation\":false}", &m, &fatal) == 0 && m.echo_cancellation == 0);
    CHECK(parse("{\"type\":\"start\",\"echo_cancellation\":1}", &m, &fatal) == -1 && !fatal);
    CHECK(m.sample_rate == 16000 && m.format == FMT_S16LE && m.output_format == FMT_S16LE);
    CHECK(parse("{\"type\":\"start\",\"format\":\"opus\",\"output_format\":\"opus\"}", &m, &fatal) == 0);
    CHECK(m.format == FMT_OPUS && m.output_format == FMT_OPUS);
    CHECK(parse("{\"type\":\"start\",\"output_format\":\"pcm_s16le\"}", &m, &fatal) == 0 && m.output_format == FMT_S16LE);
    CHECK(parse("{\"type\":\"start\",\"output_format\":\"pcm_f32le\"}", &m, &fatal) == -1 && !fatal);
    CHECK(parse("{\"type\":\"start\",\"output_format\":null}", &m, &fatal) == -1 && !fatal);

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

    struct proto_event ev = {.kind = EV_ERROR, .code = ERR_LLM_FAIL, .text = "cannot reach \"x\"", .recoverable = 1};
    char *s = proto_event_json(&ev);
    cJSON *j = cJSON_Parse(s);
    CHECK(j != NULL);
    CHECK_STR(cJSON_GetObjectItem(j, "type")->valuestring, "error");
    CHECK_STR(cJSON_GetObjectItem(j, "code")->valuestring, "LLM_FAIL");
    CHECK_STR(cJSON_GetObjectItem(j, "message")->valuestring, "cannot reach \"x\"");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "recoverable")));
    CHECK(!cJSON_GetObjectItem(j, "retry_after_ms"));
    cJSON_Delete(j);
    free(s);

    /* BUSY says when to come back. */
    ev = (struct proto_event){
        .kind = EV_ERROR, .code = ERR_BUSY, .text = "full", .recoverable = 1, .retry_after_ms = 2000};
    s = proto_event_json(&ev);
    j = cJSON_Parse(s);
    CHECK(cJSON_GetObjectItem(j, "retry_after_ms")->valueint == 2000);
    cJSON_Delete(j);
    free(s);

    ev = (struct proto_event){.kind = EV_TRANSCRIPT, .turn = 2, .text = "hi", .final = 1};
    s = proto_event_json(&ev);
    CHECK_STR(s, "{\"type\":\"transcript_final\",\"turn\":2,\"text\":\"hi\"}");
    free(s);
    ev.final = 0;
    CHECK_STR(proto_event_type(&ev), "transcript_partial");

    /* Tool arguments that are JSON go out as JSON; others as a string. */
    ev = (struct proto_event){
        .kind = EV_TOOL_CALL, .turn = 3, .tool_id = "c0", .tool_name = "now", .arguments = "{\"tz\":\"UTC\"}"};
    s = proto_event_json(&ev);
    j = cJSON_Parse(s);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "arguments"), "tz")->valuestring, "UTC");
    cJSON_Delete(j);
    free(s);
    ev = (struct proto_event){.kind = EV_TOOL_RESULT, .turn = 3, .tool_id = "c0", .tool_name = "now", .text = "oops"};
    s = proto_event_json(&ev);
    j = cJSON_Parse(s);
    CHECK_STR(cJSON_GetObjectItem(j, "result")->valuestring, "oops");
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(j, "is_error")));
    cJSON_Delete(j);
    free(s);

    struct proto_metrics pm = {.endpoint_ms = 500,
                               .final_transcript_ms = PROTO_UNREACHED,
                               .llm_request_ms = PROTO_UNREACHED,
                               .first_token_ms = PROTO_UNREACHED,
                               .first_phrase_ms = PROTO_UNREACHED,
                               .first_audio_ms = PROTO_UNREACHED,
                               .total_ms = 12.5,
                               .first_partial_ms = PROTO_UNREACHED,
                               .spoken = 1};
    ev = (struct proto_event){.kind = EV_DONE, .turn = 4, .metrics = &pm};
    s = proto_event_json(&ev);
    j = cJSON_Parse(s);
    CHECK(cJSON_GetObjectItem(j, "turn")->valueint == 4);
    const cJSON *mj = cJSON_GetObjectItem(j, "metrics");
    CHECK(cJSON_GetObjectItem(mj, "total_ms")->valuedouble == 12.5);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(mj, "first_audio_ms")));
    CHECK_STR(cJSON_GetObjectItem(mj, "input")->valuestring, "speech");
    CHECK(!cJSON_GetObjectItem(mj, "asr_rtf"));
    cJSON_Delete(j);
    free(s);

    const char *engines[] = {"flite", "espeak"};
    struct llm_check unchecked = {0};
    struct proto_ready_info info = {.session_id = "abc", .conversation_id = "conv1", .out_rate = 22050,
                                    .tts_engines = engines, .ntts_engines = 2, .llm = &unchecked,
                                    .llm_model = "mistral", .asr_engine = "whisper", .asr_partials = "pocketsphinx"};
    ev = (struct proto_event){.kind = EV_READY, .ready = &info};
    s = proto_event_json(&ev);
    j = cJSON_Parse(s);
    CHECK(!strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "asr"), "engine")->valuestring, "whisper"));
    CHECK(!strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "asr"), "partials")->valuestring, "pocketsphinx"));
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "audio_out"), "sample_rate")->valueint == 22050);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tts_engines")) == 2);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "audio_out"), "format")->valuestring, "pcm_s16le");
    CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(j, "audio_out"), "frame_ms"));
    /* Before the first check: no verdict, so no banner. */
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "llm"), "checked")));
    CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(j, "llm"), "ok"));
    cJSON_Delete(j);
    free(s);

    info.out_rate = 48000;
    info.out_opus_frame_ms = 20;
    s = proto_event_json(&ev);
    j = cJSON_Parse(s);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "audio_out"), "format")->valuestring, "opus");
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "audio_out"), "frame_ms")->valueint == 20);
    cJSON_Delete(j);
    free(s);

    struct llm_check missing = {.checked = 1, .reachable = 1, .model_found = 0};
    snprintf(missing.problem, sizeof missing.problem, "Ollama has no model 'mistral'");
    snprintf(missing.fix, sizeof missing.fix, "ollama pull mistral");
    ev = (struct proto_event){.kind = EV_LLM_STATUS, .llm = &missing, .llm_model = "mistral"};
    s = proto_event_json(&ev);
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
