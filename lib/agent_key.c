/*
 * agent_key — one statement for every candidate prefix at once (a text[]
 * parameter), so an ambiguous key costs one round trip, not one per split.
 * Any refusal of this statement is the server's fault: nothing in it comes
 * from the client but prefixes of a checked alphabet.
 */
#include <stdlib.h>
#include <string.h>

#include "agent_key.h"
#include "pgarray.h"

#define STR(x)	#x
#define XSTR(x)	STR(x)

static const struct db_stmt lookup = {
	"otas_lookup_keys",
	/* $1: text[] of candidate prefixes. */
	"SELECT k.id::text, k.agent_id::text, k.prefix, k.hashed_key,"
	" k.active, k.revoked_at IS NOT NULL,"
	" k.expires_at IS NOT NULL AND k.expires_at <= now(), a.is_active"
	" FROM agent_key k JOIN agent a ON a.id = k.agent_id"
	" WHERE k.prefix = ANY ($1::text[])"
	" ORDER BY k.created_at DESC LIMIT " XSTR(AGENT_KEY_MAX_ROWS),
	1, NULL
};

/* A column into a fixed array, cut to fit (ours are uuids and prefixes). */
static void
copy_field(char *dst, size_t cap, const PGresult *res, int row, int col)
{
	size_t n = (size_t)PQgetlength(res, row, col);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, PQgetvalue(res, row, col), n);
	dst[n] = '\0';
}

static int
flag(const PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col)[0] == 't';
}

/* Copies the rows out of res; -1 when out of memory (nothing kept). */
static int
copy_rows(const PGresult *res, struct agent_key_row *rows, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct agent_key_row *r = &rows[i];

		copy_field(r->id, sizeof(r->id), res, i, 0);
		copy_field(r->agent_id, sizeof(r->agent_id), res, i, 1);
		copy_field(r->prefix, sizeof(r->prefix), res, i, 2);
		if ((r->hashed_key = strdup(PQgetvalue(res, i, 3))) == NULL) {
			agent_key_rows_free(rows, i);
			return -1;
		}
		r->active = flag(res, i, 4);
		r->revoked = flag(res, i, 5);
		r->expired = flag(res, i, 6);
		r->agent_active = flag(res, i, 7);
	}
	return 0;
}

enum otas_status
agent_key_lookup(struct db *db, const struct key_parts *k,
    struct agent_key_row *rows, int *nrows, const char **why)
{
	struct pgarray prefixes = PGARRAY_INIT;
	const char *params[1];
	enum otas_status st;
	PGresult *res;
	int i, n;

	*nrows = 0;
	for (i = 0; i < k->nprefix; i++)
		if (pgarray_add(&prefixes, k->prefix[i],
		    strlen(k->prefix[i])) == -1)
			break;
	if (i < k->nprefix || (params[0] = pgarray_end(&prefixes)) == NULL) {
		pgarray_free(&prefixes);
		*why = "out of memory";
		return OTAS_ERR_SERVER;
	}
	st = db_run(db, &lookup, params, &res, NULL, why);
	pgarray_free(&prefixes);
	if (st != OTAS_OK)
		return st;
	n = PQntuples(res);
	if (n > AGENT_KEY_MAX_ROWS)
		n = AGENT_KEY_MAX_ROWS;
	if (copy_rows(res, rows, n) == -1) {
		PQclear(res);
		*why = "out of memory";
		return OTAS_ERR_SERVER;
	}
	PQclear(res);
	*nrows = n;
	return OTAS_OK;
}

void
agent_key_rows_free(struct agent_key_row *rows, int nrows)
{
	int i;

	for (i = 0; i < nrows; i++) {
		free(rows[i].hashed_key);
		rows[i].hashed_key = NULL;
	}
}
