/* Streamable HTTP for the MCP client: one libcurl transfer per message. The
 * answer is read as JSON or as server-sent events (mcp_wire's parser) until
 * the response with our id arrives; the session id is kept under a lock, as
 * tool calls post from several I/O threads at once. */
#include "tools/mcp_http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ANSWER (4 << 20) /* one JSON answer, or one event's data */

struct mcp_http {
    char url[512];
    struct curl_slist *base; /* the configured headers and the content types */
    char version[32];
    pthread_mutex_t lock;
    char session[256]; /* the server's Mcp-Session-Id; empty before initialize */
};

struct post {
    int64_t want_id;
    int is_sse, found, too_big;
    char session[256];
    struct mcp_sse sse;
    char *body;
    size_t len;
    struct mcp_message *out;
    int (*cancelled)(void *);
    void *cancelled_ud;
    void (*on_other)(void *, const struct mcp_message *);
    void *other_ud;
};

mcp_http *mcp_http_new(const char *url, const char (*headers)[256], int nheaders, const char *protocol_version)
{
    mcp_http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    snprintf(h->url, sizeof h->url, "%s", url);
    snprintf(h->version, sizeof h->version, "%s", protocol_version);
    pthread_mutex_init(&h->lock, NULL);
    h->base = curl_slist_append(NULL, "Content-Type: application/json");
    h->base = curl_slist_append(h->base, "Accept: application/json, text/event-stream");
    for (int i = 0; i < nheaders && h->base; i++)
        h->base = curl_slist_append(h->base, headers[i]);
    if (!h->base) {
        mcp_http_free(h);
        return NULL;
    }
    return h;
}

