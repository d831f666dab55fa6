/* The session's side of the conversation store: resuming a conversation,
 * recalling memories before the LLM request, and committing each turn when
 * it ends (done or interrupted). The database work runs on the I/O pool and
 * the single writer thread (so a turn's later correction lands after it);
 * answers come back as mail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "session/session_internal.h"

/* ---- resume ---- */

struct resume_job {
    store *db;
    int64_t user_id;
    mailbox *mail;
    uint64_t session_id;
    char conversation_id[64];
    int max;
};

static void resume_run(void *arg)
{
    struct resume_job *j = arg;
    struct session_mail *m = session_mail_new(j->session_id, MAIL_HISTORY, 0, j->conversation_id,
                                              strlen(j->conversation_id));
    if (m) {
        int exists = store_conversation_exists(j->db, j->user_id, j->conversation_id);
        m->status = exists;
        m->json = exists == 1 ? store_load_history(j->db, j->user_id, j->conversation_id, j->max) : NULL;
        if (exists == 1 && !m->json)
            m->status = -1;
        mailbox_post(j->mail, &m->node);
    }
    free(j);
}

void persist_resume(session *s, const char *conversation_id)
{
    struct resume_job *j = s->env->db ? calloc(1, sizeof *j) : NULL;
    if (!j) {
        session_send_error(s, ERR_STORE_FAIL, "conversations are not stored (data_dir is empty); starting a new one", 1);
        session_send_ready(s);
        return;
    }
    *j = (struct resume_job){s->env->db, s->user.id, s->env->mail, s->id, "", HISTORY_MAX_MESSAGES};
    snprintf(j->conversation_id, sizeof j->conversation_id, "%s", conversation_id);
    s->resuming = 1;
    /* On the writer's queue: it reads after every write already queued, so
     * a turn stored as the previous connection closed is there. */
    if (workers_submit(s->env->writer, resume_run, j)) {
        free(j);
        s->resuming = 0;
        session_send_error(s, ERR_STORE_FAIL, "the server is busy; starting a new conversation", 1);
        session_send_ready(s);
    }
}

void persist_on_history(session *s, struct session_mail *m)
{
    if (!s->resuming)
        return;
    s->resuming = 0;
    if (m->status == 1) {
        snprintf(s->conversation_id, sizeof s->conversation_id, "%s", m->text);
        const cJSON *msg;
        cJSON_ArrayForEach(msg, m->json)
        {
            const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
            const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
            if (cJSON_IsString(role) && cJSON_IsString(content))
                history_add(s->hist, role->valuestring, content->valuestring, 0);
        }
    } else {
        char msg[200];
        snprintf(msg, sizeof msg, m->status == 0 ? "no conversation '%.64s'; starting a new one"
                                                 : "conversation '%.64s' could not be read; starting a new one",
                 m->text ? m->text : "");
        session_send_error(s, m->status == 0 ? ERR_NOT_FOUND : ERR_STORE_FAIL, msg, 1);
    }
    session_send_ready(s);
    char *text = s->text_before_ready;
    s->text_before_ready = NULL;
    if (text) /* typed while the history loaded: now it follows it */
        session_submit_text(s, text, 0);
    free(text);
}

/* ---- recall ---- */

struct recall_job {
    const struct memory_params *mem;
    int64_t user_id;
    mailbox *mail;
    uint64_t session_id, ticket;
    int limit;
    char *query;
};

static void recall_run(void *arg)
{
    struct recall_job *j = arg;
    char warning[300];
    cJSON *found = memory_recall(j->mem, j->user_id, j->query, j->limit, warning, sizeof warning);
    if (warning[0])
        log_warn("memory: %s", warning);
    char *block = memory_context_block(found);
    struct session_mail *m = session_mail_new(j->session_id, MAIL_RECALL, j->ticket, NULL, 0);
    if (m) {
        m->text = block;
        mailbox_post(j->mail, &m->node);
    } else {
        free(block);
    }
    cJSON_Delete(found);
    free(j->query);
    free(j);
}

int persist_recall(session *s)
{
    const struct reply *r = &s->reply;
    if (!s->env->mem || !s->cfg->memory_enabled || !r->user_text)
        return -1;
    struct recall_job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    *j = (struct recall_job){s->env->mem, s->user.id, s->env->mail, s->id, r->ticket, s->cfg->memory_top_k, strdup(r->user_text)};
    if (!j->query || workers_submit(s->env->io, recall_run, j)) {
        free(j->query);
        free(j);
        return -1; /* answer without memories rather than not at all */
    }
    return 0;
}

/* ---- commit ---- */

