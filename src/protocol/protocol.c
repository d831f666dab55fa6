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

/* An optional true/false: *out is -1 when absent or null. */
static int copy_opt_bool(const cJSON *obj, const char *key, int *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = -1;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsBool(v)) {
        snprintf(err, errlen, "'%s' must be true or false", key);
        return -1;
    }
    *out = cJSON_IsTrue(v);
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
        else if (cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "opus"))
            m->format = FMT_OPUS;
        else {
            snprintf(err, errlen, "'format' must be \"pcm_s16le\", \"pcm_f32le\" or \"opus\"");
            return -1;
        }
    }
    const cJSON *ofmt = cJSON_GetObjectItemCaseSensitive(j, "output_format");
    m->output_format = FMT_S16LE;
    if (ofmt) {
        if (cJSON_IsString(ofmt) && !strcmp(ofmt->valuestring, "opus"))
            m->output_format = FMT_OPUS;
        else if (!cJSON_IsString(ofmt) || strcmp(ofmt->valuestring, "pcm_s16le")) {
            snprintf(err, errlen, "'output_format' must be \"pcm_s16le\" or \"opus\"");
            return -1;
        }
    }
    if (copy_opt_bool(j, "half_duplex", &m->half_duplex, err, errlen) ||
        copy_opt_bool(j, "echo_cancellation", &m->echo_cancellation, err, errlen))
        return -1;
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
