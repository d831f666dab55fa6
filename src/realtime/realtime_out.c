/* The Realtime adapter's server side: the session's typed events become the
 * Realtime event sequence (speech_started … committed, transcription,
 * response.created … response.done), and reply audio becomes base64 deltas
 * at 24 kHz (or G.711 at 8 kHz). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/g711.h"
#include "core/base64.h"
#include "protocol/protocol.h"
#include "realtime/realtime_internal.h"

static int64_t ms_of(int64_t samples24k)
{
    return samples24k * 1000 / RT_RATE;
}

static cJSON *event(const char *type)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", type);
    return ev;
}

/* response_id, item_id, output_index, content_index: the fields of every
 * event about the response's content. */
static cJSON *content_event(realtime *r, const char *type)
{
    cJSON *ev = event(type);
    cJSON_AddStringToObject(ev, "response_id", r->resp.id);
    cJSON_AddStringToObject(ev, "item_id", r->resp.item);
    cJSON_AddNumberToObject(ev, "output_index", 0);
    cJSON_AddNumberToObject(ev, "content_index", 0);
    return ev;
}

static cJSON *part(const realtime *r)
{
    cJSON *p = cJSON_CreateObject();
    const char *text = r->resp.transcript ? r->resp.transcript : "";
    cJSON_AddStringToObject(p, "type", r->text_only ? "text" : "audio");
    cJSON_AddStringToObject(p, r->text_only ? "text" : "transcript", text);
    return p;
}

static cJSON *assistant_item(const realtime *r, const char *status)
{
    cJSON *it = cJSON_CreateObject();
    cJSON_AddStringToObject(it, "id", r->resp.item);
    cJSON_AddStringToObject(it, "object", "realtime.item");
    cJSON_AddStringToObject(it, "type", "message");
    cJSON_AddStringToObject(it, "status", status);
    cJSON_AddStringToObject(it, "role", "assistant");
    cJSON *content = cJSON_AddArrayToObject(it, "content");
    if (strcmp(status, "in_progress")) {
        cJSON *c = cJSON_CreateObject();
        const char *text = r->resp.transcript ? r->resp.transcript : "";
        cJSON_AddStringToObject(c, "type", r->text_only ? "output_text" : "output_audio");
        cJSON_AddStringToObject(c, r->text_only ? "text" : "transcript", text);
        cJSON_AddItemToArray(content, c);
    }
    return it;
}

static cJSON *response_object(const realtime *r, const char *status, cJSON *output)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", r->resp.id);
    cJSON_AddStringToObject(o, "object", "realtime.response");
    cJSON_AddStringToObject(o, "status", status);
    if (!strcmp(status, "cancelled")) {
        cJSON *d = cJSON_AddObjectToObject(o, "status_details");
        cJSON_AddStringToObject(d, "type", "cancelled");
        cJSON_AddStringToObject(d, "reason", r->resp.turn_detected && !r->resp.client_cancelled ? "turn_detected"
                                                                                                 : "client_cancelled");
    } else if (!strcmp(status, "failed")) {
        cJSON *d = cJSON_AddObjectToObject(o, "status_details");
        cJSON_AddStringToObject(d, "type", "failed");
    } else {
        cJSON_AddNullToObject(o, "status_details");
    }
    const char *modality = r->text_only ? "text" : "audio";
    cJSON_AddItemToObject(o, "output_modalities", cJSON_CreateStringArray(&modality, 1));
    cJSON_AddItemToObject(o, "output", output ? output : cJSON_CreateArray());
    cJSON *usage = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(usage, "total_tokens", 0);
    cJSON_AddNumberToObject(usage, "input_tokens", 0);
    cJSON_AddNumberToObject(usage, "output_tokens", 0);
    return o;
}

static void open_response(realtime *r, uint64_t turn);