void mcp_http_free(mcp_http *h)
{
    if (!h)
        return;
    curl_slist_free_all(h->base);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct post *p = ud;
    size_t n = size * nmemb;
    static const char sid[] = "mcp-session-id:", ctype[] = "content-type:";
    if (n > sizeof sid - 1 && !strncasecmp(data, sid, sizeof sid - 1)) {
        const char *v = data + sizeof sid - 1;
        size_t vlen = n - (sizeof sid - 1);
        while (vlen && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            vlen--;
        if (vlen < sizeof p->session)
            snprintf(p->session, sizeof p->session, "%.*s", (int)vlen, v);
    } else if (n > sizeof ctype - 1 && !strncasecmp(data, ctype, sizeof ctype - 1)) {
        p->is_sse = memmem(data, n, "text/event-stream", 17) != NULL;
    }
    return n;
}

/* A message of the answer: ours is kept, others go to on_other. */
static void on_message(struct post *p, const char *text, size_t len)
{
    struct mcp_message m;
    enum mcp_kind kind = mcp_message_parse(text, len, &m);
    if (!p->found && kind == MCP_MSG_RESPONSE && m.response_id == p->want_id) {
        *p->out = m;
        p->found = 1;
        return;
    }
    if (kind != MCP_MSG_INVALID && p->on_other)
        p->on_other(p->other_ud, &m);
    mcp_message_free(&m);
}

static void on_event(void *ud, const char *data, size_t len)
{
    on_message(ud, data, len);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct post *p = ud;
    size_t n = size * nmemb;
    if (p->is_sse) {
        mcp_sse_feed(&p->sse, data, n, on_event, p);
        return p->found ? 0 : n; /* ours is here: the rest of the stream is not needed */
    }
    if (p->len + n > MAX_ANSWER) {
        p->too_big = 1;
        return 0;
    }
    char *b = realloc(p->body, p->len + n);
    if (!b)
        return 0;
    memcpy(b + p->len, data, n);
    p->body = b;
    p->len += n;
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct post *p = ud;
    return p->cancelled && p->cancelled(p->cancelled_ud);
}

enum mcp_http_result mcp_http_post(mcp_http *h, const cJSON *msg, int64_t id, int timeout_ms,
                                   int (*cancelled)(void *), void *cancelled_ud,
                                   void (*on_other)(void *ud, const struct mcp_message *m), void *other_ud,
                                   struct mcp_message *out, char *err, size_t errlen)
{
    struct mcp_message unused;
    struct post p = {.want_id = id, .out = out ? out : &unused, .cancelled = cancelled,
                     .cancelled_ud = cancelled_ud, .on_other = on_other, .other_ud = other_ud};
    memset(p.out, 0, sizeof *p.out);
    char *body = cJSON_PrintUnformatted(msg);
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = NULL;
    char session[256], line[320];
    pthread_mutex_lock(&h->lock);
    snprintf(session, sizeof session, "%s", h->session);
    pthread_mutex_unlock(&h->lock);
    for (struct curl_slist *s = h->base; s; s = s->next)
        headers = curl_slist_append(headers, s->data);
    if (session[0]) {
        snprintf(line, sizeof line, "Mcp-Session-Id: %s", session);
        headers = curl_slist_append(headers, line);
        snprintf(line, sizeof line, "MCP-Protocol-Version: %s", h->version);
        headers = curl_slist_append(headers, line);
    }
    if (!body || !curl || !headers || mcp_sse_init(&p.sse, MAX_ANSWER)) {
        snprintf(err, errlen, "out of memory");
        free(body);
        curl_easy_cleanup(curl);
        curl_slist_free_all(headers);
        return MCP_HTTP_FAILED;
    }
    curl_easy_setopt(curl, CURLOPT_URL, h->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &p);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &p);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &p);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 5000 ? timeout_ms : 5000));
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    enum mcp_http_result result = MCP_HTTP_FAILED;
    if (p.found) {
        result = MCP_HTTP_OK;
    } else if (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(err, errlen, "%s", rc == CURLE_OPERATION_TIMEDOUT ? "timed out" : "cancelled");
        result = MCP_HTTP_CANCELLED;
    } else if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", h->url, p.too_big ? "the answer is too long" : curl_easy_strerror(rc));
    } else if (session[0] && (status == 404 || status == 400)) {
        snprintf(err, errlen, "%s: the server no longer knows our session (HTTP %ld)", h->url, status);
        result = MCP_HTTP_GONE;
    } else if (status < 200 || status >= 300) {
        snprintf(err, errlen, "%s: HTTP %ld", h->url, status);
    } else if (id < 0) {
        result = MCP_HTTP_OK; /* a notification: accepted (202) */
    } else {
        if (!p.is_sse && p.len)
            on_message(&p, p.body, p.len);
        if (p.found)
            result = MCP_HTTP_OK;
        else
            snprintf(err, errlen, "%s: the answer holds no response to request %lld", h->url, (long long)id);
    }
    if (result == MCP_HTTP_OK && p.session[0]) {
        pthread_mutex_lock(&h->lock);
        snprintf(h->session, sizeof h->session, "%s", p.session);
        pthread_mutex_unlock(&h->lock);
    }
    if (!out && p.found)
        mcp_message_free(&unused);
    mcp_sse_free(&p.sse);
    free(p.body);
    free(body);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return result;
}

static size_t on_body_discard(char *data, size_t size, size_t nmemb, void *ud)
{
    (void)data, (void)ud;
    return size * nmemb;
}

void mcp_http_end_session(mcp_http *h)
{
    char session[256], line[320];
    pthread_mutex_lock(&h->lock);
    snprintf(session, sizeof session, "%s", h->session);
    h->session[0] = 0;
    pthread_mutex_unlock(&h->lock);
    if (!session[0])
        return;
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = NULL;
    for (struct curl_slist *s = h->base; s; s = s->next)
        headers = curl_slist_append(headers, s->data);
    snprintf(line, sizeof line, "Mcp-Session-Id: %s", session);
    headers = curl_slist_append(headers, line);
    if (curl && headers) {
        curl_easy_setopt(curl, CURLOPT_URL, h->url);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "DELETE");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2000L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body_discard);
        curl_easy_perform(curl); /* best effort: the server forgets it anyway in time */
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
}
