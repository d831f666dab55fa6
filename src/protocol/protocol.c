/* Protocol v1 messages. Validation is strict about types and ranges so that
 * a bad client gets a precise reason instead of a misbehaving session. */
#include "protocol/protocol.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

static int copy_opt_string(const cJSON *obj, const char *key, char *out, size_t outlen, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= outlen) {
        snprintf(err, errlen, "'%s' must be a string of at most %zu characters", key, outlen - 1);
        return -1;
    }
    memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    return 0;
}

int proto_parse_chat(const char *body, size_t len, struct proto_chat *out, char *problem, size_t plen)
{
    memset(out, 0, sizeof *out);
    const char *json_end = NULL;
    cJSON *req = cJSON_ParseWithLengthOpts(body, len, &json_end, 0);
    if (req && json_end) { /* one JSON value, nothing after it but spaces */
        size_t used = (size_t)(json_end - body);
        while (used < len && strchr(" \t\r\n", body[used]))
            used++;
        if (used < len) {
            cJSON_Delete(req);
            req = NULL;
        }
    }
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(req, "text");
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(req, "conversation_id");
    const char *bad = !req                                             ? "the body is not JSON"
                      : !cJSON_IsObject(req)                           ? "the body must be a JSON object"
                      : !cJSON_IsString(text) || !text->valuestring[0] ? "'text' must be a non-empty string"
                      : !utf8_valid(text->valuestring, strlen(text->valuestring)) ? "'text' must be valid UTF-8"
                      : utf8_chars(text->valuestring, strlen(text->valuestring)) > PROTO_MAX_TEXT_CHARS
                          ? "'text' is limited to 8000 characters"
                      : cid && !cJSON_IsNull(cid) &&
                                (!cJSON_IsString(cid) || strlen(cid->valuestring) >= sizeof out->conversation_id ||
                                 !proto_label_valid(cid->valuestring))
                          ? "'conversation_id' must be a string of at most 63 letters, digits, '.', '_', ':' or '-'"
                          : NULL;
    if (!bad && !(out->text = strdup(text->valuestring)))
        bad = "out of memory";
    if (!bad && cJSON_IsString(cid))
        snprintf(out->conversation_id, sizeof out->conversation_id, "%s", cid->valuestring);
    cJSON_Delete(req);
    if (bad)
        snprintf(problem, plen, "%s", bad);
    return bad ? -1 : 0;
}

int proto_label_valid(const char *s)
{
    static const char label[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-";
    return strspn(s, label) == strlen(s);
}

static int parse_start(const cJSON *j, struct proto_client_msg *m, char *err, size_t errlen)
{
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(j, "sample_rate");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    m->sample_rate = 16000;
    m->format = FMT_S16LE;
    if (rate) {
        /* the range first: casting a double past int is undefined */
        if (!cJSON_IsNumber(rate) || !(rate->valuedouble >= 8000 && rate->valuedouble <= 96000) ||
            rate->valuedouble != (int)rate->valuedouble) {
            snprintf(err, errlen, "'sample_rate' must be an integer between 8000 and 96000");
            return -1;
        }
        m->sample_rate = rate->valueint;
    }
    if (fmt) {
        if (cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "pcm_s16le"))
            m->format = FMT_S16LE;
        else if (cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "pcm_f32le"))
            m->format = FMT_F32LE;
        else {
            snprintf(err, errlen, "'format' must be \"pcm_s16le\" or \"pcm_f32le\"");
            return -1;
        }
    }
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(j, "half_duplex");
    m->half_duplex = -1;
    if (hd && !cJSON_IsNull(hd)) {
        if (!cJSON_IsBool(hd)) {
            snprintf(err, errlen, "'half_duplex' must be true or false");
            return -1;
        }
        m->half_duplex = cJSON_IsTrue(hd);
    }
    if (copy_opt_string(j, "session_id", m->session_id, sizeof m->session_id, err, errlen) ||
        copy_opt_string(j, "tts", m->tts, sizeof m->tts, err, errlen) ||
        copy_opt_string(j, "llm_model", m->llm_model, sizeof m->llm_model, err, errlen) ||
        copy_opt_string(j, "conversation_id", m->conversation_id, sizeof m->conversation_id, err, errlen) ||
        copy_opt_string(j, "token", m->token, sizeof m->token, err, errlen))
        return -1;
    /* both go into log lines: labels, not a place for quotes or newlines */
    const char *bad = !proto_label_valid(m->session_id)        ? "session_id"
                      : !proto_label_valid(m->conversation_id) ? "conversation_id"
                                                               : NULL;
    if (bad) {
        snprintf(err, errlen, "'%s' may hold only letters, digits, '.', '_', ':' and '-'", bad);
        return -1;
    }
    return 0;
}

