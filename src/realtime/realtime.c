/* The Realtime adapter's client side: the session object (session.update),
 * the input audio buffer, conversation items and responses. Every bad client
 * event is answered with an error event carrying its event_id; none closes
 * the connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/g711.h"
#include "core/base64.h"
#include "core/utf8.h"
#include "protocol/protocol.h"
#include "realtime/realtime_internal.h"

struct realtime_params realtime_default_params(void)
{
    return (struct realtime_params){.tts_rate = 16000, .model = "parley", .voice = "flite"};
}

realtime *realtime_new(const struct realtime_params *p, session *s, realtime_send_fn send, void *ud)
{
    realtime *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->p = *p;
    snprintf(r->model, sizeof r->model, "%s", p->model ? p->model : "parley");
    snprintf(r->voice, sizeof r->voice, "%s", p->voice ? p->voice : "");
    r->p.model = r->model;
    r->p.voice = r->voice;
    r->s = s;
    r->send = send;
    r->ud = ud;
    r->turn_detection = r->create_response = 1;
    snprintf(r->tool_choice, sizeof r->tool_choice, "auto");
    return r;
}

void realtime_free(realtime *r)
{
    if (!r)
        return;
    free(r->instructions);
    cJSON_Delete(r->tools);
    free(r->pending_text);
    free(r->resp.transcript);
    cJSON_Delete(r->resp.calls);
    resampler_free(r->in_rs);
    resampler_free(r->out_rs);
    pcm_free(&r->out);
    free(r);
}

void rt_new_id(realtime *r, const char *prefix, char *out)
{
    snprintf(out, RT_ID, "%s_%06llu", prefix, (unsigned long long)++r->next_id);
}

enum outq_result rt_emit_audio(realtime *r, cJSON *ev, enum out_class cls, uint64_t turn, int phrase, size_t samples)
{
    char id[RT_ID];
    rt_new_id(r, "event", id);
    cJSON_AddStringToObject(ev, "event_id", id);
    char *text = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    enum outq_result res = text ? r->send(r->ud, cls, turn, phrase, text, strlen(text), samples) : OUTQ_FULL;
    free(text);
    return res;
}

enum outq_result rt_emit(realtime *r, cJSON *ev, enum out_class cls, uint64_t turn)
{
    return rt_emit_audio(r, ev, cls, turn, 0, 0);
}

enum outq_result rt_error(realtime *r, const char *type, const char *code, const char *message, const char *param,
                          const char *event_id)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "error");
    cJSON *e = cJSON_AddObjectToObject(ev, "error");
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    if (param)
        cJSON_AddStringToObject(e, "param", param);
    else
        cJSON_AddNullToObject(e, "param");
    if (event_id && event_id[0])
        cJSON_AddStringToObject(e, "event_id", event_id);
    else
        cJSON_AddNullToObject(e, "event_id");
    return rt_emit(r, ev, OUT_CONTROL, 0);
}

/* ---- the session object ---- */

static cJSON *format_object(enum rt_format f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", f == RT_PCMU ? "audio/pcmu" : f == RT_PCMA ? "audio/pcma" : "audio/pcm");
    if (f == RT_PCM16)
        cJSON_AddNumberToObject(o, "rate", RT_RATE);
    return o;
}

