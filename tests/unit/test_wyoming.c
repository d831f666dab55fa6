/* protocol/wyoming: events come out whole however the bytes are split; a data
 * block wins over the header's data; the writer's bytes read back; every
 * bound and malformed header is refused with a reason. */
#include <stdlib.h>

#include "check.h"
#include "protocol/wyoming.h"

struct seen {
    int n;
    char types[8][64];
    char text[8][64];
    int rate[8];
    size_t payload[8];
    char first_byte[8];
};

static int on_event(void *ud, const struct wy_event *ev)
{
    struct seen *s = ud;
    if (s->n >= 8)
        return 1;
    snprintf(s->types[s->n], sizeof s->types[0], "%s", ev->type);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev->data, "text");
    snprintf(s->text[s->n], sizeof s->text[0], "%s", cJSON_IsString(t) ? t->valuestring : "");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(ev->data, "rate");
    s->rate[s->n] = cJSON_IsNumber(r) ? r->valueint : 0;
    s->payload[s->n] = ev->payload_len;
    s->first_byte[s->n] = ev->payload_len ? (char)ev->payload[0] : 0;
    s->n++;
    return 0;
}

static const char stream[] =
    "{\"type\":\"describe\"}\n"
    "{\"type\":\"audio-chunk\",\"data\":{\"rate\":16000,\"width\":2},\"data_length\":14,\"payload_length\":4}\n"
    "{\"rate\":22050}WXYZ"
    "\r\n" /* a blank line between events is skipped */
    "{\"type\":\"synthesize\",\"data\":{\"text\":\"inline\"}}\r\n";

static void split_anywhere(void)
{
    size_t len = sizeof stream - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        struct seen s = {0};
        char err[200] = "";
        wy_reader *r = wy_reader_new();
        int rc = wy_reader_feed(r, (const unsigned char *)stream, cut, on_event, &s, err, sizeof err);
        rc |= wy_reader_feed(r, (const unsigned char *)stream + cut, len - cut, on_event, &s, err, sizeof err);
        CHECK(rc == 0);
        CHECK(s.n == 3);
        CHECK_STR(s.types[0], "describe");
        CHECK_STR(s.types[1], "audio-chunk");
        CHECK(s.rate[1] == 22050); /* the block wins */
        CHECK(s.payload[1] == 4 && s.first_byte[1] == 'W');
        CHECK_STR(s.text[2], "inline");
        wy_reader_free(r);
    }
    /* One byte at a time. */
    struct seen s = {0};
    char err[200];
    wy_reader *r = wy_reader_new();
    for (size_t i = 0; i < len; i++)
        CHECK(wy_reader_feed(r, (const unsigned char *)stream + i, 1, on_event, &s, err, sizeof err) == 0);
    CHECK(s.n == 3);
    wy_reader_free(r);
}

static void writer_reads_back(void)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "text", "hello");
    cJSON_AddNumberToObject(d, "rate", 16000);
    size_t len = 0;
    unsigned char *bytes = wy_encode("audio-chunk", d, "\x01\x02\x03\x04", 4, &len);
    cJSON_Delete(d);
    CHECK(bytes != NULL);
    /* The header names the version and the lengths; data is not inline. */
    char *nl = memchr(bytes, '\n', len);
    CHECK(nl != NULL);
    cJSON *h = cJSON_ParseWithLength((const char *)bytes, (size_t)(nl - (char *)bytes));
    CHECK_STR(cJSON_GetObjectItem(h, "version")->valuestring, WY_VERSION);
    CHECK(!cJSON_GetObjectItem(h, "data"));
    CHECK(cJSON_GetObjectItem(h, "payload_length")->valueint == 4);
    cJSON_Delete(h);
    struct seen s = {0};
    char err[200];
    wy_reader *r = wy_reader_new();
    CHECK(wy_reader_feed(r, bytes, len, on_event, &s, err, sizeof err) == 0);
    CHECK(s.n == 1 && s.rate[0] == 16000 && s.payload[0] == 4 && s.first_byte[0] == 1);
    CHECK_STR(s.text[0], "hello");
    wy_reader_free(r);
    free(bytes);
    /* No data, no payload: a header alone. */
    bytes = wy_encode("audio-stop", NULL, NULL, 0, &len);
    CHECK(len == strlen("{\"type\":\"audio-stop\",\"version\":\"" WY_VERSION "\"}\n"));
    free(bytes);
}

static void refused(const char *bytes, size_t len, const char *reason)
{
    struct seen s = {0};
    char err[200] = "";
    wy_reader *r = wy_reader_new();
    CHECK(wy_reader_feed(r, (const unsigned char *)bytes, len, on_event, &s, err, sizeof err) == -1);
    if (!strstr(err, reason))
        fprintf(stderr, "expected '%s' in '%s'\n", reason, err);
    CHECK(strstr(err, reason) != NULL);
    CHECK(s.n == 0);
    wy_reader_free(r);
}

#define REFUSED(literal, reason) refused(literal, sizeof literal - 1, reason)

static void bounds_and_garbage(void)
{
    REFUSED("nope\n", "JSON object");
    REFUSED("[1,2]\n", "JSON object");
    REFUSED("{\"data\":{}}\n", "'type'");
    REFUSED("{\"type\":\"\"}\n", "'type'");
    REFUSED("{\"type\":\"x\",\"data\":[1]}\n", "'data'");
    REFUSED("{\"type\":\"x\",\"data_length\":-1}\n", "data_length");
    REFUSED("{\"type\":\"x\",\"data_length\":1.5}\n", "data_length");
    REFUSED("{\"type\":\"x\",\"payload_length\":524289}\n", "payload_length");
    REFUSED("{\"type\":\"x\",\"payload_length\":\"4\"}\n", "payload_length");
    REFUSED("{\"type\":\"x\",\"data_length\":3}\n[1]", "data block");
    char *long_line = malloc(WY_MAX_HEADER + 1);
    memset(long_line, ' ', WY_MAX_HEADER + 1);
    refused(long_line, WY_MAX_HEADER + 1, "longer than");
    free(long_line);
    /* The largest payload allowed is read whole. */
    size_t big = WY_MAX_PAYLOAD;
    char head[128];
    int n = snprintf(head, sizeof head, "{\"type\":\"audio-chunk\",\"payload_length\":%zu}\n", big);
    unsigned char *buf = calloc(1, (size_t)n + big);
    memcpy(buf, head, (size_t)n);
    struct seen s = {0};
    char err[200];
    wy_reader *r = wy_reader_new();
    CHECK(wy_reader_feed(r, buf, (size_t)n + big, on_event, &s, err, sizeof err) == 0);
    CHECK(s.n == 1 && s.payload[0] == big);
    wy_reader_free(r);
    free(buf);
}

int main(void)
{
    split_anywhere();
    writer_reads_back();
    bounds_and_garbage();
    return check_summary();
}
