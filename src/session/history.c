/* History as a bounded array of messages; when full, the oldest goes. The
 * context builder walks backwards from the newest so trimming is cheap. */
#include "session/history.h"

#include <stdlib.h>
#include <string.h>

struct entry {
    char role[16];
    char *text;
    uint64_t turn;
};

struct history {
    struct entry items[HISTORY_MAX_MESSAGES];
    int count;
};

history *history_new(void) { return calloc(1, sizeof(history)); }

void history_free(history *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->count; i++)
        free(h->items[i].text);
    free(h);
}

int history_add(history *h, const char *role, const char *text, uint64_t turn)
{
    char *copy = strdup(text);
    if (!copy)
        return -1;
    if (h->count == HISTORY_MAX_MESSAGES) {
        free(h->items[0].text);
        memmove(h->items, h->items + 1, sizeof h->items[0] * (HISTORY_MAX_MESSAGES - 1));
        h->count--;
    }
    struct entry *e = &h->items[h->count++];
    strncpy(e->role, role, sizeof e->role - 1);
    e->role[sizeof e->role - 1] = 0;
    e->text = copy;
    e->turn = turn;
    return 0;
}

int history_set_assistant(history *h, uint64_t turn, const char *text)
{
    for (int i = h->count - 1; i >= 0; i--) {
        struct entry *e = &h->items[i];
        if (e->turn == turn && !strcmp(e->role, "assistant")) {
            char *copy = strdup(text);
            if (!copy)
                return -1;
            free(e->text);
            e->text = copy;
            return 0;
        }
    }
    return -1;
}

void history_drop_turn(history *h, uint64_t turn)
{
    int k = 0;
    for (int i = 0; i < h->count; i++) {
        if (h->items[i].turn == turn)
            free(h->items[i].text);
        else
            h->items[k++] = h->items[i];
    }
    h->count = k;
}

int history_count(const history *h) { return h->count; }

int history_context(const history *h, const char *system_prompt, size_t budget_chars, struct llm_message *out,
                    int max)
{
    int n = 0;
    size_t used = 0;
    if (system_prompt && system_prompt[0] && max > 0) {
        out[n++] = (struct llm_message){.role = "system", .content = system_prompt};
        used = strlen(system_prompt);
    }
    int first = h->count; /* oldest message that fits */
    for (int i = h->count - 1; i >= 0 && n + (h->count - i) <= max; i--) {
        size_t len = strlen(h->items[i].text);
        if (i < h->count - 1 && used + len > budget_chars)
            break;
        used += len;
        first = i;
    }
    /* Do not start the context with a reply to a question that was dropped. */
    if (first < h->count - 1 && !strcmp(h->items[first].role, "assistant"))
        first++;
    for (int i = first; i < h->count; i++)
        if (h->items[i].text[0]) /* a reply interrupted before any audio */
            out[n++] = (struct llm_message){.role = h->items[i].role, .content = h->items[i].text};
    return n;
}
