/* Remote recognition through an OpenAI-compatible /audio/transcriptions
 * endpoint (OpenAI, speaches, LocalAI, faster-whisper-server ...): each
 * utterance is posted whole as a WAV file (multipart: file, model, language,
 * response_format=json). A batch API has no partial transcripts; the final
 * is requested as soon as the endpointer speculates, during the silence. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asr/asr.h"
#include "core/audio.h"
#include "core/http_util.h"

#define MAX_UTTERANCE_S 600
#define MAX_RESPONSE (1 << 20)

struct remote {
    char url[600], key[256], model[128], language[16];
    int timeout_ms;
};

struct utt {
    struct remote *r;
    struct pcm_buf pcm;
    char *text;
    char err[400];
};

static void *remote_load(const struct asr_params *p, char *err, size_t errlen)
{
    if (!p->remote_url || strncmp(p->remote_url, "http", 4)) {
        snprintf(err, errlen, "asr.openai_url: set the transcription server's base URL (e.g. http://127.0.0.1:8000/v1)");
        return NULL;
    }
    struct remote *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->url, sizeof r->url, "%s/audio/transcriptions", p->remote_url);
    snprintf(r->key, sizeof r->key, "%s", p->remote_key ? p->remote_key : "");
    snprintf(r->model, sizeof r->model, "%s", p->remote_model && p->remote_model[0] ? p->remote_model : "whisper-1");
    snprintf(r->language, sizeof r->language, "%s", p->language ? p->language : "");
    r->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 10000;
    return r;
}

static void remote_unload(void *model) { free(model); }

static void *remote_begin(void *model, const atomic_int *cancel, char *err, size_t errlen)
{
    (void)err, (void)errlen, (void)cancel; /* bounded by asr.timeout_ms instead */
    struct utt *u = calloc(1, sizeof *u);
    if (u)
        u->r = model;
    return u;
}

static int remote_feed(void *utt, const int16_t *pcm, size_t n)
{
    struct utt *u = utt;
    if (u->pcm.len + n > (size_t)MAX_UTTERANCE_S * 16000)
        return 0; /* past the bound: the rest is not sent */
    return pcm_append(&u->pcm, pcm, n);
}

static const char *remote_hypothesis(void *utt)
{
    (void)utt;
    return ""; /* no partials from a batch endpoint */
}

static const char *remote_finish(void *utt)
{
    struct utt *u = utt;
    struct remote *r = u->r;
    free(u->text);
    u->text = NULL;
    size_t wav_len;
    unsigned char *wav = wav_encode(u->pcm.samples, u->pcm.len, 16000, &wav_len);
    if (!wav) {
        snprintf(u->err, sizeof u->err, "out of memory");
        return NULL;
    }
    CURL *c = curl_easy_init();
    curl_mime *form = curl_mime_init(c);
    curl_mimepart *part = curl_mime_addpart(form);
    curl_mime_name(part, "file");
    curl_mime_filename(part, "utterance.wav");
    curl_mime_type(part, "audio/wav");
    curl_mime_data(part, (const char *)wav, wav_len);
    part = curl_mime_addpart(form);
    curl_mime_name(part, "model");
    curl_mime_data(part, r->model, CURL_ZERO_TERMINATED);
    part = curl_mime_addpart(form);
    curl_mime_name(part, "response_format");
    curl_mime_data(part, "json", CURL_ZERO_TERMINATED);
    if (r->language[0]) {
        part = curl_mime_addpart(form);
        curl_mime_name(part, "language");
        curl_mime_data(part, r->language, CURL_ZERO_TERMINATED);
    }
    struct curl_slist *hdrs = NULL;
    hdrs = http_bearer(hdrs, r->key);
    struct http_body b = {.max = MAX_RESPONSE};
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, form);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    CURLcode res = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_mime_free(form);
    curl_easy_cleanup(c);
    free(wav);
    cJSON *j = res == CURLE_OK && status < 400 ? cJSON_Parse(b.data ? b.data : "") : NULL;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
    if (res != CURLE_OK)
        snprintf(u->err, sizeof u->err, "transcription server %.250s: %.90s", r->url, curl_err[0] ? curl_err : curl_easy_strerror(res));
    else if (status >= 400)
        snprintf(u->err, sizeof u->err, "transcription server %.150s answered HTTP %ld: %.200s", r->url, status,
                 b.data ? b.data : "");
    else if (!cJSON_IsString(text))
        snprintf(u->err, sizeof u->err, "transcription server %.300s sent no \"text\"", r->url);
    else {
        /* Recognisers pad with spaces and end sentences with punctuation;
         * keep the words, as the other engines give them. */
        const char *s = text->valuestring;
        while (*s == ' ')
            s++;
        u->text = strdup(s);
        size_t n = u->text ? strlen(u->text) : 0;
        while (n > 0 && (u->text[n - 1] == ' ' || u->text[n - 1] == '\n'))
            u->text[--n] = 0;
    }
    cJSON_Delete(j);
    free(b.data);
    return u->text;
}

static const char *remote_error(void *utt)
{
    struct utt *u = utt;
    return u->err[0] ? u->err : "recognition failed";
}

static void remote_release(void *model, void *utt)
{
    (void)model;
    struct utt *u = utt;
    if (!u)
        return;
    pcm_free(&u->pcm);
    free(u->text);
    free(u);
}

const struct asr_engine asr_engine_openai = {
    .name = "openai",
    .load = remote_load,
    .unload = remote_unload,
    .begin = remote_begin,
    .feed = remote_feed,
    .hypothesis = remote_hypothesis,
    .finish = remote_finish,
    .error = remote_error,
    .release = remote_release,
};