int proto_parse(const char *data, size_t len, struct proto_client_msg *m, int *fatal, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    *fatal = 1;
    if (!utf8_valid(data, len)) { /* browsers close on it; we say why and drop the frame */
        *fatal = 0;
        snprintf(err, errlen, "a text frame must be valid UTF-8");
        return -1;
    }
    cJSON *j = cJSON_ParseWithLength(data, len);
    if (!j || !cJSON_IsObject(j)) {
        snprintf(err, errlen, "a text frame must be a JSON object");
        cJSON_Delete(j);
        return -1;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    int rc = -1;
    if (!cJSON_IsString(type)) {
        snprintf(err, errlen, "the message has no string 'type'");
        goto out;
    }
    const char *t = type->valuestring;
    *fatal = 0;
    if (!strcmp(t, "start")) {
        m->type = MSG_START;
        rc = parse_start(j, m, err, errlen);
    } else if (!strcmp(t, "text")) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
        m->type = MSG_TEXT;
        if (!cJSON_IsString(text) || !text->valuestring[0]) {
            snprintf(err, errlen, "'text' must be a non-empty string");
            goto out;
        }
        if (utf8_chars(text->valuestring, strlen(text->valuestring)) > PROTO_MAX_TEXT_CHARS) {
            snprintf(err, errlen, "'text' is limited to %d characters", PROTO_MAX_TEXT_CHARS);
            goto out;
        }
        m->text = strdup(text->valuestring);
        rc = m->text ? 0 : -1;
    } else if (!strcmp(t, "stop")) {
        m->type = MSG_STOP;
        rc = 0;
    } else if (!strcmp(t, "cancel")) {
        m->type = MSG_CANCEL;
        rc = 0;
    } else if (!strcmp(t, "played")) {
        const cJSON *turn = cJSON_GetObjectItemCaseSensitive(j, "turn");
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "ms");
        m->type = MSG_PLAYED;
        /* bounded before the casts: a double past int64 is undefined there */
        if (!cJSON_IsNumber(turn) || !(turn->valuedouble >= 0 && turn->valuedouble <= 9007199254740992.0) ||
            !cJSON_IsNumber(ms) || !(ms->valuedouble >= 0 && ms->valuedouble <= 86400000.0)) {
            snprintf(err, errlen, "'played' needs 'turn' (a turn number) and 'ms' (0 to 86400000)");
            goto out;
        }
        m->turn = (uint64_t)turn->valuedouble;
        m->ms = (int64_t)ms->valuedouble;
        rc = 0;
    } else {
        *fatal = 1;
        snprintf(err, errlen, "unknown message type '%.40s'", t);
    }
out:
    cJSON_Delete(j);
    if (rc)
        proto_client_msg_clear(m);
    return rc;
}

void proto_client_msg_clear(struct proto_client_msg *m)
{
    free(m->text);
    m->text = NULL;
}

/* Adds item under key, or deletes it when that fails (out of memory): a
 * message is whole, or it is not made. */
static void add_item(cJSON *o, const char *key, cJSON *item)
{
    if (!item || !o || !cJSON_AddItemToObject(o, key, item))
        cJSON_Delete(item);
}

static char *finish(cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

static cJSON *typed(const char *type)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    return o;
}

cJSON *proto_llm_object(const struct llm_check *c, const char *model)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "checked", c->checked);
    cJSON_AddStringToObject(o, "model", model);
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

char *proto_llm_status(const struct llm_check *c, const char *model)
{
    cJSON *o = typed("llm_status");
    add_item(o, "llm", proto_llm_object(c, model));
    return finish(o);
}

