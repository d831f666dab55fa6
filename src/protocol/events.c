/* Typed session events encoded as protocol v1 messages (docs/protocol.md).
 * A message is made whole or not at all: out of memory gives NULL. */
#include "protocol/events.h"

#include <stdlib.h>

#include "protocol/protocol.h"

/* Adds item under key, or deletes it when that fails (out of memory). */
static int add_item(cJSON *o, const char *key, cJSON *item)
{
    if (item && o && cJSON_AddItemToObject(o, key, item))
        return 0;
    cJSON_Delete(item);
    return -1;
}

static const char *str(const char *s) { return s ? s : ""; }

cJSON *proto_llm_object(const struct llm_check *c, const char *model)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "checked", c->checked);
    cJSON_AddStringToObject(o, "model", str(model));
    if (!c->checked)
        return o;
    cJSON_AddBoolToObject(o, "ok", llm_check_ok(c));
    cJSON_AddBoolToObject(o, "reachable", c->reachable);
    cJSON_AddBoolToObject(o, "model_found", c->model_found);
    if (c->problem[0]) {
        cJSON_AddStringToObject(o, "problem", c->problem);
        cJSON_AddStringToObject(o, "fix", c->fix);
    }
    if (c->models[0])
        cJSON_AddStringToObject(o, "models", c->models);
    return o;
}

cJSON *proto_metrics_object(const struct proto_metrics *m)
{
    cJSON *o = cJSON_CreateObject();
    const struct {
        const char *name;
        double v;
    } marks[] = {{"endpoint_ms", m->endpoint_ms},       {"final_transcript_ms", m->final_transcript_ms},
                 {"llm_request_ms", m->llm_request_ms}, {"first_token_ms", m->first_token_ms},
                 {"first_phrase_ms", m->first_phrase_ms}, {"first_audio_ms", m->first_audio_ms},
                 {"total_ms", m->total_ms},             {"first_partial_ms", m->first_partial_ms}};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        add_item(o, marks[i].name, marks[i].v < 0 ? cJSON_CreateNull() : cJSON_CreateNumber(marks[i].v));
    cJSON_AddStringToObject(o, "input", m->spoken ? "speech" : "text");
    if (m->asr_audio_ms > 0) {
        cJSON_AddNumberToObject(o, "asr_audio_ms", (double)m->asr_audio_ms);
        cJSON_AddNumberToObject(o, "asr_rtf", m->asr_rtf);
    }
    return o;
}

static void add_ready(cJSON *o, const struct proto_ready_info *r)
{
    cJSON_AddStringToObject(o, "session_id", str(r->session_id));
    cJSON_AddStringToObject(o, "conversation_id", str(r->conversation_id));
    cJSON_AddNumberToObject(o, "protocol", 1);
    cJSON *a = cJSON_AddObjectToObject(o, "audio_out");
    cJSON_AddStringToObject(a, "format", r->out_opus_frame_ms ? "opus" : "pcm_s16le");
    cJSON_AddNumberToObject(a, "sample_rate", r->out_rate);
    if (r->out_opus_frame_ms)
        cJSON_AddNumberToObject(a, "frame_ms", r->out_opus_frame_ms);
    add_item(o, "tts_engines", cJSON_CreateStringArray(r->tts_engines, r->ntts_engines));
    cJSON *asr = cJSON_AddObjectToObject(o, "asr");
    cJSON_AddStringToObject(asr, "engine", str(r->asr_engine));
    cJSON_AddStringToObject(asr, "partials", str(r->asr_partials));
    add_item(o, "llm", proto_llm_object(r->llm, r->llm_model));
}

/* Tool arguments and results are usually JSON; then the client gets JSON. */
static cJSON *json_or_string(const char *text)
{
    cJSON *v = cJSON_Parse(str(text));
    return v ? v : cJSON_CreateString(str(text));
}

