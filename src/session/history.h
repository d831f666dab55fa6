/* A session's conversation so far, and the context sent to the LLM: the
 * system prompt plus as many recent messages as fit the budget. */
#ifndef PARLEY_HISTORY_H
#define PARLEY_HISTORY_H
#include <stddef.h>
#include <stdint.h>

#include "llm/llm.h"

#define HISTORY_MAX_MESSAGES 200

typedef struct history history;
history *history_new(void);
void history_free(history *h);
/* turn tags the message so a later "played" report can correct it. */
int history_add(history *h, const char *role, const char *text, uint64_t turn);
/* Replaces the text of the assistant message of that turn, if kept. */
int history_set_assistant(history *h, uint64_t turn, const char *text);
/* Removes every message of that turn (a reply dropped before it was shown). */
void history_drop_turn(history *h, uint64_t turn);
int history_count(const history *h);
/* Fills out[] with the system prompt and the newest messages within
 * budget_chars, oldest dropped first, but never the newest. Returns count. */
int history_context(const history *h, const char *system_prompt, size_t budget_chars, struct llm_message *out,
                    int max);

#endif
