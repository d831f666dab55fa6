/* TLS files: proving at start-up that a certificate and its key belong
 * together (a clear error instead of a failed handshake later), and making
 * a certificate for a home network, so phones get a secure context and
 * with it the microphone. */
#ifndef PARLEY_TLS_H
#define PARLEY_TLS_H
#include <stddef.h>

/* 0 when cert (PEM) and key (PEM) can be read and match; else -1 with err
 * naming the file and what is wrong. */
int tls_check_pair(const char *cert, const char *key, char *err, size_t errlen);
/* "AB:CD:…" (SHA-256 of the certificate in cert), or -1 with err. */
int tls_fingerprint(const char *cert, char *out, size_t outlen, char *err, size_t errlen);

struct tls_made {
    char cert[1100], key[1100], ca[1100]; /* the paths written */
    char names[1024];                     /* the subject alternative names */
    char fingerprint[100], ca_fingerprint[100];
};
/* Writes dir/parley.crt and dir/parley.key (the server's), signed by a
 * one-off authority written to dir/parley-ca.crt (what a phone installs;
 * its key is thrown away, so it can vouch for nothing else). The names are
 * the host name, localhost, 127.0.0.1, ::1 and the machine's other
 * addresses. Returns 0, or -1 with err. */
int tls_make_self_signed(const char *dir, struct tls_made *out, char *err, size_t errlen);

#endif
