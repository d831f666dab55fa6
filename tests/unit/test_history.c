/* Conversation history: the context budget drops the oldest turns first and
 * never the newest; heard_text keeps only what was played of a reply. */
#include <stdlib.h>

#include "check.h"
#include "session/history.h"
#include "session/session_internal.h"

int main(void)
{
    history *h = history_new();
    struct llm_message out[HISTORY_MAX_MESSAGES + 1];
    history_add(h, "user", "first question here", 1);
    history_add(h, "assistant", "first answer here", 1);
    history_add(h, "user", "second question", 2);
    history_add(h, "assistant", "second answer", 2);
    history_add(h, "user", "third", 3);
    int n = history_context(h, "SYS", 1000, out, HISTORY_MAX_MESSAGES + 1);
    CHECK(n == 6);
    CHECK_STR(out[0].role, "system");
    CHECK_STR(out[5].content, "third");
    /* A budget that fits only the newest exchange. */
    n = history_context(h, "SYS", 3 + 5 + 13 + 15, out, HISTORY_MAX_MESSAGES + 1);
    CHECK(n == 4);
    CHECK_STR(out[1].content, "second question");
    /* A budget smaller than the newest message still sends it. */
    n = history_context(h, "SYS", 1, out, HISTORY_MAX_MESSAGES + 1);
    CHECK(n == 2);
    CHECK_STR(out[1].content, "third");
    /* Never start with an orphan assistant message. */
    n = history_context(h, "", 13 + 5 + 1, out, HISTORY_MAX_MESSAGES + 1);
    CHECK(n == 1);
    CHECK_STR(out[0].content, "third");

    CHECK(history_set_assistant(h, 2, "second ans") == 0);
    CHECK(history_set_assistant(h, 9, "x") == -1);
    n = history_context(h, NULL, 1000, out, HISTORY_MAX_MESSAGES + 1);
    CHECK_STR(out[3].content, "second ans");
    /* Empty (interrupted before audio) replies are left out of the context. */
    history_set_assistant(h, 2, "");
    n = history_context(h, NULL, 1000, out, HISTORY_MAX_MESSAGES + 1);
    CHECK(n == 4);

    for (int i = 0; i < HISTORY_MAX_MESSAGES + 10; i++)
        history_add(h, "user", "x", 100 + (uint64_t)i);
    CHECK(history_count(h) == HISTORY_MAX_MESSAGES);
    history_free(h);

    /* heard_text: phrases of 1000 and 2000 samples. */
    char *texts[] = {"Hello there.", "This is a longer phrase of words."};
    size_t samples[] = {1000, 2000};
    char buf[256];
    heard_text(texts, samples, 2, 3000, buf, sizeof buf);
    CHECK_STR(buf, "Hello there. This is a longer phrase of words.");
    heard_text(texts, samples, 2, 1000, buf, sizeof buf);
    CHECK_STR(buf, "Hello there.");
    heard_text(texts, samples, 2, 1000 + 1000, buf, sizeof buf); /* half of 7 words → 3 */
    CHECK_STR(buf, "Hello there. This is a");
    heard_text(texts, samples, 2, 0, buf, sizeof buf);
    CHECK_STR(buf, "");
    heard_text(texts, samples, 2, 100, buf, sizeof buf);
    CHECK_STR(buf, "");
    return check_summary();
}
