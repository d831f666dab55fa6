/* Tool-call arguments as a model writes them: the first byte picks a
 * built-in tool (memory, tables, time), the rest is its argument text, run
 * against a real SQLite file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memory/memory.h"
#include "store/store.h"
#include "tools/tools.h"
#include "tools/tools_builtin.h"

static tools *registry;
static struct memory_params mem;

static void setup(void)
{
    char dir[] = "/tmp/parley-fuzz-XXXXXX", path[300], err[256];
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/parley.db", dir);
    struct store_params sp = store_default_params();
    sp.path = path;
    sp.max_memories = 200; /* bounded: the fuzzer saves many */
    mem.db = store_open(&sp, err, sizeof err);
    mem.embed.model = ""; /* no embedding server */
    registry = tools_new();
    if (!mem.db || !registry || !tools_add_builtins(registry, &mem))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"memory_save", "memory_search", "memory_forget", "current_time",
                                        "movies_save", "movies_list",   "movies_delete", "music_save",
                                        "music_list",  "projects_save", "projects_delete"};
    if (!registry)
        setup();
    if (size < 1)
        return 0;
    char *args = malloc(size);
    if (!args)
        return 0;
    memcpy(args, data + 1, size - 1);
    args[size - 1] = 0;
    struct tool_ctx ctx = {.conversation_id = "c-fuzz", .turn = 1, .user_id = STORE_LOCAL_USER, .timeout_ms = 1000};
    int is_error, changes;
    free(tools_call(registry, names[data[0] % (sizeof names / sizeof names[0])], args, &ctx, &is_error, &changes));
    free(args);
    return 0;
}
