/* Registers the built-in tools. Their state (which table each tool serves)
 * lives in the returned handle, which must outlive the registry's use. */
#ifndef PARLEY_TOOLS_BUILTIN_H
#define PARLEY_TOOLS_BUILTIN_H
#include "memory/memory.h"
#include "tools/tools.h"

typedef struct builtins builtins;
/* mem NULL (no database): only current_time. mem must outlive the tools. */
builtins *tools_add_builtins(tools *t, const struct memory_params *mem);
void tools_builtins_free(builtins *b);

#endif
