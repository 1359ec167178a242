/*
 * start — a program's start-up, before its first request: the part every
 * program here shares, so each main is the same few lines (serve.c is what
 * follows: the accept loop).  Nothing here runs again once requests are
 * served.
 */
#include <fcgiapp.h>

#include "log.h"
#include "metrics.h"
#include "start.h"
#include "version.h"

int
start_program(const char *prog, int argc, char *argv[],
    struct otas_config *cfg, int need)
{
	char err[512];
	int rc;

	log_init(prog);
	if ((rc = version_answer(prog, argc, argv)) != 0)
		return rc;
	if (cfg != NULL &&
	    config_load(cfg, argv[0], need, err, sizeof(err)) == -1) {
		log_fail("%s", err);
		return -1;
	}
	log_start(cfg);
	metrics_open(prog, cfg, FCGX_IsCGI());
	return 0;
}
