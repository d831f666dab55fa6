/* Allocation failures, one at a time, in every allocation of a workload of
 * each module that handles outside input or keeps data: protocol, phrase,
 * config, history, store (fault.h). Each must come through: no crash, and
 * under ASan no leak and no bad access. A workload that cannot fail (it
 * allocates nothing more) ends its loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/config.h"
#include "defaults.h"
#include "fault.h"
#include "phrase/phrase.h"
#include "protocol/protocol.h"
#include "session/history.h"
#include "store/store.h"

/* Runs w with the 1st, 2nd, ... allocation failing until one run reaches
 * none; returns how many failure points there were. */
static long sweep(const char *name, void (*w)(void *), void *ud)
{
    long n = 1;
    for (;; n++) {
        fault_countdown(n);
        w(ud);
        int fired = fault_fired();
        fault_countdown(0);
        if (!fired)
            break;
    }
    printf("%s: %ld allocation failures survived\n", name, n - 1);
    return n - 1;
}

static void free_str(char *s) { free(s); }

static void w_protocol(void *ud)
{
    (void)ud;
    static const char *const msgs[] = {
        "{\"type\":\"start\",\"sample_rate\":16000,\"session_id\":\"a\",\"conversation_id\":\"c-1\",\"token\":\"pt\"}",
        "{\"type\":\"text\",\"text\":\"Caf\xc3\xa9 \xf0\x9f\x98\x80\"}", "{\"type\":\"played\",\"turn\":2,\"ms\":10}",
        "{\"type\":\"cancel\"}", "{not json", "{\"type\":\"nope\"}"};
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        struct proto_client_msg m;
        int fatal;
        char err[256];
        if (proto_parse(msgs[i], strlen(msgs[i]), &m, &fatal, err, sizeof err) == 0)
            proto_client_msg_clear(&m);
    }
    const char *engines[] = {"flite", "espeak"};
    struct llm_check llm = {.checked = 1};
    struct proto_ready_info info = {.session_id = "s", .conversation_id = "c-1", .out_rate = 16000,
                                    .tts_engines = engines, .ntts_engines = 2, .llm = &llm, .llm_model = "mistral",
                                    .asr_engine = "whisper", .asr_partials = "pocketsphinx"};
    struct proto_metrics pm = {.total_ms = 1, .first_audio_ms = PROTO_UNREACHED, .asr_audio_ms = 900, .asr_rtf = 0.1};
    const struct proto_event events[] = {
        {.kind = EV_READY, .ready = &info},
        {.kind = EV_LLM_STATUS, .llm = &llm, .llm_model = "mistral"},
        {.kind = EV_STATE, .status = "listening"},
        {.kind = EV_TRANSCRIPT, .turn = 3, .text = "hello", .final = 1},
        {.kind = EV_ASSISTANT_TEXT, .turn = 3, .status = "chunk", .text = "hi"},
        {.kind = EV_TTS_START, .turn = 3, .text = "hi", .rate = 16000},
        {.kind = EV_ERROR, .code = "BUSY", .text = "full", .recoverable = 1, .retry_after_ms = 2000},
        {.kind = EV_DONE, .turn = 3, .metrics = &pm},
        {.kind = EV_TOOL_CALL, .turn = 3, .tool_id = "call_0", .tool_name = "current_time", .arguments = "{\"a\":1}"},
        {.kind = EV_TOOL_RESULT, .turn = 3, .tool_id = "call_0", .tool_name = "current_time", .text = "{\"now\":1}"},
        {.kind = EV_INFO, .text = "note"},
    };
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        free_str(proto_event_json(&events[i]));
    struct proto_chat chat;
    char problem[200];
    if (proto_parse_chat("{\"text\":\"hi\",\"conversation_id\":\"c-2\"}", 38, &chat, problem, sizeof problem) == 0)
        free(chat.text);
}

static void collect(void *ud, const char *p, size_t len)
{
    (void)p;
    *(size_t *)ud += len;
}

static void w_phrase(void *ud)
{
    (void)ud;
    struct phrase_params p = phrase_default_params();
    phrase_splitter *ps = phrase_new(&p);
    if (!ps)
        return;
    size_t got = 0;
    const char *text = "Hello there, my friend. This is a longer sentence that runs on and on without an end "
                       "\xe4\xbb\x8a\xe5\xa4\xa9\xe6\x98\xaf a\xc3\xa9\xc3\xa9 done!";
    for (size_t off = 0; off < strlen(text); off += 7)
        phrase_push(ps, text + off, strlen(text) - off < 7 ? strlen(text) - off : 7, collect, &got);
    phrase_flush(ps, collect, &got);
    phrase_free(ps);
}

