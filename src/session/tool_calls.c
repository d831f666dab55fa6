/* Tool calls inside a spoken turn. When an LLM round ends asking for tools,
 * each call is announced (tool_call), run on the I/O pool with a deadline,
 * answered (tool_result), and the LLM is asked again with the results; what
 * was already spoken stays spoken. A barge-in ends the reply, so results that
 * come back for an old turn are dropped like any stale mail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "session/session_internal.h"

/* The session's deadline decides (a TOOL_FAIL and an error result); the
 * job's own limit only frees its worker a little later. */
#define TOOL_JOB_GRACE_MS 1000

struct tool_job {
    tools *registry;
    struct turn_gate *gate;
    mailbox *mail;
    uint64_t session_id, turn, ticket; /* turn: the client's; ticket: the reply's (stale check) */
    char *id, *name, *arguments;
    char conversation_id[64];
    int timeout_ms;
    int64_t user_id;
};

static int job_cancelled(void *ud)
{
    struct tool_job *j = ud;
    return atomic_load(&j->gate->current) != j->ticket;
}

static void tool_job_free(struct tool_job *j)
{
    gate_release(j->gate);
    free(j->id);
    free(j->name);
    free(j->arguments);
    free(j);
}

static void tool_job_run(void *arg)
{
    struct tool_job *j = arg;
    if (!job_cancelled(j)) {
        struct tool_ctx ctx = {.conversation_id = j->conversation_id,
                               .turn = j->turn,
                               .user_id = j->user_id,
                               .cancelled = job_cancelled,
                               .cancelled_ud = j,
                               .timeout_ms = j->timeout_ms};
        int is_error = 0, changes = 0;
        char *result = tools_call(j->registry, j->name, j->arguments, &ctx, &is_error, &changes);
        struct session_mail *m = session_mail_new(j->session_id, MAIL_TOOL_RESULT, j->ticket, NULL, 0);
        if (m) {
            m->json = cJSON_CreateObject();
            cJSON_AddStringToObject(m->json, "id", j->id);
            cJSON_AddStringToObject(m->json, "name", j->name);
            cJSON_AddNumberToObject(m->json, "turn", (double)j->turn);
            cJSON_AddStringToObject(m->json, "result", result ? result : "");
            cJSON_AddBoolToObject(m->json, "is_error", is_error);
            cJSON_AddBoolToObject(m->json, "changes_data", changes);
            mailbox_post(j->mail, &m->node);
        }
        free(result);
    }
    tool_job_free(j);
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Records a call's answer: for the client, the continuation and the store. */
static void answer(session *s, cJSON *call, const char *result, int is_error, int changes_data)
{
    struct reply *r = &s->reply;
    cJSON_ReplaceItemInObjectCaseSensitive(call, "done", cJSON_CreateTrue());
    r->tools_running--;
    metrics_tool_call(s->env->metrics, is_error);
    struct proto_event ev = {.kind = EV_TOOL_RESULT,
                             .turn = r->turn,
                             .tool_id = str(call, "id"),
                             .tool_name = str(call, "name"),
                             .text = result,
                             .is_error = is_error};
    session_emit(s, &ev, OUT_CONTROL, 0);
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "role", "tool");
    cJSON_AddStringToObject(msg, "content", result);
    cJSON_AddStringToObject(msg, "tool_call_id", str(call, "id"));
    cJSON_AddStringToObject(msg, "tool_name", str(call, "name"));
    cJSON_AddItemToArray(r->tool_msgs, msg);
    if (changes_data || is_error) {
        if (!r->tool_log)
            r->tool_log = cJSON_CreateArray();
        cJSON *entry = cJSON_CreateObject();
        cJSON_AddStringToObject(entry, "name", str(call, "name"));
        cJSON *args = cJSON_Parse(str(call, "arguments"));
        cJSON_AddItemToObject(entry, "arguments", args ? args : cJSON_CreateString(str(call, "arguments")));
        cJSON *res = cJSON_Parse(result);
        cJSON_AddItemToObject(entry, "result", res ? res : cJSON_CreateString(result));
        cJSON_AddBoolToObject(entry, "is_error", is_error);
        cJSON_AddItemToArray(r->tool_log, entry);
    }
    if (r->tools_running == 0) {
        cJSON_Delete(r->round_calls);
        r->round_calls = NULL;
        r->tool_deadline = 0;
        r->tool_rounds++;
        session_request_llm(s); /* the model reads the results and goes on */
    }
}

