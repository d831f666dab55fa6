/* Built only with whisper.cpp (CMake). */
#include "core/whisper_log.h"

#include <pthread.h>
#include <stdio.h>
#include <whisper.h>

static void quiet_log(enum ggml_log_level level, const char *text, void *ud)
{
    (void)ud;
    if (level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN)
        fprintf(stderr, "whisper.cpp: %s", text);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void set_once(void) { whisper_log_set(quiet_log, NULL); }

void whisper_log_quiet(void) { pthread_once(&once, set_once); }
