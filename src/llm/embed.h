/* Text embeddings from the same servers that chat: Ollama's /api/embed or an
 * OpenAI-compatible /embeddings. Blocking, with a time limit: call it on a
 * worker, never on the network thread. */
#ifndef PARLEY_EMBED_H
#define PARLEY_EMBED_H
#include <stddef.h>

struct embed_params {
    const char *provider; /* ollama | openai */
    const char *url;      /* base URL, as for chat */
    const char *model;    /* empty: no embeddings (keyword search only) */
    const char *api_key;
    int timeout_ms;
};
struct embed_params embed_default_params(void);

/* Returns 0 with a malloc'd vector in *vec (dim floats), or -1 with err. */
int embed_text(const struct embed_params *p, const char *text, float **vec, int *dim, char *err, size_t errlen);

#endif
