/* The store against a real SQLite file: schema and migrations, turns and
 * resume, memories (keyword, vector, hybrid), the structured tables, hostile
 * input, and several threads writing at once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "store/store.h"

static char dir[] = "/tmp/parley-store-XXXXXX";
static char path[256];
#define U STORE_LOCAL_USER

static store *open_store(void)
{
    struct store_params p = store_default_params();
    p.path = path;
    char err[256] = "";
    store *st = store_open(&p, err, sizeof err);
    if (!st)
        fprintf(stderr, "open: %s\n", err);
    return st;
}

static void test_turns_and_history(store *st)
{
    CHECK(store_schema_version(st) == 3);
    CHECK(store_conversation_exists(st, U, "c1") == 0);
    struct store_message turn1[] = {
        {1, "user", "remember that my favourite film is Alien", "speech", 0, 1000, "{\"total_ms\":12}", NULL, NULL},
        {1, "tool", "{\"content\":\"favourite film is Alien\"}", NULL, 0, 1001, NULL, "memory_save", NULL},
        {1, "assistant", "I will remember that.", NULL, 0, 1002, NULL, NULL, NULL},
    };
    char err[256];
    CHECK(store_commit_turn(st, U, "c1", turn1, 3, err, sizeof err) == 0);
    struct store_message turn2[] = {
        {2, "user", "tell me a long story", "text", 0, 2000, NULL, NULL, NULL},
        {2, "assistant", "Once upon", NULL, 1, 2001, NULL, NULL, "session-a"},
    };
    CHECK(store_commit_turn(st, U, "c1", turn2, 2, err, sizeof err) == 0);
    CHECK(store_conversation_exists(st, U, "c1") == 1);
    /* another session of the conversation, also at its turn 2, that stored
     * no reply: its correction touches nothing (turn numbers restart in
     * every session) */
    CHECK(store_set_reply_text(st, U, "c1", "session-b", 2, "") == 0);
    cJSON *untouched = store_load_history(st, U, "c1", 1);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(untouched, 0), "content")->valuestring, "Once upon");
    cJSON_Delete(untouched);
    CHECK(store_set_reply_text(st, U, "c1", "session-a", 2, "Once") == 0);

    cJSON *h = store_load_history(st, U, "c1", 10);
    CHECK(cJSON_GetArraySize(h) == 4); /* tool messages are not context */
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(h, 0), "role")->valuestring, "user");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(h, 3), "content")->valuestring, "Once");
    cJSON_Delete(h);
    h = store_load_history(st, U, "c1", 2); /* the newest two, oldest first */
    CHECK(cJSON_GetArraySize(h) == 2);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(h, 0), "content")->valuestring, "tell me a long story");
    cJSON_Delete(h);

    cJSON *c = store_get_conversation(st, U, "c1");
    CHECK(c != NULL);
    CHECK_STR(cJSON_GetObjectItem(c, "title")->valuestring, "remember that my favourite film is Alien");
    cJSON *msgs = cJSON_GetObjectItem(c, "messages");
    CHECK(cJSON_GetArraySize(msgs) == 5);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 4), "interrupted")));
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "metrics")));
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "tool")->valuestring, "memory_save");
    cJSON_Delete(c);
    CHECK(store_get_conversation(st, U, "nope") == NULL);

    /* A bad role is refused whole: nothing of that turn is written. */
    struct store_message bad[] = {
        {3, "user", "fine", "text", 0, 3000, NULL, NULL, NULL},
        {3, "robot", "not a role", NULL, 0, 3001, NULL, NULL, NULL},
    };
    CHECK(store_commit_turn(st, U, "c1", bad, 2, err, sizeof err) == -1);
    c = store_get_conversation(st, U, "c1");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(c, "messages")) == 5);
    cJSON_Delete(c);

    cJSON *list = store_list_conversations(st, U, 10, 0);
    CHECK(cJSON_GetArraySize(list) == 1);
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "messages")->valueint == 5);
    cJSON_Delete(list);
}

