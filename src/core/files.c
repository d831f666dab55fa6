/* See files.h. */
#include "core/files.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int files_make_dirs(const char *path, char *err, size_t errlen)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0700) && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", buf, strerror(errno));
            return -1;
        }
        struct stat st;
        if (stat(buf, &st) || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "cannot create %s: it is not a directory", buf);
            return -1;
        }
        if (!c)
            return 0;
        *p = c;
    }
}
