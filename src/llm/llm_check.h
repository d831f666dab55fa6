/* Whether the LLM server answers and has the configured model, said in plain
 * words with the command that fixes it: what start-up logs, `ready` and
 * /health carry, and `parley doctor` prints. The watch re-checks in the
 * background while something is wrong and reports each change once. */
#ifndef PARLEY_LLM_CHECK_H
#define PARLEY_LLM_CHECK_H
#include "llm/llm.h"

struct llm_check {
    int checked;      /* 0 until a check has finished */
    int reachable;    /* the server answered its model list */
    int model_found;  /* the configured model is there (1 too when the server lists none) */
    char problem[1024]; /* empty when a turn can reach the model */
    char fix[400];     /* what the user does about it */
    char models[400];  /* what the server has, comma-separated (may be cut short) */
};

/* 1 when a spoken turn can reach the model. */
static inline int llm_check_ok(const struct llm_check *c)
{
    return c->checked && c->reachable && c->model_found;
}

/* Asks the server for its models (Ollama /api/tags, OpenAI-compatible
 * /models), waiting at most timeout_ms. Blocks: run it off the network
 * thread. Returns llm_check_ok(out). */
int llm_check_run(const struct llm_params *p, int timeout_ms, struct llm_check *out);

/* Reads a model list body: the names, comma-separated, into models, and
 * whether `model` is among them. Ollama's "name" without a tag means
 * ":latest". Returns -1 if the body is not that provider's model list. */
int llm_check_parse_models(const char *provider, const char *body, const char *model, char *models,
                           size_t models_len, int *found);

typedef struct llm_watch llm_watch;
struct llm_watch_params {
    struct llm_params llm;
    int interval_ms; /* between checks while something is wrong */
    int timeout_ms;  /* of one check */
    /* Called on the watch's thread after each change of llm_check_ok() or of
     * the problem (the first result included). */
    void (*on_change)(void *ud);
    void *ud;
};
struct llm_watch_params llm_watch_default_params(void);

/* Starts checking at once on a thread of its own; logs the first result and
 * each change. NULL if the thread cannot start. */
llm_watch *llm_watch_new(const struct llm_watch_params *p);
/* The latest result (checked == 0 before the first one). */
void llm_watch_get(llm_watch *w, struct llm_check *out);
/* A result found elsewhere (a /health probe): recorded, and announced if it
 * is a change. */
void llm_watch_report(llm_watch *w, const struct llm_check *c);
/* Checks again now: a turn could not reach the LLM. */
void llm_watch_poke(llm_watch *w);
void llm_watch_free(llm_watch *w);

#endif
