/* Allocation-failure injection, SQLite-style: arm a countdown, run a
 * workload, and the Nth allocation from then on returns NULL (once). A test
 * raises N until the workload runs without reaching it: every allocation of
 * the workload has then failed once, and each failure was survived (no
 * crash; under ASan, no leak and no bad access). The test executable is
 * linked with -Wl,--wrap for malloc, calloc, realloc, strdup and strndup
 * (parley's own code), and cJSON and SQLite are pointed at the same
 * allocator. */
#ifndef PARLEY_FAULT_H
#define PARLEY_FAULT_H
#include <stddef.h>

/* Installs the hooks (cJSON, SQLite); call first thing in main. */
void fault_init(void);
/* The nth allocation from now fails (0: none). */
void fault_countdown(long n);
/* 1 if the armed failure happened since the last fault_countdown. */
int fault_fired(void);
/* Allocations since fault_init (to size a loop). */
long fault_allocations(void);

#endif