static void test_memories(store *st)
{
    char err[256];
    int64_t alien = store_memory_add(st, U, "The user's favourite film is Alien", "c1", 3, NULL, 0, NULL, err, sizeof err);
    int64_t cat = store_memory_add(st, U, "The user has a cat called Miso", NULL, 0, NULL, 0, NULL, err, sizeof err);
    CHECK(alien > 0 && cat > alien);
    /* Porter stemming: "films" finds "film"; stop words alone find nothing. */
    cJSON *r = store_memory_search(st, U, "what are my favourite films?", NULL, 0, 5);
    CHECK(cJSON_GetArraySize(r) == 1);
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(r, 0), "id")->valuedouble == (double)alien);
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(r, 0), "turn")->valueint == 3); /* where it was learnt */
    cJSON_Delete(r);
    r = store_memory_search(st, U, "what is my", NULL, 0, 5);
    CHECK(cJSON_GetArraySize(r) == 0);
    cJSON_Delete(r);
    /* FTS syntax in the query is just words. */
    r = store_memory_search(st, U, "cat\" OR NEAR(* AND", NULL, 0, 5);
    CHECK(cJSON_GetArraySize(r) == 1);
    cJSON_Delete(r);
    r = store_memory_search(st, U, "", NULL, 0, 5); /* no query: newest first */
    CHECK(cJSON_GetArraySize(r) == 2);
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(r, 0), "id")->valuedouble == (double)cat);
    cJSON_Delete(r);

    /* Vectors: the nearest wins even with no shared word. */
    float pet[3] = {1, 0, 0}, film[3] = {0, 1, 0}, q[3] = {0.9f, 0.1f, 0};
    int64_t v1 = store_memory_add(st, U, "Miso likes tuna", NULL, 0, pet, 3, "test-embed", err, sizeof err);
    int64_t v2 = store_memory_add(st, U, "Ridley Scott directed it", NULL, 0, film, 3, "test-embed", err, sizeof err);
    r = store_memory_search(st, U, "animal food", q, 3, 5);
    CHECK(cJSON_GetArraySize(r) >= 1);
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(r, 0), "id")->valuedouble == (double)v1);
    cJSON_Delete(r);
    CHECK(v2 > 0);

    CHECK(store_memory_forget(st, U, cat) == 1);
    CHECK(store_memory_forget(st, U, cat) == 0);
    r = store_memory_search(st, U, "cat", NULL, 0, 5);
    CHECK(cJSON_GetArraySize(r) == 0); /* the FTS index followed the delete */
    cJSON_Delete(r);
}

static void test_tables(store *st)
{
    char err[256] = "";
    const struct store_table *movies = store_table_find("movies");
    const struct store_table *music = store_table_find("music");
    const struct store_table *projects = store_table_find("projects");
    CHECK(movies && music && projects && !store_table_find("sqlite_master"));

    cJSON *f = cJSON_Parse("{\"title\":\"Alien\",\"year\":1979,\"rating\":9}");
    cJSON *row = store_table_save(st, U, movies, f, err, sizeof err);
    CHECK(row && cJSON_GetObjectItem(row, "rating")->valuedouble == 9);
    cJSON_Delete(row);
    cJSON_Delete(f);
    /* An update by key changes only what is given (and matches any case). */
    f = cJSON_Parse("{\"title\":\"ALIEN\",\"notes\":\"best in space\",\"rating\":\"9.5\"}");
    row = store_table_save(st, U, movies, f, err, sizeof err);
    CHECK(row && cJSON_GetObjectItem(row, "year")->valueint == 1979);
    CHECK(row && cJSON_GetObjectItem(row, "rating")->valuedouble == 9.5);
    cJSON_Delete(row);
    cJSON_Delete(f);

    const char *bad[] = {"{\"year\":1979}", "{\"title\":\"X\",\"rating\":42}", "{\"title\":\"X\",\"drop\":1}",
                         "{\"title\":\"X\",\"year\":\"soon\"}", "[1]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = cJSON_Parse(bad[i]);
        err[0] = 0;
        row = store_table_save(st, U, movies, f, err, sizeof err);
        CHECK(row == NULL && err[0]);
        cJSON_Delete(f);
    }
    f = cJSON_Parse("{\"name\":\"parley\",\"status\":\"someday\"}");
    CHECK(store_table_save(st, U, projects, f, err, sizeof err) == NULL && strstr(err, "CHECK"));
    cJSON_Delete(f);
    f = cJSON_Parse("{\"name\":\"parley\",\"status\":\"active\",\"notes\":\"voice loop in C\"}");
    row = store_table_save(st, U, projects, f, err, sizeof err);
    CHECK(row != NULL);
    cJSON_Delete(row);
    cJSON_Delete(f);

    f = cJSON_Parse("{\"kind\":\"album\",\"name\":\"Kind of Blue\",\"artist\":\"Miles Davis\"}");
    row = store_table_save(st, U, music, f, err, sizeof err);
    cJSON_Delete(row);
    cJSON_Delete(f);
    f = cJSON_Parse("{\"kind\":\"artist\",\"name\":\"Miles Davis\"}");
    row = store_table_save(st, U, music, f, err, sizeof err);
    cJSON_Delete(row);
    cJSON_Delete(f);
    cJSON *list = store_table_list(st, U, music, "miles", 10);
    CHECK(cJSON_GetArraySize(list) == 2);
    cJSON_Delete(list);
    list = store_table_list(st, U, movies, "%' OR 1=1 --", 10);
    CHECK(cJSON_GetArraySize(list) == 0);
    cJSON_Delete(list);

    f = cJSON_Parse("{\"title\":\"alien\"}");
    CHECK(store_table_delete(st, U, movies, f, err, sizeof err) == 1);
    CHECK(store_table_delete(st, U, movies, f, err, sizeof err) == 0);
    cJSON_Delete(f);
}

