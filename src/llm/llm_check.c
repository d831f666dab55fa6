/* The LLM server check (model list, in plain words with the fix) and the
 * watch that repeats it in the background while something is wrong. */
#include "llm/llm_check.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/http_util.h"
#include "core/log.h"

#define MODEL_LIST_MAX (1 << 20) /* bytes of a model list we read */

/* ---- reading a model list ---- */

static void append_name(char *list, size_t len, const char *name)
{
    size_t used = strlen(list);
    if (used + 1 >= len)
        return;
    snprintf(list + used, len - used, "%s%s", used ? ", " : "", name);
}

/* Ollama: "mistral" is "mistral:latest". */
static int ollama_same(const char *want, const char *have)
{
    if (!strcasecmp(want, have))
        return 1;
    size_t n = strlen(want);
    return !strchr(want, ':') && !strncasecmp(want, have, n) && !strcasecmp(have + n, ":latest");
}

int llm_check_parse_models(const char *provider, const char *body, const char *model, char *models,
                           size_t models_len, int *found)
{
    int ollama = !strcmp(provider, "ollama");
    models[0] = 0;
    *found = 0;
    cJSON *root = cJSON_Parse(body);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, ollama ? "models" : "data");
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(root);
        return -1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, ollama ? "name" : "id");
        const cJSON *alias = ollama ? cJSON_GetObjectItemCaseSensitive(e, "model") : NULL;
        if (!cJSON_IsString(name))
            continue;
        append_name(models, models_len, name->valuestring);
        if (ollama ? ollama_same(model, name->valuestring) ||
                         (cJSON_IsString(alias) && ollama_same(model, alias->valuestring))
                   : !strcmp(model, name->valuestring))
            *found = 1;
    }
    cJSON_Delete(root);
    return 0;
}

/* ---- one check ---- */

static int abort_if_stopping(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    const atomic_int *stop = ud;
    return stop && atomic_load(stop);
}

static int check_run(const struct llm_params *p, int timeout_ms, const atomic_int *stop, struct llm_check *out)
{
    int ollama = !strcmp(p->provider, "ollama");
    const char *who = ollama ? "Ollama" : "an OpenAI-compatible server";
    memset(out, 0, sizeof *out);
    out->checked = 1;
    char url[700];
    snprintf(url, sizeof url, "%s%s", p->url, ollama ? "/api/tags" : "/models");
    struct http_body body = {.max = MODEL_LIST_MAX};
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(out->problem, sizeof out->problem, "cannot start an HTTP request (out of memory?)");
        return 0;
    }
    struct curl_slist *hdrs = http_bearer(NULL, p->api_key);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, abort_if_stopping);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)stop);
    CURLcode res = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);

    if (res != CURLE_OK) {
        snprintf(out->problem, sizeof out->problem, "nothing answers at %s (%s): %s", p->url, who,
                 curl_easy_strerror(res));
        if (ollama)
            snprintf(out->fix, sizeof out->fix,
                     "install Ollama (https://ollama.com/download), start it (ollama serve), then: ollama pull %s; "
                     "or point llm.url (PARLEY_LLM_URL) at your LLM server",
                     p->model);
        else
            snprintf(out->fix, sizeof out->fix,
                     "start your OpenAI-compatible server at %s, or set llm.url (PARLEY_LLM_URL) to where it listens",
                     p->url);
    } else if (status == 401 || status == 403) {
        out->reachable = 1;
        snprintf(out->problem, sizeof out->problem, "%s refused parley's API key (HTTP %ld)", url, status);
        snprintf(out->fix, sizeof out->fix, "set llm.api_key (PARLEY_LLM_API_KEY) to a key that server accepts");
    } else if (status == 404 && !ollama) {
        /* Some OpenAI-compatible servers list no models: nothing to check. */
        out->reachable = out->model_found = 1;
    } else if (status != 200) {
        out->reachable = 1;
        snprintf(out->problem, sizeof out->problem, "%s answered HTTP %ld: is it %s?", url, status, who);
        snprintf(out->fix, sizeof out->fix, "check llm.url (PARLEY_LLM_URL) and llm.provider (ollama|openai)");
    } else if (llm_check_parse_models(p->provider, body.data ? body.data : "", p->model, out->models,
                                      sizeof out->models, &out->model_found)) {
        out->reachable = 1;
        snprintf(out->problem, sizeof out->problem, "%s does not answer like %s (no model list)", url, who);
        snprintf(out->fix, sizeof out->fix, "check llm.url (PARLEY_LLM_URL) and llm.provider (ollama|openai)");
    } else {
        out->reachable = 1;
        if (!out->model_found) {
            snprintf(out->problem, sizeof out->problem, "%s at %s has no model '%s' (it has: %s)",
                     ollama ? "Ollama" : "the LLM server", p->url, p->model, out->models[0] ? out->models : "none");
            if (ollama)
                snprintf(out->fix, sizeof out->fix, "ollama pull %s", p->model);
            else
                snprintf(out->fix, sizeof out->fix, "set llm.model (PARLEY_LLM_MODEL) to one the server has");
        }
    }
    free(body.data);
    return llm_check_ok(out);
}