/* 1 when name is one of the client's own tools (session_set_client_tools). */
static int client_tool(const session *s, const char *name)
{
    if (!s->client_tools)
        return 0;
    cJSON *defs = cJSON_Parse(s->client_tools), *d;
    int found = 0;
    cJSON_ArrayForEach(d, defs)
    {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(d, "function");
        found |= !strcmp(str(fn, "name"), name);
    }
    cJSON_Delete(defs);
    return found;
}

char *tool_calls_definitions(const session *s)
{
    char *own = s->env->tools && s->cfg->tools_enabled ? tools_definitions(s->env->tools) : NULL;
    if (!s->client_tools)
        return own;
    cJSON *all = own ? cJSON_Parse(own) : cJSON_CreateArray();
    cJSON *theirs = cJSON_Parse(s->client_tools);
    free(own);
    while (theirs && theirs->child && all)
        cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(theirs, theirs->child));
    cJSON_Delete(theirs);
    char *out = all && cJSON_GetArraySize(all) ? cJSON_PrintUnformatted(all) : NULL;
    cJSON_Delete(all);
    return out;
}

int session_set_client_tools(session *s, const char *definitions_json)
{
    free(s->client_tools);
    s->client_tools = definitions_json ? strdup(definitions_json) : NULL;
    return definitions_json && !s->client_tools ? -1 : 0;
}

int session_client_tool_result(session *s, const char *call_id, const char *output)
{
    struct reply *r = &s->reply;
    cJSON *call;
    cJSON_ArrayForEach(call, r->round_calls)
    {
        if (!strcmp(str(call, "id"), call_id) && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(call, "done")) &&
            client_tool(s, str(call, "name"))) {
            answer(s, call, output, 0, 0);
            return 0;
        }
    }
    return -1;
}

int tool_calls_start(session *s)
{
    struct reply *r = &s->reply;
    if ((!s->env->tools || !s->cfg->tools_enabled) && !s->client_tools)
        return -1;
    if (r->tool_rounds >= s->cfg->tools_max_rounds) {
        char msg[120];
        snprintf(msg, sizeof msg, "the model asked for tools after %d rounds; the reply ends here",
                 s->cfg->tools_max_rounds);
        session_send_error(s, ERR_TOOL_FAIL, msg, 1);
        return -1;
    }
    /* The assistant message that asked, as the continuation must show it. */
    if (!r->tool_msgs)
        r->tool_msgs = cJSON_CreateArray();
    cJSON *ask = cJSON_CreateObject(), *calls = cJSON_CreateArray();
    cJSON_AddStringToObject(ask, "role", "assistant");
    char *said = strndup(r->text ? r->text + r->round_start : "", r->text_len - r->round_start);
    cJSON_AddStringToObject(ask, "content", said ? said : "");
    free(said);
    cJSON *call;
    cJSON_ArrayForEach(call, r->round_calls)
    {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "id", str(call, "id"));
        cJSON_AddStringToObject(c, "name", str(call, "name"));
        cJSON *args = cJSON_Parse(str(call, "arguments"));
        cJSON_AddItemToObject(c, "arguments", cJSON_IsObject(args) ? args : (cJSON_Delete(args), cJSON_CreateObject()));
        cJSON_AddItemToArray(calls, c);
    }
    char *calls_text = cJSON_PrintUnformatted(calls);
    cJSON_Delete(calls);
    cJSON_AddStringToObject(ask, "tool_calls", calls_text ? calls_text : "[]");
    free(calls_text);
    cJSON_AddItemToArray(r->tool_msgs, ask);

    session_flush_phrases(s); /* "Let me check." is spoken while the tool runs */
    r->tool_deadline = session_now(s) + (int64_t)s->cfg->tools_timeout_ms * 1000;
    r->tools_running = cJSON_GetArraySize(r->round_calls);
    cJSON_ArrayForEach(call, r->round_calls)
    {
        cJSON_AddBoolToObject(call, "done", 0);
        struct proto_event ev = {.kind = EV_TOOL_CALL,
                                 .turn = r->turn,
                                 .tool_id = str(call, "id"),
                                 .tool_name = str(call, "name"),
                                 .arguments = str(call, "arguments")};
        session_emit(s, &ev, OUT_CONTROL, 0);
    }
    /* Submitted after every announcement: a quick result must not overtake them. */
    cJSON_ArrayForEach(call, r->round_calls)
    {
        if (client_tool(s, str(call, "name")))
            continue; /* the client runs it: session_client_tool_result answers */
        if (!s->env->tools) {
            answer(s, call, "{\"error\":\"no such tool\"}", 1, 0);
            if (!r->round_calls)
                return 0;
            continue;
        }
        struct tool_job *j = calloc(1, sizeof *j);
        if (j) {
            *j = (struct tool_job){s->env->tools, s->gate, s->env->mail, s->id, r->turn, r->ticket,
                                   strdup(str(call, "id")), strdup(str(call, "name")), strdup(str(call, "arguments")),
                                   "", s->cfg->tools_timeout_ms + TOOL_JOB_GRACE_MS, s->user.id};
            snprintf(j->conversation_id, sizeof j->conversation_id, "%s", s->conversation_id);
            atomic_fetch_add(&s->gate->refs, 1);
        }
        if (!j || !j->id || !j->name || !j->arguments || workers_submit(s->env->io, tool_job_run, j)) {
            if (j)
                tool_job_free(j);
            answer(s, call, "{\"error\":\"the server is too busy to run this tool\"}", 1, 0);
            if (!r->round_calls)
                return 0; /* that was the last one: the next round has started */
        }
    }
    session_arm_timer(s); /* for the deadline */
    return 0;
}