/* Closes the response: its content, its item, then response.done. */
static void finish_response(realtime *r, const char *status)
{
    struct rt_response *p = &r->resp;
    if (!p->open)
        return;
    const char *item_status = !strcmp(status, "completed") ? "completed" : "incomplete";
    if (p->item[0]) {
        if (!r->text_only) {
            rt_emit(r, content_event(r, "response.output_audio.done"), OUT_CONTROL, 0);
            cJSON *td = content_event(r, "response.output_audio_transcript.done");
            cJSON_AddStringToObject(td, "transcript", p->transcript ? p->transcript : "");
            rt_emit(r, td, OUT_CONTROL, 0);
        } else {
            cJSON *done = content_event(r, "response.output_text.done");
            cJSON_AddStringToObject(done, "text", p->transcript ? p->transcript : "");
            rt_emit(r, done, OUT_CONTROL, 0);
        }
        cJSON *pd = content_event(r, "response.content_part.done");
        cJSON_AddItemToObject(pd, "part", part(r));
        rt_emit(r, pd, OUT_CONTROL, 0);
        cJSON *od = event("response.output_item.done");
        cJSON_AddStringToObject(od, "response_id", p->id);
        cJSON_AddNumberToObject(od, "output_index", 0);
        cJSON_AddItemToObject(od, "item", assistant_item(r, item_status));
        rt_emit(r, od, OUT_CONTROL, 0);
        cJSON *cd = event("conversation.item.done");
        cJSON_AddItemToObject(cd, "item", assistant_item(r, item_status));
        rt_emit(r, cd, OUT_CONTROL, 0);
    }
    cJSON *output = cJSON_CreateArray();
    if (p->item[0])
        cJSON_AddItemToArray(output, assistant_item(r, item_status));
    for (cJSON *c = p->calls ? p->calls->child : NULL; c; c = c->next)
        cJSON_AddItemToArray(output, cJSON_Duplicate(c, 1));
    cJSON *done = event("response.done");
    cJSON_AddItemToObject(done, "response", response_object(r, status, output));
    rt_emit(r, done, OUT_CONTROL, 0);
    free(p->transcript);
    cJSON_Delete(p->calls);
    memset(p, 0, sizeof *p);
}

static void open_response(realtime *r, uint64_t turn)
{
    if (r->resp.open)
        finish_response(r, "completed");
    struct rt_response *p = &r->resp;
    p->open = 1;
    p->turn = turn;
    rt_new_id(r, "resp", p->id);
    rt_new_id(r, "item", p->item);
    r->said[r->said_next].turn = turn; /* for conversation.item.truncate */
    snprintf(r->said[r->said_next].item, RT_ID, "%s", p->item);
    r->said_next = (r->said_next + 1) % RT_ASSISTANT_ITEMS;
    cJSON *created = event("response.created");
    cJSON_AddItemToObject(created, "response", response_object(r, "in_progress", NULL));
    rt_emit(r, created, OUT_CONTROL, 0);
    cJSON *added = event("response.output_item.added");
    cJSON_AddStringToObject(added, "response_id", p->id);
    cJSON_AddNumberToObject(added, "output_index", 0);
    cJSON_AddItemToObject(added, "item", assistant_item(r, "in_progress"));
    rt_emit(r, added, OUT_CONTROL, 0);
    for (int i = 0; i < 2; i++)
        rt_emit_item(r, i ? "conversation.item.added" : "conversation.item.created", assistant_item(r, "in_progress"));
    snprintf(r->last_item, sizeof r->last_item, "%s", p->item);
    cJSON *pa = content_event(r, "response.content_part.added");
    cJSON_AddItemToObject(pa, "part", part(r));
    rt_emit(r, pa, OUT_CONTROL, 0);
}

static void say(realtime *r, uint64_t turn, const char *text)
{
    if (!text || !text[0])
        return;
    if (!r->resp.open)
        open_response(r, turn); /* the model goes on after a tool round */
    size_t n = strlen(text);
    char *t = realloc(r->resp.transcript, r->resp.len + n + 1);
    if (!t)
        return;
    memcpy(t + r->resp.len, text, n + 1);
    r->resp.transcript = t;
    r->resp.len += n;
    cJSON *d = content_event(r, r->text_only ? "response.output_text.delta" : "response.output_audio_transcript.delta");
    cJSON_AddStringToObject(d, "delta", text);
    rt_emit(r, d, OUT_CONTROL, turn);
}

static int client_tool(const realtime *r, const char *name)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, r->tools)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
            return 1;
    }
    return 0;
}

/* A call of one of the client's tools: a function_call item, and the
 * response ends there; the client's output lets the model go on. */
