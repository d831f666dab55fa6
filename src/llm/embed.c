/* One POST per text; both response shapes are read: Ollama's
 * {"embeddings":[[…]]} and OpenAI's {"data":[{"embedding":[…]}]}. */
#include "llm/embed.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http_util.h"

#define MAX_RESPONSE (8 << 20)
#define MAX_DIM 8192

struct embed_params embed_default_params(void)
{
    return (struct embed_params){
        .provider = "ollama", .url = "http://127.0.0.1:11434", .model = "", .api_key = "", .timeout_ms = 2000};
}

int embed_text(const struct embed_params *p, const char *text, float **vec, int *dim, char *err, size_t errlen)
{
    *vec = NULL;
    *dim = 0;
    if (!p->model || !p->model[0]) {
        snprintf(err, errlen, "no embedding model is configured");
        return -1;
    }
    int ollama = !strcmp(p->provider, "ollama");
    char url[700];
    snprintf(url, sizeof url, "%s%s", p->url, ollama ? "/api/embed" : "/embeddings");
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "model", p->model);
    cJSON_AddStringToObject(req, "input", text);
    char *payload = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);

    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = http_bearer(hdrs, p->api_key);
    struct http_body b = {.max = MAX_RESPONSE};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
    CURLcode res = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    free(payload);

    int rc = -1;
    cJSON *resp = NULL;
    if (res != CURLE_OK) {
        snprintf(err, errlen, "embedding request to %s failed: %s", url, curl_easy_strerror(res));
        goto out;
    }
    resp = cJSON_Parse(b.data ? b.data : "");
    if (status >= 400 || !resp) {
        snprintf(err, errlen, "embedding request to %s answered HTTP %ld: %.200s", url, status, b.data ? b.data : "");
        goto out;
    }
    const cJSON *arr = ollama ? cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(resp, "embeddings"), 0)
                              : cJSON_GetObjectItemCaseSensitive(
                                    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(resp, "data"), 0), "embedding");
    int n = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || n <= 0 || n > MAX_DIM) {
        snprintf(err, errlen, "the embedding response from %s has no vector", url);
        goto out;
    }
    float *v = malloc((size_t)n * sizeof *v);
    if (!v)
        goto out;
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, arr) v[i++] = cJSON_IsNumber(x) && x->valuedouble >= -3.4e38 && x->valuedouble <= 3.4e38 ? (float)x->valuedouble : 0.0f;
    *vec = v;
    *dim = n;
    rc = 0;
out:
    cJSON_Delete(resp);
    free(b.data);
    return rc;
}
