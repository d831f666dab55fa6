/* Small pieces every libcurl client here needs: a bounded response buffer
 * and reading the status code from a header line (so a stream can tell an
 * error body from data before curl is done). */
#ifndef PARLEY_HTTP_UTIL_H
#define PARLEY_HTTP_UTIL_H
#include <curl/curl.h>
#include <stddef.h>

struct http_body {
    char *data; /* NUL-terminated; free() it */
    size_t len, max;
};
/* A CURLOPT_WRITEFUNCTION for a struct http_body; fails the transfer past max. */
size_t http_body_write(char *data, size_t size, size_t nmemb, void *ud);

/* The code of an "HTTP/x y ..." status line, or 0 for any other header. */
int http_status_line(const char *line, size_t len);

/* Appends "Authorization: Bearer KEY" unless key is NULL or empty. */
struct curl_slist *http_bearer(struct curl_slist *headers, const char *key);

#endif
