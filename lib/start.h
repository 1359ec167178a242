/*
 * start — what every program here does once, before serve() takes its
 * first request.
 */
#ifndef OTAS_START_H
#define OTAS_START_H

#include "config.h"

/*
 * What every program does before its first request: names itself in the
 * log, answers --version, reads its settings (config_load with need; cfg
 * NULL for a program that has none), logs the first line and joins the
 * pool's metrics (metrics.h).  Returns 0 to go on; 1 when the program is
 * done (it answered --version: exit 0); -1 when it cannot start (the
 * reason logged: exit 1).
 */
int	start_program(const char *prog, int argc, char *argv[],
	    struct otas_config *cfg, int need);

#endif
