/* The wrapped allocator behind fault.h. */
#include "fault.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

static long countdown, allocations;
static int fired;

/* 1 when this allocation is the one to fail. */
static int fail_now(void)
{
    allocations++;
    if (countdown > 0 && --countdown == 0) {
        fired = 1;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return fail_now() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fail_now() ? NULL : __real_strdup(s); }
char *__wrap_strndup(const char *s, size_t n) { return fail_now() ? NULL : __real_strndup(s, n); }

static void *cjson_malloc(size_t n) { return __wrap_malloc(n); }

/* SQLite's allocator: sizes kept in front, as sqlite3_mem_methods asks. */
static void *sq_malloc(int n)
{
    if (fail_now())
        return NULL;
    sqlite3_int64 *p = __real_malloc((size_t)n + 8);
    if (!p)
        return NULL;
    p[0] = n;
    return p + 1;
}
static void sq_free(void *p)
{
    if (p)
        free((sqlite3_int64 *)p - 1);
}
static void *sq_realloc(void *p, int n)
{
    if (fail_now())
        return NULL;
    sqlite3_int64 *q = __real_realloc(p ? (sqlite3_int64 *)p - 1 : NULL, (size_t)n + 8);
    if (!q)
        return NULL;
    q[0] = n;
    return q + 1;
}
static int sq_size(void *p) { return p ? (int)((sqlite3_int64 *)p)[-1] : 0; }
static int sq_roundup(int n) { return (n + 7) & ~7; }
static int sq_init(void *ud) { (void)ud; return SQLITE_OK; }
static void sq_shutdown(void *ud) { (void)ud; }

void fault_init(void)
{
    cJSON_Hooks hooks = {cjson_malloc, free};
    cJSON_InitHooks(&hooks);
    static const sqlite3_mem_methods mem = {sq_malloc, sq_free, sq_realloc, sq_size, sq_roundup, sq_init, sq_shutdown,
                                            NULL};
    sqlite3_config(SQLITE_CONFIG_MALLOC, &mem);
}

void fault_countdown(long n)
{
    countdown = n;
    fired = 0;
}

int fault_fired(void) { return fired; }

long fault_allocations(void) { return allocations; }