static void function_call(realtime *r, const struct proto_event *ev)
{
    if (!r->resp.open)
        open_response(r, ev->turn);
    struct rt_response *p = &r->resp;
    char id[RT_ID];
    rt_new_id(r, "item", id);
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "id", id);
    cJSON_AddStringToObject(item, "object", "realtime.item");
    cJSON_AddStringToObject(item, "type", "function_call");
    cJSON_AddStringToObject(item, "status", "in_progress");
    cJSON_AddStringToObject(item, "name", ev->tool_name);
    cJSON_AddStringToObject(item, "call_id", ev->tool_id);
    cJSON_AddStringToObject(item, "arguments", "");
    cJSON *added = event("response.output_item.added");
    cJSON_AddStringToObject(added, "response_id", p->id);
    cJSON_AddNumberToObject(added, "output_index", 1 + cJSON_GetArraySize(p->calls));
    cJSON_AddItemToObject(added, "item", cJSON_Duplicate(item, 1));
    rt_emit(r, added, OUT_CONTROL, 0);
    const char *args = ev->arguments ? ev->arguments : "{}";
    for (int i = 0; i < 2; i++) {
        cJSON *a = event(i ? "response.function_call_arguments.done" : "response.function_call_arguments.delta");
        cJSON_AddStringToObject(a, "response_id", p->id);
        cJSON_AddStringToObject(a, "item_id", id);
        cJSON_AddNumberToObject(a, "output_index", 1 + cJSON_GetArraySize(p->calls));
        cJSON_AddStringToObject(a, "call_id", ev->tool_id);
        cJSON_AddStringToObject(a, i ? "arguments" : "delta", args);
        if (i)
            cJSON_AddStringToObject(a, "name", ev->tool_name);
        rt_emit(r, a, OUT_CONTROL, 0);
    }
    cJSON_ReplaceItemInObjectCaseSensitive(item, "status", cJSON_CreateString("completed"));
    cJSON_ReplaceItemInObjectCaseSensitive(item, "arguments", cJSON_CreateString(args));
    cJSON *done = event("response.output_item.done");
    cJSON_AddStringToObject(done, "response_id", p->id);
    cJSON_AddNumberToObject(done, "output_index", 1 + cJSON_GetArraySize(p->calls));
    cJSON_AddItemToObject(done, "item", cJSON_Duplicate(item, 1));
    rt_emit(r, done, OUT_CONTROL, 0);
    cJSON *cd = event("conversation.item.done");
    cJSON_AddItemToObject(cd, "item", cJSON_Duplicate(item, 1));
    rt_emit(r, cd, OUT_CONTROL, 0);
    if (!p->calls)
        p->calls = cJSON_CreateArray();
    cJSON_AddItemToArray(p->calls, item);
    snprintf(r->last_item, sizeof r->last_item, "%s", id);
}

static void user_speech(realtime *r, const struct proto_event *ev)
{
    if (ev->kind == EV_SPEECH_STARTED) {
        rt_new_id(r, "item", r->user_item);
        r->partial[0] = 0;
        r->speaking = 1;
        if (r->resp.open)
            r->resp.turn_detected = 1; /* a barge-in: the response ends cancelled */
        cJSON *e = event("input_audio_buffer.speech_started");
        cJSON_AddNumberToObject(e, "audio_start_ms", (double)ms_of(r->in_samples));
        cJSON_AddStringToObject(e, "item_id", r->user_item);
        rt_emit(r, e, OUT_CONTROL, 0);
        return;
    }
    r->speaking = 0;
    cJSON *e = event("input_audio_buffer.speech_stopped");
    cJSON_AddNumberToObject(e, "audio_end_ms", (double)ms_of(r->in_samples));
    cJSON_AddStringToObject(e, "item_id", r->user_item);
    rt_emit(r, e, OUT_CONTROL, 0);
    cJSON *c = event("input_audio_buffer.committed");
    if (r->last_item[0])
        cJSON_AddStringToObject(c, "previous_item_id", r->last_item);
    else
        cJSON_AddNullToObject(c, "previous_item_id");
    cJSON_AddStringToObject(c, "item_id", r->user_item);
    rt_emit(r, c, OUT_CONTROL, 0);
    for (int i = 0; i < 2; i++) {
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "id", r->user_item);
        cJSON_AddStringToObject(it, "object", "realtime.item");
        cJSON_AddStringToObject(it, "type", "message");
        cJSON_AddStringToObject(it, "status", "completed");
        cJSON_AddStringToObject(it, "role", "user");
        cJSON *content = cJSON_AddArrayToObject(it, "content"), *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "type", "input_audio");
        cJSON_AddNullToObject(a, "transcript");
        cJSON_AddItemToArray(content, a);
        rt_emit_item(r, i ? "conversation.item.added" : "conversation.item.created", it);
    }
    snprintf(r->last_item, sizeof r->last_item, "%s", r->user_item);
}

/* Partials are revised as the recogniser hears more; a delta is sent only
 * when the new text extends what was sent (deltas add up to the text). */