cJSON *rt_session_object(const realtime *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "realtime");
    cJSON_AddStringToObject(o, "object", "realtime.session");
    cJSON_AddStringToObject(o, "model", r->model);
    const char *modality = r->text_only ? "text" : "audio";
    cJSON_AddItemToObject(o, "output_modalities", cJSON_CreateStringArray(&modality, 1));
    cJSON_AddStringToObject(o, "instructions", r->instructions ? r->instructions : "");
    cJSON *audio = cJSON_AddObjectToObject(o, "audio");
    cJSON *in = cJSON_AddObjectToObject(audio, "input");
    cJSON_AddItemToObject(in, "format", format_object(r->in_format));
    cJSON *tr = cJSON_AddObjectToObject(in, "transcription");
    cJSON_AddStringToObject(tr, "model", "parley");
    cJSON_AddNullToObject(in, "noise_reduction");
    if (r->turn_detection) {
        cJSON *td = cJSON_AddObjectToObject(in, "turn_detection");
        cJSON_AddStringToObject(td, "type", "server_vad");
        cJSON_AddBoolToObject(td, "create_response", 1);
        cJSON_AddBoolToObject(td, "interrupt_response", 1);
    } else {
        cJSON_AddNullToObject(in, "turn_detection");
    }
    cJSON *out = cJSON_AddObjectToObject(audio, "output");
    cJSON_AddItemToObject(out, "format", format_object(r->out_format));
    cJSON_AddStringToObject(out, "voice", r->voice);
    cJSON_AddNumberToObject(out, "speed", 1.0);
    cJSON_AddItemToObject(o, "tools", r->tools ? cJSON_Duplicate(r->tools, 1) : cJSON_CreateArray());
    cJSON_AddStringToObject(o, "tool_choice", r->tool_choice);
    cJSON_AddStringToObject(o, "max_output_tokens", "inf");
    return o;
}

static const cJSON *field(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

/* GA {"type":"audio/pcm","rate":24000} | {"type":"audio/pcmu"} | …, or beta
 * "pcm16" | "g711_ulaw" | "g711_alaw". */
static int parse_format(const cJSON *v, enum rt_format *out)
{
    const char *t = cJSON_IsString(v) ? v->valuestring : cJSON_IsString(field(v, "type")) ? field(v, "type")->valuestring : "";
    const cJSON *rate = cJSON_IsObject(v) ? field(v, "rate") : NULL;
    if (rate && !(cJSON_IsNumber(rate) && rate->valuedouble == RT_RATE))
        return -1;
    if (!strcmp(t, "audio/pcm") || !strcmp(t, "pcm16"))
        *out = RT_PCM16;
    else if (!strcmp(t, "audio/pcmu") || !strcmp(t, "g711_ulaw"))
        *out = RT_PCMU;
    else if (!strcmp(t, "audio/pcma") || !strcmp(t, "g711_alaw"))
        *out = RT_PCMA;
    else
        return -1;
    return 0;
}

/* The client's function tools ({type,name,description,parameters}) as the
 * LLM's definitions. NULL with *bad set when one is malformed. */
static char *tool_definitions(const cJSON *tools, const char **bad)
{
    cJSON *defs = cJSON_CreateArray();
    const cJSON *t;
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *name = field(t, "name"), *type = field(t, "type");
        if (!cJSON_IsObject(t) || !cJSON_IsString(name) || !name->valuestring[0] ||
            (type && !(cJSON_IsString(type) && !strcmp(type->valuestring, "function")))) {
            *bad = "each tool needs \"type\":\"function\" and a \"name\" (other tool types are not supported)";
            cJSON_Delete(defs);
            return NULL;
        }
        cJSON *def = cJSON_CreateObject(), *fn = cJSON_CreateObject();
        cJSON_AddStringToObject(def, "type", "function");
        cJSON_AddStringToObject(fn, "name", name->valuestring);
        const cJSON *desc = field(t, "description"), *params = field(t, "parameters");
        cJSON_AddStringToObject(fn, "description", cJSON_IsString(desc) ? desc->valuestring : "");
        cJSON_AddItemToObject(fn, "parameters", cJSON_IsObject(params) ? cJSON_Duplicate(params, 1) : cJSON_CreateObject());
        cJSON_AddItemToObject(def, "function", fn);
        cJSON_AddItemToArray(defs, def);
    }
    char *out = cJSON_PrintUnformatted(defs);
    cJSON_Delete(defs);
    return out;
}

