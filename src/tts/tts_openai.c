/* Remote synthesis through an OpenAI-compatible /audio/speech endpoint
 * (OpenAI, Kokoro-FastAPI, openedai-speech, LocalAI, speaches): raw 16-bit
 * PCM is requested and read as it streams, so the first audio reaches the
 * listener before the server has finished. curl's progress callback gives the
 * chain a heartbeat, so a server that sends nothing still times out. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http_util.h"
#include "tts/tts.h"

struct remote {
    char url[600], key[256], model[128], voice[64];
    int rate;
};

struct call {
    struct remote *r;
    tts_sink_fn sink;
    void *ud;
    unsigned char carry; /* an odd byte waiting for its pair */
    int has_carry, stopped;
    long status;
    char errbody[300];
    size_t errlen, bytes;
};

static void *remote_create(const struct tts_params *p, char *err, size_t errlen)
{
    if (!p->openai_url || strncmp(p->openai_url, "http", 4)) {
        snprintf(err, errlen, "tts.openai_url: set the speech server's base URL (e.g. http://127.0.0.1:8880/v1)");
        return NULL;
    }
    struct remote *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->url, sizeof r->url, "%s/audio/speech", p->openai_url);
    snprintf(r->key, sizeof r->key, "%s", p->openai_key ? p->openai_key : "");
    snprintf(r->model, sizeof r->model, "%s", p->openai_model && p->openai_model[0] ? p->openai_model : "tts-1");
    snprintf(r->voice, sizeof r->voice, "%s", p->openai_voice && p->openai_voice[0] ? p->openai_voice : "alloy");
    r->rate = p->openai_rate > 0 ? p->openai_rate : 24000;
    return r;
}

static void remote_destroy(void *state) { free(state); }

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct call *c = ud;
    size_t n = size * nmemb;
    int code = http_status_line(data, n);
    if (code)
        c->status = code;
    return n;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
    struct call *c = ud;
    size_t n = size * nmemb;
    if (c->status >= 400) {
        size_t take = n < sizeof c->errbody - 1 - c->errlen ? n : sizeof c->errbody - 1 - c->errlen;
        memcpy(c->errbody + c->errlen, data, take);
        c->errlen += take;
        c->errbody[c->errlen] = 0;
        return n;
    }
    /* Little-endian 16-bit samples; a chunk may split one. */
    int16_t buf[4096];
    size_t k = 0;
    const unsigned char *p = (const unsigned char *)data, *end = p + n;
    if (c->has_carry && p < end) {
        buf[k++] = (int16_t)(c->carry | (p[0] << 8));
        p++;
        c->has_carry = 0;
    }
    while (p + 1 < end) {
        buf[k++] = (int16_t)(p[0] | (p[1] << 8));
        p += 2;
        if (k == sizeof buf / sizeof buf[0]) {
            if (c->sink(c->ud, buf, k, c->r->rate)) {
                c->stopped = 1;
                return 0;
            }
            k = 0;
        }
    }
    if (p < end) {
        c->carry = *p;
        c->has_carry = 1;
    }
    c->bytes += n;
    if (k && c->sink(c->ud, buf, k, c->r->rate)) {
        c->stopped = 1;
        return 0;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct call *c = ud;
    if (c->sink(c->ud, NULL, 0, c->r->rate)) { /* the chain's deadline or a barge-in */
        c->stopped = 1;
        return 1;
    }
    return 0;
}

static int remote_synthesize(void *state, const char *text, tts_sink_fn sink, void *ud, char *err, size_t errlen)
{
    struct remote *r = state;
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "model", r->model);
    cJSON_AddStringToObject(req, "voice", r->voice);
    cJSON_AddStringToObject(req, "input", text);
    cJSON_AddStringToObject(req, "response_format", "pcm");
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = http_bearer(hdrs, r->key);
    struct call c = {.r = r, .sink = sink, .ud = ud};
    char curl_err[CURL_ERROR_SIZE] = "";
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &c);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    CURLcode res = curl_easy_perform(h);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    free(body);
    if (c.stopped)
        return 1;
    if (c.status >= 400) {
        snprintf(err, errlen, "%s answered HTTP %ld: %.160s", r->url, c.status, c.errbody);
        return -1;
    }
    if (res != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", r->url, curl_err[0] ? curl_err : curl_easy_strerror(res));
        return -1;
    }
    if (c.bytes < 2) {
        snprintf(err, errlen, "%s sent no audio", r->url);
        return -1;
    }
    return 0;
}

const struct tts_engine tts_engine_openai = {
    .name = "openai",
    .parallel = 1,
    .create = remote_create,
    .destroy = remote_destroy,
    .synthesize = remote_synthesize,
};
