/* See http_util.h. */
#include "core/http_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t http_body_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct http_body *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > b->max)
        return 0;
    char *grown = realloc(b->data, b->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, data, n);
    b->len += n;
    grown[b->len] = 0;
    b->data = grown;
    return n;
}

int http_status_line(const char *line, size_t len)
{
    if (len < 10 || strncmp(line, "HTTP/", 5))
        return 0;
    const char *sp = memchr(line, ' ', len);
    int code = 0;
    if (!sp || sscanf(sp, " %d", &code) != 1)
        return 0;
    return code;
}

struct curl_slist *http_bearer(struct curl_slist *headers, const char *key)
{
    if (!key || !key[0])
        return headers;
    char auth[300];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    return curl_slist_append(headers, auth);
}
