/* Wyoming framing: the reader collects a header line, then data_length bytes
 * of JSON, then payload_length bytes, checking each bound before it buffers;
 * the writer puts data in a block, as the reference writer does. */
#include "protocol/wyoming.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum wy_phase { WY_HEADER, WY_DATA, WY_PAYLOAD };

struct wy_reader {
    enum wy_phase phase;
    unsigned char *buf;
    size_t len, cap;
    size_t need; /* bytes the data block or payload still lacks */
    struct wy_event ev;
    size_t data_len, payload_len;
};

wy_reader *wy_reader_new(void)
{
    return calloc(1, sizeof(wy_reader));
}

static void reset_event(wy_reader *r)
{
    cJSON_Delete(r->ev.data);
    memset(&r->ev, 0, sizeof r->ev);
    r->phase = WY_HEADER;
    r->len = 0;
}

void wy_reader_free(wy_reader *r)
{
    if (!r)
        return;
    cJSON_Delete(r->ev.data);
    free(r->buf);
    free(r);
}

static int reserve(wy_reader *r, size_t cap)
{
    if (cap <= r->cap)
        return 0;
    unsigned char *b = realloc(r->buf, cap);
    if (!b)
        return -1;
    r->buf = b;
    r->cap = cap;
    return 0;
}

/* A length field: absent or null is 0; else an integer within max. */
static int length_field(const cJSON *h, const char *name, size_t max, size_t *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, name);
    *out = 0;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= (double)max) ||
        v->valuedouble != (double)(size_t)v->valuedouble) {
        snprintf(err, errlen, "'%s' must be an integer from 0 to %zu", name, max);
        return -1;
    }
    *out = (size_t)v->valuedouble;
    return 0;
}

static int parse_header(wy_reader *r, const unsigned char *line, size_t len, char *err, size_t errlen)
{
    cJSON *h = cJSON_ParseWithLength((const char *)line, len);
    const cJSON *type = h ? cJSON_GetObjectItemCaseSensitive(h, "type") : NULL;
    const cJSON *data = h ? cJSON_GetObjectItemCaseSensitive(h, "data") : NULL;
    int rc = -1;
    if (!cJSON_IsObject(h))
        snprintf(err, errlen, "a header must be one JSON object on one line");
    else if (!cJSON_IsString(type) || !type->valuestring[0] || strlen(type->valuestring) >= sizeof r->ev.type)
        snprintf(err, errlen, "a header needs a 'type' string of 1 to %zu characters", sizeof r->ev.type - 1);
    else if (data && !cJSON_IsNull(data) && !cJSON_IsObject(data))
        snprintf(err, errlen, "'data' must be an object");
    else if (!length_field(h, "data_length", WY_MAX_DATA, &r->data_len, err, errlen) &&
             !length_field(h, "payload_length", WY_MAX_PAYLOAD, &r->payload_len, err, errlen))
        rc = 0;
    if (rc == 0) {
        snprintf(r->ev.type, sizeof r->ev.type, "%s", type->valuestring);
        r->ev.data = cJSON_IsObject(data) ? cJSON_DetachItemFromObjectCaseSensitive(h, "data") : cJSON_CreateObject();
        if (!r->ev.data) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    cJSON_Delete(h);
    return rc;
}

/* The data block's members go over the header's. */
static int merge_data(wy_reader *r, char *err, size_t errlen)
{
    cJSON *block = cJSON_ParseWithLength((const char *)r->buf, r->len);
    if (!cJSON_IsObject(block)) {
        cJSON_Delete(block);
        snprintf(err, errlen, "a data block must be one JSON object");
        return -1;
    }
    while (block->child) {
        cJSON *item = cJSON_DetachItemViaPointer(block, block->child);
        cJSON_DeleteItemFromObjectCaseSensitive(r->ev.data, item->string);
        cJSON_AddItemToObject(r->ev.data, item->string, item);
    }
    cJSON_Delete(block);
    return 0;
}

/* Moves to the next part the header asked for; emits the event at the end. */
static int advance(wy_reader *r, wy_event_fn fn, void *ud)
{
    if (r->phase == WY_HEADER && r->data_len) {
        r->phase = WY_DATA;
        r->need = r->data_len;
        r->len = 0;
        return 0;
    }
    if (r->phase != WY_PAYLOAD && r->payload_len) {
        r->phase = WY_PAYLOAD;
        r->need = r->payload_len;
        r->len = 0;
        return 0;
    }
    r->ev.payload = r->phase == WY_PAYLOAD ? r->buf : NULL;
    r->ev.payload_len = r->phase == WY_PAYLOAD ? r->len : 0;
    int rc = fn(ud, &r->ev);
    reset_event(r);
    return rc;
}

int wy_reader_feed(wy_reader *r, const unsigned char *in, size_t len, wy_event_fn fn, void *ud, char *err,
                   size_t errlen)
{
    while (len > 0) {
        if (r->phase == WY_HEADER) {
            const unsigned char *nl = memchr(in, '\n', len);
            size_t take = nl ? (size_t)(nl - in) + 1 : len;
            if (r->len + take > WY_MAX_HEADER) {
                snprintf(err, errlen, "a header line is longer than %d bytes", WY_MAX_HEADER);
                return -1;
            }
            if (reserve(r, WY_MAX_HEADER) < 0) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            memcpy(r->buf + r->len, in, take);
            r->len += take;
            in += take;
            len -= take;
            if (!nl)
                break;
            size_t line = r->len - 1;
            if (line > 0 && r->buf[line - 1] == '\r')
                line--;
            if (line == 0) { /* a blank line between events: nothing to read */
                r->len = 0;
                continue;
            }
            if (parse_header(r, r->buf, line, err, errlen))
                return -1;
        } else {
            size_t take = len < r->need ? len : r->need;
            if (reserve(r, r->phase == WY_DATA ? r->data_len : r->payload_len) < 0) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            memcpy(r->buf + r->len, in, take);
            r->len += take;
            r->need -= take;
            in += take;
            len -= take;
            if (r->need > 0)
                break;
            if (r->phase == WY_DATA && merge_data(r, err, errlen))
                return -1;
        }
        int rc = advance(r, fn, ud);
        if (rc)
            return rc;
    }
    return 0;
}

unsigned char *wy_encode(const char *type, const cJSON *data, const void *payload, size_t payload_len, size_t *len)
{
    char *block = data && data->child ? cJSON_PrintUnformatted(data) : NULL;
    if (data && data->child && !block)
        return NULL;
    size_t block_len = block ? strlen(block) : 0;
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "type", type);
    cJSON_AddStringToObject(h, "version", WY_VERSION);
    if (block_len)
        cJSON_AddNumberToObject(h, "data_length", (double)block_len);
    if (payload_len)
        cJSON_AddNumberToObject(h, "payload_length", (double)payload_len);
    char *head = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    unsigned char *out = NULL;
    if (head) {
        size_t head_len = strlen(head);
        *len = head_len + 1 + block_len + payload_len;
        out = malloc(*len);
        if (out) {
            memcpy(out, head, head_len);
            out[head_len] = '\n';
            if (block_len)
                memcpy(out + head_len + 1, block, block_len);
            if (payload_len)
                memcpy(out + head_len + 1 + block_len, payload, payload_len);
        }
    }
    free(head);
    free(block);
    return out;
}
