/*
 * schema — one statement and its answer read as a whole number: the text
 * PostgreSQL returns goes through decimal.c like any text from outside.
 */
#include <limits.h>

#include "db.h"
#include "decimal.h"
#include "schema.h"

static const struct db_stmt version_stmt = {
	"otas_schema_version",
	"SELECT coalesce(max(version), 0)::text FROM otas_schema_migrations",
	0, NULL
};

enum otas_status
schema_version(void *db, long *version, const char **why)
{
	enum otas_status st;
	PGresult *res;
	int bad;

	st = db_run(db, &version_stmt, NULL, &res, NULL, why);
	if (st != OTAS_OK)
		return st;
	bad = PQntuples(res) != 1 ||
	    decimal_long(PQgetvalue(res, 0, 0), 0, LONG_MAX, version) == -1;
	PQclear(res);
	if (bad) {
		*why = "schema version unreadable";
		return OTAS_ERR_SERVER;
	}
	return OTAS_OK;
}