#define MAX_TURN_MESSAGES (2 + LLM_MAX_TOOL_CALLS * 4)

struct commit_job {
    store *db;
    mailbox *mail;       /* a failure is told to the session */
    uint64_t session_id;
    int64_t user_id;
    char reply_key[20];
    char conversation_id[64];
    struct store_message msgs[MAX_TURN_MESSAGES];
    char *texts[MAX_TURN_MESSAGES * 3]; /* owned copies behind msgs */
    int n, ntexts;
    uint64_t turn;
    char *reply; /* persist_update_reply: the corrected text */
};

static const char *keep(struct commit_job *j, const char *text)
{
    if (!text || j->ntexts == (int)(sizeof j->texts / sizeof j->texts[0]))
        return NULL;
    return j->texts[j->ntexts++] = strdup(text);
}

static void commit_job_free(struct commit_job *j)
{
    for (int i = 0; i < j->ntexts; i++)
        free(j->texts[i]);
    free(j->reply);
    free(j);
}

static void commit_run(void *arg)
{
    struct commit_job *j = arg;
    char err[300] = "";
    if (j->reply) {
        if (store_set_reply_text(j->db, j->user_id, j->conversation_id, j->reply_key, j->turn, j->reply))
            log_warn("store: cannot correct the reply of turn %llu", (unsigned long long)j->turn);
    } else if (store_commit_turn(j->db, j->user_id, j->conversation_id, j->msgs, j->n, err, sizeof err)) {
        log_error("store: %s", err);
        /* the user is told (a full disk, a broken file); the session goes
         * on, and what was stored before stays (the transaction rolled back) */
        struct session_mail *m = session_mail_new(j->session_id, MAIL_STORE_FAILED, j->turn, err, strlen(err));
        if (m)
            mailbox_post(j->mail, &m->node);
    }
    commit_job_free(j);
}

/* A write job for this session's conversation (NULL when nothing is stored). */
static struct commit_job *commit_job_new(session *s)
{
    struct commit_job *j = s->env->db ? calloc(1, sizeof *j) : NULL;
    if (!j)
        return NULL;
    j->db = s->env->db;
    j->mail = s->env->mail;
    j->session_id = s->id;
    j->user_id = s->user.id;
    snprintf(j->reply_key, sizeof j->reply_key, "%s", s->reply_key);
    snprintf(j->conversation_id, sizeof j->conversation_id, "%s", s->conversation_id);
    return j;
}

static void submit_write(session *s, struct commit_job *j)
{
    if (workers_submit(s->env->writer, commit_run, j)) {
        session_send_error(s, ERR_STORE_FAIL, "the database is not keeping up; this turn was not stored", 1);
        commit_job_free(j);
    }
}

void persist_commit_turn(session *s, const struct reply *r, const char *assistant_text, int interrupted)
{
    struct commit_job *j = r->user_text ? commit_job_new(s) : NULL;
    if (!j)
        return;
    j->turn = r->turn;
    char metrics[1024];
    session_metrics_json(&r->marks, metrics, sizeof metrics);
    j->msgs[j->n++] = (struct store_message){.turn = r->turn,
                                             .role = "user",
                                             .content = keep(j, r->user_text),
                                             .input = r->marks.spoken ? "speech" : "text",
                                             .created_ms = r->user_ms,
                                             .metrics = keep(j, metrics)};
    /* Tool calls are part of the record: what was changed, and why. */
    const cJSON *call;
    cJSON_ArrayForEach(call, r->tool_log)
    {
        if (j->n >= MAX_TURN_MESSAGES - 1)
            break;
        char *text = cJSON_PrintUnformatted(call);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(call, "name");
        j->msgs[j->n++] = (struct store_message){.turn = r->turn,
                                                 .role = "tool",
                                                 .content = keep(j, text ? text : "{}"),
                                                 .created_ms = r->user_ms + 1,
                                                 .tool = keep(j, cJSON_IsString(name) ? name->valuestring : "?")};
        free(text);
    }
    if (assistant_text && assistant_text[0])
        j->msgs[j->n++] = (struct store_message){.turn = r->turn,
                                                 .role = "assistant",
                                                 .content = keep(j, assistant_text),
                                                 .interrupted = interrupted,
                                                 .created_ms = r->user_ms + 2,
                                                 .reply_key = j->reply_key};
    submit_write(s, j);
}

void persist_update_reply(session *s, uint64_t turn, const char *text)
{
    struct commit_job *j = commit_job_new(s);
    if (!j)
        return;
    j->turn = turn;
    j->reply = strdup(text);
    if (!j->reply) {
        commit_job_free(j);
        return;
    }
    submit_write(s, j);
}
