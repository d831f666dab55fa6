/* The YAML configuration: any bytes as a config file, then the cross-key
 * checks start-up runs. */
#include <stdint.h>
#include <stdlib.h>

#include "core/config.h"
#include "defaults.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct parley_config c; /* large: not on the stack */
    char err[512];
    parley_config_defaults(&c);
    if (config_load_string(&c, (const char *)data, size, "fuzz", err, sizeof err) == 0)
        config_finish(&c, err, sizeof err);
    return 0;
}