/* Checks every field first; applies them only if all are valid. */
static void session_update(realtime *r, const cJSON *sess, const char *event_id)
{
    if (!cJSON_IsObject(sess)) {
        rt_error(r, "invalid_request_error", "missing_required_parameter", "session.update needs a 'session' object",
                 "session", event_id);
        return;
    }
    const cJSON *audio = field(sess, "audio"), *in = field(audio, "input"), *out = field(audio, "output");
    const cJSON *type = field(sess, "type");
    const cJSON *mods = field(sess, "output_modalities") ? field(sess, "output_modalities") : field(sess, "modalities");
    const cJSON *instr = field(sess, "instructions");
    const cJSON *in_fmt = field(in, "format") ? field(in, "format") : field(sess, "input_audio_format");
    const cJSON *out_fmt = field(out, "format") ? field(out, "format") : field(sess, "output_audio_format");
    const cJSON *td = cJSON_HasObjectItem(in, "turn_detection") ? field(in, "turn_detection") : field(sess, "turn_detection");
    const cJSON *voice = field(out, "voice") ? field(out, "voice") : field(sess, "voice");
    const cJSON *tools = field(sess, "tools"), *choice = field(sess, "tool_choice");
    enum rt_format fin = r->in_format, fout = r->out_format;
    int text_only = r->text_only;
    const char *bad = NULL, *param = NULL;
    char *defs = NULL;
    if (type && !(cJSON_IsString(type) && !strcmp(type->valuestring, "realtime")))
        bad = "only \"realtime\" sessions are served (not transcription sessions)", param = "session.type";
    else if (mods && !cJSON_IsArray(mods))
        bad = "output_modalities must be an array", param = "session.output_modalities";
    else if (instr && !cJSON_IsString(instr))
        bad = "instructions must be a string", param = "session.instructions";
    else if (in_fmt && parse_format(in_fmt, &fin))
        bad = "the input format must be audio/pcm at 24000 Hz, audio/pcmu or audio/pcma", param = "session.audio.input.format";
    else if (out_fmt && parse_format(out_fmt, &fout))
        bad = "the output format must be audio/pcm at 24000 Hz, audio/pcmu or audio/pcma", param = "session.audio.output.format";
    else if (td && !cJSON_IsNull(td) && !cJSON_IsObject(td))
        bad = "turn_detection must be an object or null", param = "session.audio.input.turn_detection";
    else if (voice && !cJSON_IsString(voice))
        bad = "voice must be a string", param = "session.audio.output.voice";
    else if (tools && !cJSON_IsArray(tools))
        bad = "tools must be an array", param = "session.tools";
    else if (choice && !cJSON_IsString(choice))
        bad = "tool_choice must be \"auto\", \"none\" or \"required\"", param = "session.tool_choice";
    else if (tools && !(defs = tool_definitions(tools, &bad)))
        param = "session.tools";
    if (!bad && mods) {
        const cJSON *m;
        int has_audio = 0, n = 0;
        cJSON_ArrayForEach(m, mods)
        {
            n++;
            if (cJSON_IsString(m) && !strcmp(m->valuestring, "audio"))
                has_audio = 1;
            else if (!cJSON_IsString(m) || strcmp(m->valuestring, "text"))
                bad = "output_modalities may hold \"text\" and \"audio\"", param = "session.output_modalities";
        }
        text_only = n > 0 && !has_audio;
    }
    if (bad) {
        free(defs);
        rt_error(r, "invalid_request_error", "invalid_value", bad, param, event_id);
        return;
    }
    r->in_format = fin, r->out_format = fout, r->text_only = text_only;
    if (instr) {
        free(r->instructions);
        r->instructions = strdup(instr->valuestring);
        session_set_instructions(r->s, instr->valuestring);
    }
    if (td)
        r->turn_detection = cJSON_IsObject(td);
    if (voice)
        snprintf(r->voice, sizeof r->voice, "%s", voice->valuestring);
    if (choice)
        snprintf(r->tool_choice, sizeof r->tool_choice, "%s", choice->valuestring);
    if (tools) {
        cJSON_Delete(r->tools);
        r->tools = cJSON_Duplicate(tools, 1);
    }
    if (tools || choice) { /* "none": the model is not offered them */
        const char *ignored;
        if (!defs && r->tools)
            defs = tool_definitions(r->tools, &ignored); /* only the choice changed */
        session_set_client_tools(r->s, r->tools && cJSON_GetArraySize(r->tools) && strcmp(r->tool_choice, "none")
                                           ? defs
                                           : NULL);
    }
    free(defs);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "session.updated");
    cJSON_AddItemToObject(ev, "session", rt_session_object(r));
    rt_emit(r, ev, OUT_CONTROL, 0);
}

