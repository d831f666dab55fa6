/* The whole configuration's defaults: the configuration's own keys, then
 * each module's, taken from its *_default_params() so that a default is
 * written once, in the module that owns it. */
#ifndef PARLEY_DEFAULTS_H
#define PARLEY_DEFAULTS_H
#include "core/config.h"

void parley_config_defaults(struct parley_config *cfg);

#endif