int llm_check_run(const struct llm_params *p, int timeout_ms, struct llm_check *out)
{
    return check_run(p, timeout_ms, NULL, out);
}

/* ---- the watch ---- */

struct llm_watch {
    struct llm_watch_params p;
    char provider[16], url[512], model[128], api_key[256];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct llm_check last;
    int poked;
    atomic_int stop;
};

struct llm_watch_params llm_watch_default_params(void)
{
    return (struct llm_watch_params){
        .llm = llm_default_params(),
        .interval_ms = 30000,
        .timeout_ms = 3000,
    };
}

/* Under the lock: keeps c, logs it if it changes what a user can do.
 * Returns 1 on a change. */
static int record(llm_watch *w, const struct llm_check *c)
{
    const struct llm_check was = w->last;
    w->last = *c;
    int changed = !was.checked || llm_check_ok(&was) != llm_check_ok(c) || was.reachable != c->reachable ||
                  was.model_found != c->model_found;
    if (!changed)
        return 0;
    if (llm_check_ok(c))
        log_info("LLM: %s at %s answers with model %s%s", w->provider, w->url, w->model,
                 was.checked && !llm_check_ok(&was) ? " again" : "");
    else
        log_warn("LLM: %s. Fix: %s (checking again every %d s)", c->problem, c->fix, w->p.interval_ms / 1000);
    return 1;
}

static void announce(llm_watch *w, int changed)
{
    if (changed && w->p.on_change)
        w->p.on_change(w->p.ud);
}

static void *watch_main(void *arg)
{
    llm_watch *w = arg;
    struct llm_params lp = w->p.llm;
    lp.provider = w->provider, lp.url = w->url, lp.model = w->model, lp.api_key = w->api_key;
    pthread_mutex_lock(&w->lock);
    while (!atomic_load(&w->stop)) {
        w->poked = 0;
        pthread_mutex_unlock(&w->lock);
        struct llm_check c;
        check_run(&lp, w->p.timeout_ms, &w->stop, &c);
        pthread_mutex_lock(&w->lock);
        if (atomic_load(&w->stop))
            break;
        int changed = record(w, &c);
        pthread_mutex_unlock(&w->lock);
        announce(w, changed);
        pthread_mutex_lock(&w->lock);
        /* While all is well nothing is asked until a turn fails (a poke). */
        if (llm_check_ok(&w->last)) {
            while (!w->poked && !atomic_load(&w->stop))
                pthread_cond_wait(&w->wake, &w->lock);
        } else {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_sec += w->p.interval_ms / 1000;
            until.tv_nsec += (long)(w->p.interval_ms % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L)
                until.tv_sec++, until.tv_nsec -= 1000000000L;
            while (!w->poked && !atomic_load(&w->stop))
                if (pthread_cond_timedwait(&w->wake, &w->lock, &until))
                    break;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

llm_watch *llm_watch_new(const struct llm_watch_params *p)
{
    llm_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->p = *p;
    snprintf(w->provider, sizeof w->provider, "%s", p->llm.provider);
    snprintf(w->url, sizeof w->url, "%s", p->llm.url);
    snprintf(w->model, sizeof w->model, "%s", p->llm.model);
    snprintf(w->api_key, sizeof w->api_key, "%s", p->llm.api_key ? p->llm.api_key : "");
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&w->thread, NULL, watch_main, w)) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    return w;
}

void llm_watch_get(llm_watch *w, struct llm_check *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->last;
    pthread_mutex_unlock(&w->lock);
}

void llm_watch_report(llm_watch *w, const struct llm_check *c)
{
    pthread_mutex_lock(&w->lock);
    int changed = record(w, c);
    if (changed && !llm_check_ok(c)) {
        w->poked = 1; /* back to checking on the interval */
        pthread_cond_signal(&w->wake);
    }
    pthread_mutex_unlock(&w->lock);
    announce(w, changed);
}

void llm_watch_poke(llm_watch *w)
{
    pthread_mutex_lock(&w->lock);
    w->poked = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

void llm_watch_free(llm_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->stop, 1);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