char *proto_ready(const struct proto_ready_info *r)
{
    cJSON *o = typed("ready");
    cJSON_AddStringToObject(o, "session_id", r->session_id);
    cJSON_AddStringToObject(o, "conversation_id", r->conversation_id);
    cJSON_AddNumberToObject(o, "protocol", 1);
    cJSON *a = cJSON_AddObjectToObject(o, "audio_out");
    cJSON_AddStringToObject(a, "format", "pcm_s16le");
    cJSON_AddNumberToObject(a, "sample_rate", r->out_rate);
    add_item(o, "tts_engines", cJSON_CreateStringArray(r->tts_engines, r->ntts_engines));
    cJSON *asr = cJSON_AddObjectToObject(o, "asr");
    if (asr) {
        cJSON_AddStringToObject(asr, "engine", r->asr_engine ? r->asr_engine : "");
        cJSON_AddStringToObject(asr, "partials", r->asr_partials ? r->asr_partials : "");
    }
    add_item(o, "llm", proto_llm_object(r->llm, r->llm_model));
    return finish(o);
}

char *proto_state(const char *state)
{
    cJSON *o = typed("state");
    cJSON_AddStringToObject(o, "state", state);
    return finish(o);
}

char *proto_simple(const char *type) { return finish(typed(type)); }

char *proto_transcript(int final, uint64_t turn, const char *text)
{
    cJSON *o = typed(final ? "transcript_final" : "transcript_partial");
    cJSON_AddNumberToObject(o, "turn", (double)turn);
    cJSON_AddStringToObject(o, "text", text);
    return finish(o);
}

char *proto_thinking(uint64_t turn)
{
    cJSON *o = typed("thinking");
    cJSON_AddNumberToObject(o, "turn", (double)turn);
    return finish(o);
}

char *proto_assistant_text(uint64_t turn, const char *status, const char *text)
{
    cJSON *o = typed("assistant_text");
    cJSON_AddNumberToObject(o, "turn", (double)turn);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddStringToObject(o, "text", text);
    return finish(o);
}

char *proto_tts_start(uint64_t turn, int phrase, const char *text, int rate)
{
    cJSON *o = typed("tts_start");
    cJSON_AddNumberToObject(o, "turn", (double)turn);
    cJSON_AddNumberToObject(o, "phrase", phrase);
    cJSON_AddStringToObject(o, "text", text);
    cJSON_AddNumberToObject(o, "sample_rate", rate);
    return finish(o);
}

char *proto_tts_phrase_done(uint64_t turn, int phrase)
{
    cJSON *o = typed("tts_phrase_done");
    cJSON_AddNumberToObject(o, "turn", (double)turn);
    cJSON_AddNumberToObject(o, "phrase", phrase);
    return finish(o);
}

char *proto_interrupted(uint64_t turn)
{
    cJSON *o = typed("agent_interrupted");
    cJSON_AddNumberToObject(o, "turn", (double)turn);
    return finish(o);
}

char *proto_error(const char *code, const char *message, int recoverable)
{
    cJSON *o = typed("error");
    cJSON_AddStringToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", message);
    cJSON_AddBoolToObject(o, "recoverable", recoverable);
    return finish(o);
}

char *proto_busy(const char *message, int retry_after_ms)
{
    cJSON *o = typed("error");
    cJSON_AddStringToObject(o, "code", ERR_BUSY);
    cJSON_AddStringToObject(o, "message", message);
    cJSON_AddBoolToObject(o, "recoverable", 1);
    cJSON_AddNumberToObject(o, "retry_after_ms", retry_after_ms);
    return finish(o);
}

char *proto_info(const char *message)
{
    cJSON *o = typed("info");
    cJSON_AddStringToObject(o, "message", message);
    return finish(o);
}

char *proto_done(uint64_t turn, const char *metrics_json)
{
    cJSON *o = typed("done");
    cJSON_AddNumberToObject(o, "turn", (double)turn);
    cJSON *m = cJSON_Parse(metrics_json);
    add_item(o, "metrics", m ? m : cJSON_CreateObject());
    return finish(o);
}

char *proto_tool_call(uint64_t turn, const char *id, const char *name, const char *arguments_json)
{
    cJSON *o = typed("tool_call");
    cJSON_AddNumberToObject(o, "turn", (double)turn);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "name", name);
    cJSON *args = cJSON_Parse(arguments_json);
    add_item(o, "arguments", args ? args : cJSON_CreateString(arguments_json));
    return finish(o);
}

char *proto_tool_result(uint64_t turn, const char *id, const char *name, const char *result, int is_error)
{
    cJSON *o = typed("tool_result");
    cJSON_AddNumberToObject(o, "turn", (double)turn);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddBoolToObject(o, "is_error", is_error);
    /* Results are usually JSON; then the client gets them as JSON. */
    cJSON *r = cJSON_Parse(result);
    add_item(o, "result", r ? r : cJSON_CreateString(result));
    return finish(o);
}