static void transcript(realtime *r, const struct proto_event *ev)
{
    const char *text = ev->text ? ev->text : "";
    if (!r->user_item[0])
        rt_new_id(r, "item", r->user_item);
    if (!ev->final) {
        size_t had = strlen(r->partial);
        if (strlen(text) > had && !strncmp(text, r->partial, had) && strlen(text) < sizeof r->partial) {
            cJSON *d = event("conversation.item.input_audio_transcription.delta");
            cJSON_AddStringToObject(d, "item_id", r->user_item);
            cJSON_AddNumberToObject(d, "content_index", 0);
            cJSON_AddStringToObject(d, "delta", text + had);
            rt_emit(r, d, OUT_PARTIAL, 0);
            snprintf(r->partial, sizeof r->partial, "%s", text);
        }
        return;
    }
    cJSON *c = event("conversation.item.input_audio_transcription.completed");
    cJSON_AddStringToObject(c, "item_id", r->user_item);
    cJSON_AddNumberToObject(c, "content_index", 0);
    cJSON_AddStringToObject(c, "transcript", text);
    cJSON *usage = cJSON_AddObjectToObject(c, "usage");
    cJSON_AddStringToObject(usage, "type", "duration");
    cJSON_AddNumberToObject(usage, "seconds", 0);
    rt_emit(r, c, OUT_CONTROL, 0);
}

enum outq_result realtime_on_event(realtime *r, const struct proto_event *ev, enum out_class cls, uint64_t turn)
{
    (void)cls;
    switch (ev->kind) {
    case EV_READY: {
        r->ready = 1;
        cJSON *c = event("session.created");
        cJSON_AddItemToObject(c, "session", rt_session_object(r));
        rt_emit(r, c, OUT_CONTROL, 0);
        break;
    }
    case EV_SPEECH_STARTED:
    case EV_SPEECH_STOPPED: user_speech(r, ev); break;
    case EV_TRANSCRIPT: transcript(r, ev); break;
    case EV_ASSISTANT_TEXT:
        if (ev->status && !strcmp(ev->status, "start")) {
            open_response(r, ev->turn);
            say(r, ev->turn, ev->text); /* a reply held until the endpoint comes with its text so far */
        } else if (ev->status && !strcmp(ev->status, "chunk")) {
            say(r, ev->turn, ev->text);
        }
        break;
    case EV_TOOL_CALL:
        if (client_tool(r, ev->tool_name ? ev->tool_name : "")) {
            function_call(r, ev);
            finish_response(r, "completed"); /* ends on the call: the client runs it */
            r->awaiting_tool = 1;
        }
        break;
    case EV_DONE:
        if (r->resp.open && r->resp.turn == ev->turn)
            finish_response(r, r->resp.failed ? "failed" : "completed");
        break;
    case EV_INTERRUPTED:
        if (r->resp.open)
            finish_response(r, "cancelled");
        break;
    case EV_ERROR: {
        int client = ev->code && (!strcmp(ev->code, ERR_PROTOCOL) || !strcmp(ev->code, ERR_UNAUTHORIZED));
        if (r->resp.open && ev->code && strncmp(ev->code, "LLM_", 4) == 0)
            r->resp.failed = 1;
        rt_error(r, client ? "invalid_request_error" : "server_error", ev->code ? ev->code : "INTERNAL",
                 ev->text ? ev->text : "", NULL, NULL);
        break;
    }
    default: break;
    }
    (void)turn;
    return OUTQ_OK;
}

enum outq_result realtime_on_audio(realtime *r, uint64_t turn, int phrase, const int16_t *pcm, size_t n)
{
    if (r->text_only) /* nothing is played: accounted as written at once */
        return r->send(r->ud, OUT_TURN_AUDIO, turn, phrase, "", 0, n);
    if (!r->resp.open)
        open_response(r, turn);
    int rate = r->out_format == RT_PCM16 ? RT_RATE : RT_G711_RATE;
    if (!r->out_rs || r->out_rs_rate != rate) {
        resampler_free(r->out_rs);
        r->out_rs = resampler_new(r->p.tts_rate, rate);
        r->out_rs_rate = rate;
    }
    r->out.len = 0;
    if (!r->out_rs || resampler_process(r->out_rs, pcm, n, &r->out))
        return OUTQ_FULL;
    size_t bytes = r->out_format == RT_PCM16 ? r->out.len * 2 : r->out.len;
    unsigned char *raw = malloc(bytes ? bytes : 1);
    if (!raw)
        return OUTQ_FULL;
    for (size_t i = 0; i < r->out.len; i++) {
        int16_t v = r->out.samples[i];
        if (r->out_format == RT_PCM16) {
            raw[2 * i] = (unsigned char)(v & 0xff);
            raw[2 * i + 1] = (unsigned char)((uint16_t)v >> 8);
        } else {
            raw[i] = r->out_format == RT_PCMU ? g711_ulaw_encode(v) : g711_alaw_encode(v);
        }
    }
    char *b64 = base64_encode(raw, bytes, NULL);
    free(raw);
    cJSON *d = content_event(r, "response.output_audio.delta");
    cJSON_AddStringToObject(d, "delta", b64 ? b64 : "");
    free(b64);
    /* Purged with the turn on a barge-in, and counted as played once written. */
    return rt_emit_audio(r, d, OUT_TURN_AUDIO, turn, phrase, n);
}
