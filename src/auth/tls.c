/* Certificates with OpenSSL. The self-signed pair is two certificates, the
 * way phones want it: an authority (CA:TRUE, installable as a trusted root)
 * and the server's own (CA:FALSE, serverAuth, the names it answers to),
 * valid 825 days, which is the longest iOS accepts. */
#include "auth/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/files.h"

#define LEAF_DAYS 825
#define CA_DAYS 825

static X509 *read_cert(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x)
        snprintf(err, errlen, "%s is not a PEM certificate", path);
    return x;
}

static int digest_text(X509 *x, char *out, size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!X509_digest(x, EVP_sha256(), md, &n) || outlen < n * 3)
        return -1;
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
    return 0;
}

int tls_fingerprint(const char *cert, char *out, size_t outlen, char *err, size_t errlen)
{
    X509 *x = read_cert(cert, err, errlen);
    if (!x)
        return -1;
    int rc = digest_text(x, out, outlen);
    if (rc)
        snprintf(err, errlen, "cannot fingerprint %s", cert);
    X509_free(x);
    return rc;
}

int tls_check_pair(const char *cert, const char *key, char *err, size_t errlen)
{
    X509 *x = read_cert(cert, err, errlen);
    if (!x)
        return -1;
    int rc = -1;
    FILE *f = fopen(key, "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!f)
        snprintf(err, errlen, "cannot read %s: %s", key, strerror(errno));
    else if (!k)
        snprintf(err, errlen, "%s is not a PEM private key (or it is encrypted)", key);
    else if (X509_check_private_key(x, k) != 1)
        snprintf(err, errlen, "the key %s does not belong to the certificate %s", key, cert);
    else if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
        snprintf(err, errlen, "the certificate %s has expired", cert);
    else
        rc = 0;
    EVP_PKEY_free(k);
    X509_free(x);
    return rc;
}

/* ---- making a pair ---- */

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = e && X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

/* A certificate for key, named cn, signed by signer (itself when NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, int days, X509 *signer, EVP_PKEY *signer_key, const char *san)
{
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    int ok = x && serial && X509_set_version(x, 2) && BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
             BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) &&
             X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
             X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) && X509_set_pubkey(x, key);
    BN_free(serial);
    X509_NAME *name = ok ? X509_get_subject_name(x) : NULL;
    ok = ok && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"parley", -1, -1, 0) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) &&
         X509_set_issuer_name(x, signer ? X509_get_subject_name(signer) : name);
    X509 *issuer = signer ? signer : x;
    if (ok && !signer)
        ok = !add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
             !add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign") &&
             !add_ext(x, issuer, NID_subject_key_identifier, "hash");
    if (ok && signer)
        ok = !add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
             !add_ext(x, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
             !add_ext(x, issuer, NID_ext_key_usage, "serverAuth") &&
             !add_ext(x, issuer, NID_subject_alt_name, san) &&
             !add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
    if (!ok || !X509_sign(x, signer_key ? signer_key : key, EVP_sha256())) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* "DNS:host,DNS:localhost,IP:127.0.0.1,IP:::1,IP:<each other address>" */
static void alt_names(char *out, size_t outlen, char *host, size_t hostlen)
{
    if (gethostname(host, hostlen) || !host[0])
        snprintf(host, hostlen, "parley");
    host[hostlen - 1] = 0;
    size_t n = (size_t)snprintf(out, outlen, "DNS:%s", host);
    if (strcmp(host, "localhost"))
        n += (size_t)snprintf(out + n, outlen - n, ",DNS:localhost");
    n += (size_t)snprintf(out + n, outlen - n, ",IP:127.0.0.1,IP:::1");
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs))
        return;
    for (struct ifaddrs *i = ifs; i && n < outlen; i = i->ifa_next) {
        if (!i->ifa_addr)
            continue;
        char a[INET6_ADDRSTRLEN] = "";
        int fam = i->ifa_addr->sa_family;
        if (fam == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a, sizeof a);
        else if (fam == AF_INET6 && !IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, a, sizeof a);
        if (!a[0] || !strncmp(a, "127.", 4) || !strcmp(a, "::1"))
            continue;
        char item[80];
        snprintf(item, sizeof item, ",IP:%s", a);
        if (!strstr(out, item) && n + strlen(item) < outlen)
            n += (size_t)snprintf(out + n, outlen - n, "%s", item);
    }
    freeifaddrs(ifs);
}

static int write_pem(const char *path, int mode, X509 *x, EVP_PKEY *k, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fchmod(fd, (mode_t)mode); /* an old file keeps its mode through O_TRUNC */
    int ok = x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    if (fclose(f) || !ok) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    return 0;
}

int tls_make_self_signed(const char *dir, struct tls_made *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char why[300];
    if (files_make_dirs(dir, why, sizeof why)) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    char host[256];
    alt_names(out->names, sizeof out->names, host, sizeof host);
    snprintf(out->cert, sizeof out->cert, "%s/parley.crt", dir);
    snprintf(out->key, sizeof out->key, "%s/parley.key", dir);
    snprintf(out->ca, sizeof out->ca, "%s/parley-ca.crt", dir);
    char ca_name[300];
    snprintf(ca_name, sizeof ca_name, "parley on %s", host);
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *key = EVP_EC_gen("P-256");
    X509 *ca = ca_key ? make_cert(ca_key, ca_name, CA_DAYS, NULL, NULL, NULL) : NULL;
    X509 *leaf = ca && key ? make_cert(key, host, LEAF_DAYS, ca, ca_key, out->names) : NULL;
    int rc = -1;
    if (!leaf)
        snprintf(err, errlen, "cannot make the certificates (OpenSSL)");
    else if (!write_pem(out->key, 0600, NULL, key, err, errlen) && !write_pem(out->cert, 0644, leaf, NULL, err, errlen) &&
             !write_pem(out->ca, 0644, ca, NULL, err, errlen) &&
             !digest_text(leaf, out->fingerprint, sizeof out->fingerprint) &&
             !digest_text(ca, out->ca_fingerprint, sizeof out->ca_fingerprint))
        rc = 0;
    X509_free(leaf);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key); /* never written: the authority can sign nothing else */
    return rc;
}