struct writer {
    int index;
    int failures;
};

static void *writer_thread(void *arg)
{
    struct writer *w = arg;
    store *st = open_store(); /* a second handle, as a second process would */
    char conv[32], text[64], err[256];
    snprintf(conv, sizeof conv, "w%d", w->index);
    for (int t = 1; t <= 50; t++) {
        snprintf(text, sizeof text, "writer %d turn %d", w->index, t);
        struct store_message m[] = {{(uint64_t)t, "user", text, "text", 0, 0, NULL, NULL, NULL},
                                    {(uint64_t)t, "assistant", text, NULL, 0, 0, NULL, NULL, NULL}};
        if (store_commit_turn(st, U, conv, m, 2, err, sizeof err))
            w->failures++;
        if (store_memory_add(st, U, text, conv, 0, NULL, 0, NULL, err, sizeof err) < 0)
            w->failures++;
    }
    store_close(st);
    return NULL;
}

static void test_concurrent_writers(store *st)
{
    enum { N = 6 };
    pthread_t th[N];
    struct writer w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct writer){i, 0};
        pthread_create(&th[i], NULL, writer_thread, &w[i]);
    }
    int failures = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        failures += w[i].failures;
    }
    CHECK(failures == 0);
    for (int i = 0; i < N; i++) {
        char conv[32];
        snprintf(conv, sizeof conv, "w%d", i);
        cJSON *c = store_get_conversation(st, U, conv);
        CHECK(c && cJSON_GetArraySize(cJSON_GetObjectItem(c, "messages")) == 100);
        cJSON_Delete(c);
    }
}

/* Two users' data never meet: conversations, memories, tables; and
 * removing a user removes theirs and nobody else's. */