/* ---- input audio ---- */

static void append_audio(realtime *r, const cJSON *audio, const char *event_id)
{
    size_t n = 0;
    unsigned char *bytes = cJSON_IsString(audio) ? base64_decode(audio->valuestring, strlen(audio->valuestring), &n) : NULL;
    if (!bytes || (r->in_format == RT_PCM16 && n % 2)) {
        free(bytes);
        rt_error(r, "invalid_request_error", "invalid_value",
                 "'audio' must be base64 of the session's input format (audio/pcm: 16-bit samples)", "audio", event_id);
        return;
    }
    if (r->in_format == RT_PCM16) {
        r->in_samples += (int64_t)n / 2;
        session_on_audio(r->s, bytes, n);
        free(bytes);
        return;
    }
    /* G.711: 8 kHz bytes to 16-bit samples, then to the session's 24 kHz. */
    int16_t *pcm = malloc((n ? n : 1) * sizeof *pcm);
    if (!r->in_rs)
        r->in_rs = resampler_new(RT_G711_RATE, RT_RATE);
    struct pcm_buf up = {0};
    if (pcm && r->in_rs) {
        for (size_t i = 0; i < n; i++)
            pcm[i] = r->in_format == RT_PCMU ? g711_ulaw_decode(bytes[i]) : g711_alaw_decode(bytes[i]);
        if (resampler_process(r->in_rs, pcm, n, &up) == 0 && up.len) {
            r->in_samples += (int64_t)up.len;
            session_on_audio(r->s, up.samples, up.len * 2);
        }
    }
    pcm_free(&up);
    free(pcm);
    free(bytes);
}

/* ---- items and responses ---- */

void rt_emit_item(realtime *r, const char *type, cJSON *item)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", type);
    if (r->last_item[0])
        cJSON_AddStringToObject(ev, "previous_item_id", r->last_item);
    else
        cJSON_AddNullToObject(ev, "previous_item_id");
    cJSON_AddItemToObject(ev, "item", item);
    rt_emit(r, ev, OUT_CONTROL, 0);
}

/* The item's three announcements: created (beta and GA), added and done (GA). */
static void announce_item(realtime *r, cJSON *item)
{
    rt_emit_item(r, "conversation.item.created", cJSON_Duplicate(item, 1));
    rt_emit_item(r, "conversation.item.added", cJSON_Duplicate(item, 1));
    rt_emit_item(r, "conversation.item.done", item);
}

