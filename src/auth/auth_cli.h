/* The command line's user and certificate commands (main.c dispatches). */
#ifndef PARLEY_AUTH_CLI_H
#define PARLEY_AUTH_CLI_H
#include <stdio.h>

#define auth_cli_users_usage                                                                                   \
    "Usage: parley users list\n"                                                                               \
    "       parley users add NAME      add a user; their token is the last line printed (shown once)\n"       \
    "       parley users token NAME    a new token for NAME; the old one stops working\n"                      \
    "       parley users remove NAME   remove NAME with their conversations, memories and tables\n"            \
    "\n"                                                                                                       \
    "Works on the data dir serve uses (data_dir, PARLEY_DATA_DIR), also while it runs;\n"                      \
    "a running server notices within a second. Tokens are needed when auth is on\n"                           \
    "(auth.mode, PARLEY_AUTH: auto = on unless listening on a loopback address).\n"

#define auth_cli_tls_usage                                                                                     \
    "Usage: parley tls self-signed DIR\n"                                                                      \
    "\n"                                                                                                       \
    "Writes DIR/parley.crt and DIR/parley.key for tls.cert and tls.key, for this machine's\n"                 \
    "names and addresses, and DIR/parley-ca.crt for phones to trust (docs/phone.md).\n"

/* Each returns the process's exit status: 0, 1 (failed), 2 (usage). */
int auth_cli_users(const char *data_dir, const char *sub, const char *name, FILE *out, FILE *err);
int auth_cli_tls(const char *sub, const char *dir, FILE *out, FILE *err);

#endif
