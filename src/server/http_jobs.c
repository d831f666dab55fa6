/* The HTTP API's work off the network thread: database reads and deletes
 * (conversations, memories), the live LLM probe of /health, and a voice
 * upload's one decode, run on the I/O pools; each answer comes back to the
 * network thread as mail (MAIL_HTTP_DONE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audio.h"
#include "server/http_internal.h"
#include "protocol/protocol.h"

static void post_answer(struct http_job *j, int status, cJSON *json)
{
    struct session_mail *m = session_mail_new(j->req_id, MAIL_HTTP_DONE, 0, NULL, 0);
    if (!m) {
        cJSON_Delete(json);
        return;
    }
    m->status = status;
    m->json = json;
    mailbox_post(j->srv->env.mail, &m->node);
}

static void job_run(void *arg)
{
    struct http_job *j = arg;
    store *db = j->srv->env.db;
    switch (j->route) {
    case R_CONVERSATIONS: {
        cJSON *list = store_list_conversations(db, j->user_id, j->limit, j->offset);
        if (!list) {
            post_answer(j, 500, http_error_json("STORE_FAIL", "the conversations could not be read"));
            break;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "conversations", list);
        post_answer(j, 200, o);
        break;
    }
    case R_CONVERSATION: {
        cJSON *c = store_get_conversation(db, j->user_id, j->arg);
        int missing = !c && store_conversation_exists(db, j->user_id, j->arg) == 0;
        if (c)
            post_answer(j, 200, c);
        else
            post_answer(j, missing ? 404 : 500,
                        http_error_json(missing ? "NOT_FOUND" : "STORE_FAIL",
                                   missing ? "no such conversation" : "the conversation could not be read"));
        break;
    }
    case R_MEMORIES: {
        char warning[300] = "";
        cJSON *found = memory_recall(j->srv->env.mem, j->user_id, j->query, j->limit, warning, sizeof warning);
        if (!found) {
            post_answer(j, 500, http_error_json("STORE_FAIL", "the memories could not be read"));
            break;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "memories", found);
        if (warning[0])
            cJSON_AddStringToObject(o, "warning", warning);
        post_answer(j, 200, o);
        break;
    }
    case R_MEMORY: {
        char *end;
        long long id = strtoll(j->arg, &end, 10);
        int rc = *end || end == j->arg || id <= 0 ? 0 : store_memory_forget(db, j->user_id, id);
        if (rc == 1) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "deleted", (double)id);
            post_answer(j, 200, o);
        } else {
            post_answer(j, rc == 0 ? 404 : 500, http_error_json(rc == 0 ? "NOT_FOUND" : "STORE_FAIL", "no such memory"));
        }
        break;
    }
    case R_HEALTH: {
        /* A live check, shared with the watch (the page's banner follows it). */
        const struct parley_config *cfg = j->srv->cfg;
        struct llm_params lp = server_llm_params(cfg);
        struct llm_check c;
        llm_check_run(&lp, HEALTH_LLM_TIMEOUT_MS, &c);
        if (j->srv->env.llm_watch)
            llm_watch_report(j->srv->env.llm_watch, &c);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "llm_reachable", c.reachable);
        if (c.problem[0])
            cJSON_AddStringToObject(o, "llm_error", c.problem);
        cJSON *llm = proto_llm_object(&c, cfg->llm_model);
        cJSON_AddStringToObject(llm, "provider", cfg->llm_provider);
        cJSON_AddStringToObject(llm, "url", cfg->llm_url);
        cJSON_AddItemToObject(o, "llm", llm);
        post_answer(j, 200, o);
        break;
    }
    case R_UPLOAD: {
        /* The clip to 16 kHz mono, then one decode. */
        struct pcm_buf pcm = {0}, pcm16 = {0};
        char err[256] = "";
        int ok;
        if (j->body_len >= 12 && !memcmp(j->body, "RIFF", 4)) {
            ok = wav_parse(j->body, j->body_len, &pcm, err, sizeof err) == 0;
        } else {
            ok = pcm_append(&pcm, (const int16_t *)j->body, j->body_len / 2) == 0;
            pcm.sample_rate = j->rate;
        }
        if (ok && pcm.len == 0) {
            snprintf(err, sizeof err, "the clip holds no audio");
            ok = 0;
        }
        if (ok && pcm.len / (size_t)pcm.sample_rate > UPLOAD_MAX_S) {
            snprintf(err, sizeof err, "the clip is %zu s long; uploads are limited to %d s", pcm.len / (size_t)pcm.sample_rate,
                     UPLOAD_MAX_S);
            ok = 0;
        }
        if (ok && pcm_resample(pcm.samples, pcm.len, pcm.sample_rate, 16000, &pcm16)) {
            snprintf(err, sizeof err, "cannot resample from %d Hz", pcm.sample_rate);
            ok = 0;
        }
        if (!ok) {
            post_answer(j, 400, http_error_json("BAD_AUDIO", err));
        } else {
            char text[4096], aerr[256] = "";
            if (asr_transcribe(j->srv->env.asr, pcm16.samples, pcm16.len, text, sizeof text, aerr, sizeof aerr)) {
                post_answer(j, 500, http_error_json("ASR_FAIL", aerr));
            } else {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "transcript", text);
                post_answer(j, 200, o);
            }
        }
        pcm_free(&pcm);
        pcm_free(&pcm16);
        break;
    }
    default: break;
    }
    free(j->body);
    free(j);
}

void http_job_submit(struct http_req *r, struct http_job *j)
{
    j->srv = r->srv;
    j->user_id = r->user.id;
    j->req_id = r->id;
    j->route = r->route;
    snprintf(j->arg, sizeof j->arg, "%s", r->arg);
    /* Conversations are read on the writer's queue, behind every turn
     * already queued for storing: a client that just got a turn's answer
     * reads that turn (it was queued before the answer went out). */
    int ordered = j->route == R_CONVERSATION || j->route == R_CONVERSATIONS;
    if (workers_submit(ordered ? r->srv->env.writer : r->srv->env.io, job_run, j)) {
        free(j->body);
        free(j);
        http_respond_error(r, 503, "BUSY", "the server is too busy; try again");
    }
}
