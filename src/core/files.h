/* Filesystem helpers shared by the server (data_dir) and the model manager. */
#ifndef PARLEY_FILES_H
#define PARLEY_FILES_H
#include <stddef.h>

/* mkdir -p with mode 0700 for what it creates; 0, or -1 with err naming the
 * part of the path that failed (also when it exists but is not a folder). */
int files_make_dirs(const char *path, char *err, size_t errlen);

#endif
