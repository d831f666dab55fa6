/* Mailbox: a locked singly-linked FIFO plus a wake callback. The loop takes
 * the whole list at once so the lock is held for a pointer swap, not a drain. */
#include "core/mailbox.h"

#include <pthread.h>
#include <stdlib.h>

struct mailbox {
    pthread_mutex_t lock;
    struct mail *head, *tail;
    mailbox_wake_fn wake;
    void *ud;
};

mailbox *mailbox_new(mailbox_wake_fn wake, void *ud)
{
    mailbox *mb = calloc(1, sizeof *mb);
    if (!mb)
        return NULL;
    pthread_mutex_init(&mb->lock, NULL);
    mb->wake = wake;
    mb->ud = ud;
    return mb;
}

void mailbox_free(mailbox *mb, void (*free_fn)(struct mail *m))
{
    if (!mb)
        return;
    struct mail *m = mailbox_take_all(mb);
    while (m) {
        struct mail *next = m->next;
        free_fn(m);
        m = next;
    }
    pthread_mutex_destroy(&mb->lock);
    free(mb);
}

void mailbox_post(mailbox *mb, struct mail *m)
{
    m->next = NULL;
    pthread_mutex_lock(&mb->lock);
    if (mb->tail)
        mb->tail->next = m;
    else
        mb->head = m;
    mb->tail = m;
    /* Woken under the lock, so that after mailbox_set_wake(NULL) returns
     * no thread is still about to call the old one. */
    if (mb->wake)
        mb->wake(mb->ud);
    pthread_mutex_unlock(&mb->lock);
}

void mailbox_set_wake(mailbox *mb, mailbox_wake_fn wake, void *ud)
{
    pthread_mutex_lock(&mb->lock);
    mb->wake = wake;
    mb->ud = ud;
    pthread_mutex_unlock(&mb->lock);
}

struct mail *mailbox_take_all(mailbox *mb)
{
    pthread_mutex_lock(&mb->lock);
    struct mail *m = mb->head;
    mb->head = mb->tail = NULL;
    pthread_mutex_unlock(&mb->lock);
    return m;
}
