/*
 * schema — which migration the database is at: the question behind the
 * readiness check (health.h), asked through db.c.
 */
#ifndef OTAS_SCHEMA_H
#define OTAS_SCHEMA_H

#include "status.h"

/*
 * The newest migration in otas_schema_migrations, 0 for none, into
 * *version: OTAS_OK, or the status of db_run (OTAS_ERR_UNAVAILABLE, ...)
 * or OTAS_ERR_SERVER for an answer that is not one number, with *why, a
 * static string.  db: the process's struct db (void * so it fits
 * health_ask_fn).
 */
enum otas_status schema_version(void *db, long *version, const char **why);

#endif
