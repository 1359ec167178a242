/*
 * status — HTTP status and client-visible code of every outcome, in one
 * table (the PostgreSQL errcodes.txt idea): nothing else spells them.
 */
#include "status.h"

static const struct otas_status_info table[OTAS_STATUS_COUNT] = {
	[OTAS_CREATED]		= { 200, "OK", "agent_session_created" },
	[OTAS_ALLOWED]		= { 200, "OK", "ok" },
	[OTAS_ERR_METHOD]	= { 405, "Method Not Allowed", "method_not_allowed" },
	[OTAS_ERR_KEY]		= { 401, "Unauthorized", "invalid_agent_key" },
	[OTAS_ERR_TOO_LARGE]	= { 413, "Payload Too Large", "payload_too_large" },
	[OTAS_ERR_JSON]		= { 400, "Bad Request", "invalid_json" },
	[OTAS_ERR_META]		= { 400, "Bad Request", "invalid_meta" },
	[OTAS_ERR_UNAVAILABLE]	= { 503, "Service Unavailable", "service_unavailable" },
	[OTAS_ERR_SERVER]	= { 500, "Internal Server Error", "server_error" },
	[OTAS_ERR_TOKEN]	= { 401, "Unauthorized", "invalid_session_token" },
	[OTAS_ERR_IDEM_KEY]	= { 400, "Bad Request", "invalid_idempotency_key" },
	[OTAS_ERR_IDEM_IN_FLIGHT] = { 409, "Conflict", "idempotency_key_in_flight" },
	[OTAS_ERR_IDEM_REUSED]	= { 422, "Unprocessable Content", "idempotency_key_reused" },
	[OTAS_READY]		= { 200, "OK", "ready" },
	[OTAS_ERR_SCHEMA]	= { 503, "Service Unavailable", "schema_not_current" },
	[OTAS_ERR_RATE_LIMITED]	= { 429, "Too Many Requests", "rate_limited" },
	[OTAS_ENDED]		= { 200, "OK", "agent_session_ended" },
};

const struct otas_status_info *
status_info(enum otas_status st)
{
	if ((unsigned)st >= OTAS_STATUS_COUNT)
		st = OTAS_ERR_SERVER;
	return &table[st];
}

int
status_ok(enum otas_status st)
{
	return status_info(st)->http < 400;
}
