/* The one way results get from worker and LLM threads back to the network
 * thread: post a message, and the loop is woken to drain it. */
#ifndef PARLEY_MAILBOX_H
#define PARLEY_MAILBOX_H

/* Embed as the first member of any message type. */
struct mail {
    struct mail *next;
};

typedef struct mailbox mailbox;
typedef void (*mailbox_wake_fn)(void *ud);

mailbox *mailbox_new(mailbox_wake_fn wake, void *ud);
/* Frees undelivered messages with free_fn. */
void mailbox_free(mailbox *mb, void (*free_fn)(struct mail *m));
/* Thread-safe; wakes the loop. */
void mailbox_post(mailbox *mb, struct mail *m);
/* Replaces the wake callback (NULL: none); no call of the old one follows. */
void mailbox_set_wake(mailbox *mb, mailbox_wake_fn wake, void *ud);
/* Takes every pending message in posting order (a list linked by next). */
struct mail *mailbox_take_all(mailbox *mb);

#endif