static const char *const type_names[] = {
    [EV_READY] = "ready",
    [EV_LLM_STATUS] = "llm_status",
    [EV_STATE] = "state",
    [EV_SPEECH_STARTED] = "speech_started",
    [EV_SPEECH_STOPPED] = "speech_stopped",
    [EV_TRANSCRIPT] = "transcript_partial",
    [EV_THINKING] = "thinking",
    [EV_ASSISTANT_TEXT] = "assistant_text",
    [EV_TTS_START] = "tts_start",
    [EV_TTS_PHRASE_DONE] = "tts_phrase_done",
    [EV_INTERRUPTED] = "agent_interrupted",
    [EV_DONE] = "done",
    [EV_TOOL_CALL] = "tool_call",
    [EV_TOOL_RESULT] = "tool_result",
    [EV_ERROR] = "error",
    [EV_INFO] = "info",
};

const char *proto_event_type(const struct proto_event *ev)
{
    if ((unsigned)ev->kind >= sizeof type_names / sizeof type_names[0])
        return NULL;
    return ev->kind == EV_TRANSCRIPT && ev->final ? "transcript_final" : type_names[ev->kind];
}

cJSON *proto_event_object(const struct proto_event *ev)
{
    const char *type = proto_event_type(ev);
    if (!type)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    switch (ev->kind) {
    case EV_READY:
        add_ready(o, ev->ready);
        break;
    case EV_LLM_STATUS:
        add_item(o, "llm", proto_llm_object(ev->llm, ev->llm_model));
        break;
    case EV_STATE:
        cJSON_AddStringToObject(o, "state", str(ev->status));
        break;
    case EV_SPEECH_STARTED:
    case EV_SPEECH_STOPPED:
        break;
    case EV_TRANSCRIPT:
    case EV_THINKING:
    case EV_ASSISTANT_TEXT:
    case EV_TTS_START:
    case EV_TTS_PHRASE_DONE:
    case EV_INTERRUPTED:
    case EV_DONE:
    case EV_TOOL_CALL:
    case EV_TOOL_RESULT:
        cJSON_AddNumberToObject(o, "turn", (double)ev->turn);
        break;
    case EV_ERROR:
        cJSON_AddStringToObject(o, "code", str(ev->code));
        cJSON_AddStringToObject(o, "message", str(ev->text));
        cJSON_AddBoolToObject(o, "recoverable", ev->recoverable);
        if (ev->retry_after_ms > 0)
            cJSON_AddNumberToObject(o, "retry_after_ms", ev->retry_after_ms);
        break;
    case EV_INFO:
        cJSON_AddStringToObject(o, "message", str(ev->text));
        break;
    }
    switch (ev->kind) {
    case EV_TRANSCRIPT:
        cJSON_AddStringToObject(o, "text", str(ev->text));
        break;
    case EV_ASSISTANT_TEXT:
        cJSON_AddStringToObject(o, "status", str(ev->status));
        cJSON_AddStringToObject(o, "text", str(ev->text));
        break;
    case EV_TTS_START:
        cJSON_AddNumberToObject(o, "phrase", ev->phrase);
        cJSON_AddStringToObject(o, "text", str(ev->text));
        cJSON_AddNumberToObject(o, "sample_rate", ev->rate);
        break;
    case EV_TTS_PHRASE_DONE:
        cJSON_AddNumberToObject(o, "phrase", ev->phrase);
        break;
    case EV_DONE:
        if (ev->metrics)
            add_item(o, "metrics", proto_metrics_object(ev->metrics));
        else
            cJSON_AddObjectToObject(o, "metrics");
        break;
    case EV_TOOL_CALL:
    case EV_TOOL_RESULT:
        cJSON_AddStringToObject(o, "id", str(ev->tool_id));
        cJSON_AddStringToObject(o, "name", str(ev->tool_name));
        if (ev->kind == EV_TOOL_CALL) {
            add_item(o, "arguments", json_or_string(ev->arguments));
        } else {
            cJSON_AddBoolToObject(o, "is_error", ev->is_error);
            add_item(o, "result", json_or_string(ev->text));
        }
        break;
    default:
        break;
    }
    return o;
}

char *proto_event_json(const struct proto_event *ev)
{
    cJSON *o = proto_event_object(ev);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}