void tool_calls_on_result(session *s, struct session_mail *m)
{
    struct reply *r = &s->reply;
    if (!r->round_calls || !m->json) { /* the deadline got there first */
        log_info("session %s: the result of %s for turn %llu came after its deadline: dropped", s->sid,
                 m->json ? str(m->json, "name") : "a tool", (unsigned long long)r->turn);
        return;
    }
    const char *id = str(m->json, "id");
    cJSON *call;
    cJSON_ArrayForEach(call, r->round_calls)
    {
        if (strcmp(str(call, "id"), id) || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(call, "done")))
            continue;
        answer(s, call, str(m->json, "result"), cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m->json, "is_error")),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m->json, "changes_data")));
        return;
    }
}

void tool_calls_on_timer(session *s)
{
    struct reply *r = &s->reply;
    char msg[160];
    snprintf(msg, sizeof msg, "{\"error\":\"no result within %d ms\"}", s->cfg->tools_timeout_ms);
    cJSON *calls = r->round_calls, *call;
    /* answer() may start the next round, which frees round_calls: walk a
     * list of the ids still open instead. */
    char ids[LLM_MAX_TOOL_CALLS][80];
    int n = 0;
    cJSON_ArrayForEach(call, calls)
    {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(call, "done")) && n < LLM_MAX_TOOL_CALLS)
            snprintf(ids[n++], sizeof ids[0], "%s", str(call, "id"));
    }
    for (int i = 0; i < n && r->round_calls; i++) {
        cJSON_ArrayForEach(call, r->round_calls)
        {
            if (!strcmp(str(call, "id"), ids[i])) {
                session_send_error(s, ERR_TOOL_FAIL, "a tool call timed out", 1);
                answer(s, call, msg, 1, 0);
                break;
            }
        }
    }
}

int tool_calls_context(const struct reply *r, struct llm_message *msgs, int max)
{
    int n = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, r->tool_msgs)
    {
        if (n == max)
            break;
        const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
        msgs[n++] = (struct llm_message){
            .role = str(m, "role"),
            .content = str(m, "content"),
            .tool_calls = cJSON_IsString(calls) ? calls->valuestring : NULL,
            .tool_call_id = cJSON_GetObjectItemCaseSensitive(m, "tool_call_id") ? str(m, "tool_call_id") : NULL,
            .tool_name = cJSON_GetObjectItemCaseSensitive(m, "tool_name") ? str(m, "tool_name") : NULL,
        };
    }
    return n;
}