static void create_item(realtime *r, const cJSON *item, const char *event_id)
{
    const cJSON *type = field(item, "type"), *role = field(item, "role");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    char id[RT_ID];
    const cJSON *given = field(item, "id");
    if (cJSON_IsString(given) && given->valuestring[0] && strlen(given->valuestring) < RT_ID)
        snprintf(id, sizeof id, "%s", given->valuestring);
    else
        rt_new_id(r, "item", id);
    if (!strcmp(t, "function_call_output")) {
        const cJSON *call = field(item, "call_id"), *output = field(item, "output");
        if (!cJSON_IsString(call) || !cJSON_IsString(output)) {
            rt_error(r, "invalid_request_error", "missing_required_parameter",
                     "a function_call_output needs 'call_id' and 'output' strings", "item", event_id);
            return;
        }
        if (session_client_tool_result(r->s, call->valuestring, output->valuestring)) {
            rt_error(r, "invalid_request_error", "invalid_value",
                     "no call of one of this session's tools with this call_id is waiting for its output",
                     "item.call_id", event_id);
            return;
        }
        cJSON *it = cJSON_Duplicate(item, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(it, "id");
        cJSON_AddStringToObject(it, "id", id);
        cJSON_AddStringToObject(it, "object", "realtime.item");
        announce_item(r, it);
        snprintf(r->last_item, sizeof r->last_item, "%s", id);
        return;
    }
    if (strcmp(t, "message") || !cJSON_IsString(role) || strcmp(role->valuestring, "user")) {
        rt_error(r, "invalid_request_error", "invalid_value",
                 "items may be user messages of input_text, or function_call_output", "item.type", event_id);
        return;
    }
    /* The user's text, kept until response.create asks for the answer. */
    char text[PROTO_MAX_TEXT_CHARS * 4 + 1] = "";
    size_t len = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, field(item, "content"))
    {
        const cJSON *ptype = field(part, "type"), *ptext = field(part, "text");
        if (!cJSON_IsString(ptype) || strcmp(ptype->valuestring, "input_text") || !cJSON_IsString(ptext)) {
            rt_error(r, "invalid_request_error", "invalid_value",
                     "a user message's content may hold input_text parts (append audio to input_audio_buffer)",
                     "item.content", event_id);
            return;
        }
        len += (size_t)snprintf(text + len, sizeof text - len, "%s%s", len ? "\n" : "", ptext->valuestring);
        if (len >= sizeof text)
            break;
    }
    size_t pending = r->pending_text ? strlen(r->pending_text) + 1 : 0;
    if (!len || utf8_chars(text, strlen(text)) + pending > PROTO_MAX_TEXT_CHARS) {
        rt_error(r, "invalid_request_error", "invalid_value", "a user message needs 1 to 8000 characters of text",
                 "item.content", event_id);
        return;
    }
    char *joined = malloc(pending + strlen(text) + 1);
    if (!joined)
        return;
    sprintf(joined, "%s%s%s", r->pending_text ? r->pending_text : "", pending ? "\n" : "", text);
    free(r->pending_text);
    r->pending_text = joined;
    cJSON *it = cJSON_CreateObject();
    cJSON_AddStringToObject(it, "id", id);
    cJSON_AddStringToObject(it, "object", "realtime.item");
    cJSON_AddStringToObject(it, "type", "message");
    cJSON_AddStringToObject(it, "status", "completed");
    cJSON_AddStringToObject(it, "role", "user");
    cJSON *content = cJSON_AddArrayToObject(it, "content");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "type", "input_text");
    cJSON_AddStringToObject(c, "text", text);
    cJSON_AddItemToArray(content, c);
    announce_item(r, it);
    snprintf(r->last_item, sizeof r->last_item, "%s", id);
}

static void response_create(realtime *r, const char *event_id)
{
    if (r->pending_text) {
        struct proto_client_msg m = {.type = MSG_TEXT, .text = r->pending_text};
        r->pending_text = NULL;
        session_on_message(r->s, &m); /* it takes the text */
        proto_client_msg_clear(&m);
        return;
    }
    if (r->resp.open) {
        rt_error(r, "invalid_request_error", "conversation_already_has_active_response",
                 "a response is already in progress", NULL, event_id);
        return;
    }
    if (r->awaiting_tool) {
        r->awaiting_tool = 0; /* the model goes on by itself once every call has its output */
        return;
    }
    rt_error(r, "invalid_request_error", "no_input",
             "nothing to respond to: speech is answered by itself; for text, conversation.item.create first", NULL,
             event_id);
}

static void truncate_item(realtime *r, const cJSON *ev, const char *event_id)
{
    const cJSON *item = field(ev, "item_id"), *index = field(ev, "content_index"), *end = field(ev, "audio_end_ms");
    if (!cJSON_IsString(item) || !cJSON_IsNumber(end) || end->valuedouble < 0 || end->valuedouble > 86400000.0) {
        rt_error(r, "invalid_request_error", "missing_required_parameter",
                 "truncate needs 'item_id' and 'audio_end_ms' (milliseconds heard)", NULL, event_id);
        return;
    }
    for (int i = 0; i < RT_ASSISTANT_ITEMS; i++) {
        if (!r->said[i].turn || strcmp(r->said[i].item, item->valuestring))
            continue;
        /* History keeps only what the user heard (protocol v1's played). */
        struct proto_client_msg m = {.type = MSG_PLAYED, .turn = r->said[i].turn, .ms = (int64_t)end->valuedouble};
        session_on_message(r->s, &m);
        cJSON *out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "type", "conversation.item.truncated");
        cJSON_AddStringToObject(out, "item_id", item->valuestring);
        cJSON_AddNumberToObject(out, "content_index", cJSON_IsNumber(index) ? index->valuedouble : 0);
        cJSON_AddNumberToObject(out, "audio_end_ms", end->valuedouble);
        rt_emit(r, out, OUT_CONTROL, 0);
        return;
    }
    rt_error(r, "invalid_request_error", "invalid_value", "no assistant item with this id", "item_id", event_id);
}

