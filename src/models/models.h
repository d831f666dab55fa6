/* The model manager: the models parley knows (Whisper ggml, Silero VAD), where
 * they live (<data_dir>/models), and downloading one with resume, a progress
 * display and a SHA-1 check, never leaving a half-written file under the final
 * name. Used by `parley models list|pull|path`. Blocking; not for the server. */
#ifndef PARLEY_MODELS_H
#define PARLEY_MODELS_H
#include <stddef.h>
#include <stdio.h>

struct model_info {
    const char *name;   /* what users type: base.en, silero-v6.2.0 */
    const char *what;
    const char *file;   /* under <data_dir>/models */
    const char *remote; /* path under the base URL */
    double mib;         /* published size */
    const char *sha1;
};

const struct model_info *models_known(int *n);
const struct model_info *models_find(const char *name);
/* <dir>/<file> into out. */
void models_path(const char *dir, const struct model_info *m, char *out, size_t outlen);

struct models_pull_params {
    const char *dir;      /* <data_dir>/models; created if missing */
    const char *base_url; /* https://huggingface.co, or PARLEY_MODELS_URL */
    FILE *progress;       /* where progress goes (stderr) */
    int tty;              /* a bar redrawn in place, else a line every 10% */
};
struct models_pull_params models_pull_default_params(void);

/* 0: present (downloaded, or already there and verified); -1 with err. */
int models_pull(const struct models_pull_params *p, const struct model_info *m, char *err, size_t errlen);
/* The SHA-1 of a file as 40 hex digits; -1 if it cannot be read. */
int models_sha1_file(const char *path, char hex[41]);

#endif