static void w_config(void *ud)
{
    struct parley_config *c = ud;
    char err[512];
    parley_config_defaults(c);
    const char *yaml = "listen: 127.0.0.1:9000\nllm:\n  model: m\n  system_prompt: \"a long prompt\"\n"
                       "tts:\n  chain: [flite, espeak]\nmcp:\n  servers:\n    e:\n      command: x\n      args: [a, b]\n";
    if (config_load_string(c, yaml, strlen(yaml), "t", err, sizeof err) == 0)
        config_finish(c, err, sizeof err);
    config_set(c, "llm.think", "auto", err, sizeof err);
}

static void w_history(void *ud)
{
    (void)ud;
    history *h = history_new();
    if (!h)
        return;
    for (int i = 1; i <= 5; i++) {
        history_add(h, "user", "what is the weather like", (uint64_t)i);
        history_add(h, "assistant", "sunny and warm today", (uint64_t)i);
    }
    history_set_assistant(h, 3, "sunny");
    struct llm_message out[16];
    history_context(h, "be brief", 200, out, 16);
    history_free(h);
}

static void w_store_turn(void *ud)
{
    store *st = ud;
    char err[256];
    struct store_message m[] = {{1, "user", "remember my dog is Rex", "text", 0, 0, NULL, NULL, NULL},
                                {1, "assistant", "noted", NULL, 0, 0, NULL, NULL, "k1"}};
    store_commit_turn(st, STORE_LOCAL_USER, "c-f", m, 2, err, sizeof err);
    store_set_reply_text(st, STORE_LOCAL_USER, "c-f", "k1", 1, "no");
}

static void w_store_read(void *ud)
{
    store *st = ud;
    cJSON_Delete(store_load_history(st, STORE_LOCAL_USER, "c-r", 10));
    cJSON_Delete(store_list_conversations(st, STORE_LOCAL_USER, 3, 0));
    cJSON_Delete(store_get_conversation(st, STORE_LOCAL_USER, "c-r"));
}

static void w_store_memory(void *ud)
{
    store *st = ud;
    char err[256];
    float v[3] = {1, 0, 0};
    int64_t id = store_memory_add(st, STORE_LOCAL_USER, "the dog is Rex", NULL, 0, v, 3, "e", err, sizeof err);
    cJSON_Delete(store_memory_search(st, STORE_LOCAL_USER, "dog", v, 3, 5));
    if (id > 0)
        store_memory_forget(st, STORE_LOCAL_USER, id);
}

static void w_store_tables(void *ud)
{
    store *st = ud;
    char err[256];
    const struct store_table *movies = store_table_find("movies");
    cJSON *f = cJSON_Parse("{\"title\":\"Alien\",\"rating\":9}");
    if (!f)
        return;
    cJSON_Delete(store_table_save(st, STORE_LOCAL_USER, movies, f, err, sizeof err));
    cJSON_Delete(store_table_list(st, STORE_LOCAL_USER, movies, "ali", 5));
    store_table_delete(st, STORE_LOCAL_USER, movies, f, err, sizeof err);
    cJSON_Delete(f);
    struct store_user users[4];
    store_users_load(st, users, 4);
}

int main(void)
{
    fault_init();
    CHECK(sweep("protocol", w_protocol, NULL) > 20);
    CHECK(sweep("phrase", w_phrase, NULL) > 3);
    static struct parley_config cfg;
    CHECK(sweep("config", w_config, &cfg) > 5);
    CHECK(sweep("history", w_history, NULL) > 10);

    /* The store: opened once (SQLite's own suite covers its open under
     * OOM), then every allocation of a workload of each call fails once.
     * After all of it the file is whole and still answers. */
    char dir[] = "/tmp/parley-faults-XXXXXX", path[300], err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/parley.db", dir);
    struct store_params sp = store_default_params();
    sp.path = path;
    sp.max_memories = 5; /* the sweep adds one a run: bounded, as in service */
    store *st = store_open(&sp, err, sizeof err);
    CHECK(st != NULL);
    if (st) {
        struct store_message seed[] = {{1, "user", "a short one", "text", 0, 0, NULL, NULL, NULL},
                                       {1, "assistant", "yes", NULL, 0, 0, NULL, NULL, "k0"}};
        CHECK(store_commit_turn(st, STORE_LOCAL_USER, "c-r", seed, 2, err, sizeof err) == 0);
        CHECK(sweep("store: a turn", w_store_turn, st) > 10);
        CHECK(sweep("store: reads", w_store_read, st) > 10);
        CHECK(sweep("store: memories", w_store_memory, st) > 10);
        CHECK(sweep("store: tables and users", w_store_tables, st) > 10);
        struct store_message m[] = {{9, "user", "after the faults", "text", 0, 0, NULL, NULL, NULL}};
        CHECK(store_commit_turn(st, STORE_LOCAL_USER, "c-after", m, 1, err, sizeof err) == 0);
        cJSON *h = store_load_history(st, STORE_LOCAL_USER, "c-after", 5);
        CHECK(cJSON_GetArraySize(h) == 1);
        cJSON_Delete(h);
        store_close(st);
    }
    char wal[320];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);
    unlink(path);
    rmdir(dir);
    return check_summary();
}