int realtime_start(realtime *r)
{
    struct proto_client_msg start = {.type = MSG_START,
                                     .sample_rate = RT_RATE,
                                     .format = FMT_S16LE,
                                     .output_format = FMT_S16LE,
                                     .half_duplex = -1,
                                     .echo_cancellation = -1};
    return session_on_message(r->s, &start);
}

int realtime_on_client(realtime *r, const char *data, size_t len)
{
    cJSON *ev = utf8_valid(data, len) ? cJSON_ParseWithLength(data, len) : NULL;
    const cJSON *type = cJSON_IsObject(ev) ? field(ev, "type") : NULL;
    const cJSON *eid = cJSON_IsObject(ev) ? field(ev, "event_id") : NULL;
    char event_id[72] = "";
    if (cJSON_IsString(eid) && strlen(eid->valuestring) < sizeof event_id)
        snprintf(event_id, sizeof event_id, "%s", eid->valuestring);
    if (!cJSON_IsObject(ev) || !cJSON_IsString(type)) {
        rt_error(r, "invalid_request_error", cJSON_IsObject(ev) ? "missing_required_parameter" : "invalid_json",
                 cJSON_IsObject(ev) ? "the event has no string 'type'" : "a client event must be one JSON object",
                 cJSON_IsObject(ev) ? "type" : NULL, event_id);
        cJSON_Delete(ev);
        return 0;
    }
    const char *t = type->valuestring;
    if (!strcmp(t, "session.update"))
        session_update(r, field(ev, "session"), event_id);
    else if (!strcmp(t, "input_audio_buffer.append"))
        append_audio(r, field(ev, "audio"), event_id);
    else if (!strcmp(t, "input_audio_buffer.commit")) {
        if (!r->speaking)
            rt_error(r, "invalid_request_error", "input_audio_buffer_commit_empty",
                     "no speech in the input audio buffer to commit", NULL, event_id);
        else {
            struct proto_client_msg m = {.type = MSG_STOP};
            session_on_message(r->s, &m); /* the utterance ends now: committed follows */
        }
    } else if (!strcmp(t, "input_audio_buffer.clear")) {
        cJSON *out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "type", "input_audio_buffer.cleared");
        rt_emit(r, out, OUT_CONTROL, 0);
    } else if (!strcmp(t, "conversation.item.create")) {
        const cJSON *item = field(ev, "item");
        if (!cJSON_IsObject(item))
            rt_error(r, "invalid_request_error", "missing_required_parameter", "conversation.item.create needs an 'item'",
                     "item", event_id);
        else
            create_item(r, item, event_id);
    } else if (!strcmp(t, "response.create"))
        response_create(r, event_id);
    else if (!strcmp(t, "response.cancel")) {
        if (!r->resp.open)
            rt_error(r, "invalid_request_error", "response_cancel_not_active", "no response is in progress", NULL,
                     event_id);
        else {
            r->resp.client_cancelled = 1;
            struct proto_client_msg m = {.type = MSG_CANCEL};
            session_on_message(r->s, &m);
        }
    } else if (!strcmp(t, "conversation.item.truncate"))
        truncate_item(r, ev, event_id);
    else if (!strcmp(t, "conversation.item.retrieve") || !strcmp(t, "conversation.item.delete") ||
             !strcmp(t, "output_audio_buffer.clear") || !strcmp(t, "transcription_session.update"))
        rt_error(r, "invalid_request_error", "unsupported_event", "parley does not serve this event", "type", event_id);
    else
        rt_error(r, "invalid_request_error", "unknown_event", "unknown client event type", "type", event_id);
    cJSON_Delete(ev);
    return 0;
}