static void test_users(store *st)
{
    unsigned char ha[STORE_TOKEN_HASH_LEN], hb[STORE_TOKEN_HASH_LEN];
    memset(ha, 0xA1, sizeof ha);
    memset(hb, 0xB2, sizeof hb);
    char err[256] = "";
    int64_t ann = store_user_add(st, "ann", ha, err, sizeof err);
    int64_t bob = store_user_add(st, "bob", hb, err, sizeof err);
    CHECK(ann > 1 && bob > ann);
    CHECK(store_user_add(st, "ANN", hb, err, sizeof err) == 0); /* names are case-blind */

    struct store_message m[] = {{1, "user", "ann's secret plan", "text", 0, 0, NULL, NULL, NULL},
                                {1, "assistant", "noted", NULL, 0, 0, NULL, NULL, "k"}};
    CHECK(store_commit_turn(st, ann, "ca", m, 2, err, sizeof err) == 0);
    CHECK(store_conversation_exists(st, ann, "ca") == 1);
    CHECK(store_conversation_exists(st, bob, "ca") == 0);
    CHECK(store_get_conversation(st, bob, "ca") == NULL);
    cJSON *h = store_load_history(st, bob, "ca", 10);
    CHECK(h && cJSON_GetArraySize(h) == 0);
    cJSON_Delete(h);
    /* bob cannot append to (or correct) ann's conversation by its id */
    CHECK(store_commit_turn(st, bob, "ca", m, 2, err, sizeof err) == -1 && strstr(err, "another user"));
    CHECK(store_set_reply_text(st, bob, "ca", "k", 1, "") == 0);
    cJSON *c = store_get_conversation(st, ann, "ca");
    CHECK(c && cJSON_GetArraySize(cJSON_GetObjectItem(c, "messages")) == 2);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "messages"), 1), "content")->valuestring,
              "noted");
    cJSON_Delete(c);
    cJSON *list = store_list_conversations(st, bob, 50, 0);
    CHECK(list && cJSON_GetArraySize(list) == 0);
    cJSON_Delete(list);

    int64_t mem = store_memory_add(st, ann, "Ann's dog is called Rex", NULL, 0, NULL, 0, NULL, err, sizeof err);
    float v[3] = {1, 0, 0};
    CHECK(store_memory_add(st, ann, "Ann likes green tea", NULL, 0, v, 3, "e", err, sizeof err) > 0);
    cJSON *r = store_memory_search(st, bob, "dog Rex", NULL, 0, 5);
    CHECK(r && cJSON_GetArraySize(r) == 0);
    cJSON_Delete(r);
    r = store_memory_search(st, bob, "tea", v, 3, 5); /* the vector side too */
    CHECK(r && cJSON_GetArraySize(r) == 0);
    cJSON_Delete(r);
    r = store_memory_search(st, bob, "", NULL, 0, 50);
    CHECK(r && cJSON_GetArraySize(r) == 0);
    cJSON_Delete(r);
    r = store_memory_search(st, ann, "dog Rex", NULL, 0, 5);
    CHECK(r && cJSON_GetArraySize(r) == 1);
    cJSON_Delete(r);
    CHECK(store_memory_forget(st, bob, mem) == 0);

    /* the same title for two users: two rows, each their own */
    const struct store_table *movies = store_table_find("movies");
    cJSON *f = cJSON_Parse("{\"title\":\"Alien\",\"rating\":9}");
    cJSON *row = store_table_save(st, ann, movies, f, err, sizeof err);
    CHECK(row && !cJSON_GetObjectItem(row, "user_id"));
    cJSON_Delete(row);
    cJSON_Delete(f);
    f = cJSON_Parse("{\"title\":\"Alien\",\"rating\":2}");
    cJSON_Delete(store_table_save(st, bob, movies, f, err, sizeof err));
    cJSON *rows = store_table_list(st, ann, movies, "alien", 10);
    CHECK(rows && cJSON_GetArraySize(rows) == 1 &&
          cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "rating")->valuedouble == 9);
    cJSON_Delete(rows);
    CHECK(store_table_delete(st, bob, movies, f, err, sizeof err) == 1);
    rows = store_table_list(st, ann, movies, NULL, 10);
    CHECK(rows && cJSON_GetArraySize(rows) == 1);
    cJSON_Delete(rows);
    cJSON_Delete(f);

    /* a number past int64 for an integer column is refused, never cast
     * (found by fuzz_tool_args) */
    cJSON *huge = cJSON_Parse("{\"title\":\"Big\",\"year\":1.5e31}");
    CHECK(store_table_save(st, ann, movies, huge, err, sizeof err) == NULL && strstr(err, "year"));
    cJSON_Delete(huge);
    huge = cJSON_Parse("{\"title\":\"Big\",\"year\":\"nan\"}");
    CHECK(store_table_save(st, ann, movies, huge, err, sizeof err) == NULL && strstr(err, "year"));
    cJSON_Delete(huge);

    /* tokens, and removal */
    struct store_user users[8];
    int n = store_users_load(st, users, 8);
    CHECK(n == 3 && users[0].id == STORE_LOCAL_USER && !users[0].has_token && users[1].has_token &&
          !memcmp(users[1].token_hash, ha, sizeof ha));
    CHECK(store_user_set_token(st, "ann", hb) == 1 && store_user_set_token(st, "nobody", hb) == 0);
    n = store_users_load(st, users, 8);
    CHECK(n == 3 && !memcmp(users[1].token_hash, hb, sizeof hb));
    CHECK(store_user_remove(st, "local", err, sizeof err) == -1 && strstr(err, "local"));
    CHECK(store_user_remove(st, "ann", err, sizeof err) == 1);
    CHECK(store_user_remove(st, "ann", err, sizeof err) == 0);
    CHECK(store_conversation_exists(st, ann, "ca") == 0);
    r = store_memory_search(st, ann, "", NULL, 0, 50);
    CHECK(r && cJSON_GetArraySize(r) == 0);
    cJSON_Delete(r);
    rows = store_table_list(st, bob, movies, NULL, 10);
    CHECK(rows && cJSON_GetArraySize(rows) == 0); /* bob's was deleted above; ann's went with her */
    cJSON_Delete(rows);
    CHECK(store_users_load(st, users, 8) == 2);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/parley.db", dir);
    store *st = open_store();
    CHECK(st != NULL);
    if (!st)
        return 1;
    test_turns_and_history(st);
    test_memories(st);
    test_tables(st);
    test_concurrent_writers(st);
    test_users(st);
    store_close(st);
    /* Reopening runs no migration twice and keeps the data. */
    st = open_store();
    CHECK(st && store_schema_version(st) == 3 && store_conversation_exists(st, U, "c1") == 1);
    store_close(st);

    /* A file that is not a database is a clear error, not a crash. */
    FILE *f = fopen(path, "w");
    fputs("this is not sqlite, just text that is long enough to be a header....................", f);
    fclose(f);
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);
    struct store_params p = store_default_params();
    p.path = path;
    char err[256] = "";
    CHECK(store_open(&p, err, sizeof err) == NULL && strstr(err, "database"));
    unlink(path);
    rmdir(dir);
    return check_summary();
}
