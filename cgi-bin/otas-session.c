/*
 * otas-session — POST /api/agent/v1/session/create/ as a FastCGI responder
 * (or one plain CGI request).  The request path, in the order doc/api.md's
 * "The endpoint" fixes so that nothing that fails early ever reaches the
 * database:
 *   method, key header and syntax, Idempotency-Key syntax, body size,
 *   the body's SHA-256 (with an Idempotency-Key), JSON, key verification,
 *   token, insert
 * (the insert's statement also applies the agent's rate limit: a wrong
 * key never spends the quota, and a refused request writes nothing).
 * With OTAS_THREADS > 1 the process serves that many requests at once and
 * their inserts are grouped into one statement and one commit (batch.c).
 * A path ending in /health/ is the readiness check instead (health.c);
 * one ending in /session/end/ ends the session of the token it carries:
 *   method, token (token_verify, as otas-authz), ended_at set.
 * One ending in /metrics is the whole pool's counters (metrics.c).
 *
 * OTAS_SCHEMA_VERSION, the newest migration in sql/, comes from the
 * Makefile: the readiness check wants the database at least there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_session.h"
#include "batch.h"
#include "body.h"
#include "body_json.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "hash.h"
#include "health.h"
#include "hex.h"
#include "idem.h"
#include "key.h"
#include "keycache.h"
#include "log.h"
#include "metrics.h"
#include "req.h"
#include "resp.h"
#include "schema.h"
#include "serve.h"
#include "start.h"
#include "token.h"
#include "uuid.h"
#include "verify.h"

struct app {
	struct otas_config	 cfg;
	struct db		*db;
	struct health		*health;	/* GET .../health/ */
	struct batch		*batch;
	struct token_signer	*signer;
	char			**body;		/* per thread: max_body + 1 */
	size_t			 body_cap;
};

/* What one request ended with, for the answer and the log line. */
struct outcome {
	const char		*why;
	char			*jwt;		/* malloc'd on success */
	struct keycache_entry	 key;		/* agent_id set once verified */
	char			 rehash[HASH_ENCODED_MAX]; /* or "" */
	struct rate_answer	 limit;		/* the agent's rate limit */
};

/* The parts of the new session's row that the request supplies. */
struct from_request {
	const char		*meta;		/* JSON object text */
	const struct idem_key	*idem;		/* NULL: no Idempotency-Key */
	char			 body_hash[2 * HASH_SHA256_LEN + 1];
};

static enum otas_status
sign(struct app *app, const struct token_claims *tc, struct outcome *o)
{
	free(o->jwt);
	if ((o->jwt = token_signer_sign(app->signer, tc)) == NULL) {
		o->why = "token signing failed";
		return OTAS_ERR_SERVER;
	}
	return OTAS_OK;
}

static void
claims(struct app *app, const char session_id[UUID_STR_LEN + 1],
    const struct outcome *o, struct token_claims *tc)
{
	memset(tc, 0, sizeof(*tc));
	/* Same-size arrays: no formatting on the hot path. */
	memcpy(tc->session_id, session_id, sizeof(tc->session_id));
	memcpy(tc->agent_id, o->key.agent_id, sizeof(tc->agent_id));
	tc->iat = clock_wall_sec();
	tc->exp = tc->iat + app->cfg.token_ttl;
}

/*
 * Hands the row to the group commit and waits for its own verdict.  A
 * repeat of an Idempotency-Key is answered with the earlier session's
 * claims signed again: the same secret gives the same token, byte for byte.
 */
static enum otas_status
insert(struct app *app, struct token_claims *tc, const struct from_request *a,
    struct outcome *o)
{
	struct agent_session_row row;
	enum otas_status st;

	memset(&row, 0, sizeof(row));
	row.session_id = tc->session_id;
	row.key_id = o->key.key_id;
	row.hashed_key = o->key.hashed_key;
	row.rehash = o->rehash[0] != '\0' ? o->rehash : NULL;
	row.meta = a->meta;
	row.idem_key = a->idem != NULL ? a->idem->value : NULL;
	row.body_hash = a->body_hash;
	row.iat = tc->iat;
	row.exp = tc->exp;
	row.idem_ttl = app->cfg.idempotency_ttl;
	row.rate_default = &app->cfg.session_rate;
	st = batch_create(app->batch, &row, &o->why);
	o->limit = row.limit;
	if (st == OTAS_OK && !row.replayed)
		metrics_count(METRICS_SESSIONS_CREATED);
	if (st != OTAS_OK || !row.replayed)
		return st;
	metrics_count(METRICS_IDEMPOTENCY_REPLAYS);
	o->why = row.why;
	memcpy(tc->session_id, row.replay_id, sizeof(tc->session_id));
	tc->iat = row.replay_iat;
	tc->exp = row.replay_exp;
	return sign(app, tc, o);
}

/*
 * Verifies the key and stores the session.  The token is signed before the
 * insert, so a committed row always gets its 200.  A key whose hash the
 * insert no longer finds (the cache held an old one, or another process
 * replaced a legacy hash while this one checked it) is forgotten and
 * verified afresh once: a rehashed key then passes, and a revoked one fails
 * with the reason in the log.
 */
static enum otas_status
verify_sign_insert(struct app *app, const struct req *rq,
    const struct key_parts *kp, const struct from_request *a,
    struct outcome *o)
{
	char session_id[UUID_STR_LEN + 1];
	struct token_claims tc;
	enum otas_status st = OTAS_ERR_KEY;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		/* A new id for each try: the first may be stored after all. */
		if (uuid7_make(session_id) == -1) {
			o->why = "no random bytes for the session id";
			return OTAS_ERR_SERVER;
		}
		st = verify_key(app->db, &app->cfg, rq->key, rq->key_len,
		    rq->remote, kp,
		    &o->key, o->rehash, &o->why);
		if (st != OTAS_OK)
			return st;
		claims(app, session_id, o, &tc);
		if ((st = sign(app, &tc, o)) != OTAS_OK)
			return st;
		if ((st = insert(app, &tc, a, o)) == OTAS_OK) {
			if (o->rehash[0] != '\0')
				verify_rehashed(&o->key, o->rehash);
			return OTAS_OK;
		}
		free(o->jwt);
		o->jwt = NULL;
		if (st != OTAS_ERR_KEY)
			return st;
		verify_forget(&o->key);
	}
	return st;
}

/* The Idempotency-Key header, if sent: exactly once, one sf-string. */
static enum otas_status
idem_header(const struct req *rq, struct idem_key *k, struct from_request *a,
    struct outcome *o)
{
	a->idem = NULL;
	if (rq->idem_count == 0)
		return OTAS_OK;
	if (rq->idem_count > 1) {
		o->why = "Idempotency-Key sent more than once";
		return OTAS_ERR_IDEM_KEY;
	}
	if (idem_parse(rq->idem, rq->idem_len, k) == -1) {
		o->why = "Idempotency-Key is not a string of 1 to 255 "
		    "characters";
		return OTAS_ERR_IDEM_KEY;
	}
	a->idem = k;
	return OTAS_OK;
}

/* Hex SHA-256 of the body, what a repeat of an Idempotency-Key must match. */
static enum otas_status
body_hash(const char *body, size_t len, struct from_request *a,
    struct outcome *o)
{
	unsigned char d[HASH_SHA256_LEN];

	if (hash_sha256(body, len, d) == -1) {
		o->why = "SHA-256 failed";
		return OTAS_ERR_SERVER;
	}
	hex_encode(d, sizeof(d), a->body_hash);
	return OTAS_OK;
}

static enum otas_status
create(struct app *app, struct conn *c, const struct req *rq,
    struct outcome *o)
{
	struct key_parts kp;
	struct body_meta meta;
	struct idem_key idem;
	struct from_request a;
	enum otas_status st;
	size_t len;

	if (strcmp(rq->method, "POST") != 0) {
		o->why = "method is not POST";
		return OTAS_ERR_METHOD;
	}
	if (rq->key_count != 1) {
		o->why = rq->key_count == 0 ? "no key header" :
		    "key header sent more than once";
		return OTAS_ERR_KEY;
	}
	if (key_parse(rq->key, rq->key_len, &kp) == -1) {
		o->why = "malformed key";
		return OTAS_ERR_KEY;
	}
	memcpy(o->key.prefix, kp.prefix[0], sizeof(o->key.prefix));
	if ((st = idem_header(rq, &idem, &a, o)) != OTAS_OK)
		return st;
	st = body_read(c, rq->content_length, (size_t)app->cfg.max_body,
	    app->body[c->worker], app->body_cap, &len, &o->why);
	if (st != OTAS_OK)
		return st;
	/* Before body_parse, which writes into the buffer. */
	a.body_hash[0] = '\0';
	if (a.idem != NULL &&
	    (st = body_hash(app->body[c->worker], len, &a, o)) != OTAS_OK)
		return st;
	st = body_parse(app->body[c->worker], len, &meta, &o->why);
	if (st != OTAS_OK)
		return st;
	a.meta = meta.json;
	st = verify_sign_insert(app, rq, &kp, &a, o);
	return st == OTAS_OK ? OTAS_CREATED : st;
}

/*
 * POST .../session/end/: the token ends its own session.  Any token that
 * otas-authz would accept (current or previous secret) may; ending it
 * again is the same 200, and the row's first end time stays.
 */
static enum otas_status
end_session(struct app *app, const struct req *rq, struct outcome *o)
{
	struct token_claims tc;
	enum otas_status st;

	if (strcmp(rq->method, "POST") != 0) {
		o->why = "method is not POST";
		return OTAS_ERR_METHOD;
	}
	if (rq->token_count != 1) {
		o->why = rq->token_count == 0 ? "no token header" :
		    "token header sent more than once";
		return OTAS_ERR_TOKEN;
	}
	memset(&tc, 0, sizeof(tc));
	if (token_verify(rq->token, rq->token_len, &app->cfg.jwt_secret,
	    &app->cfg.jwt_previous, clock_wall_sec(),
	    app->cfg.token_leeway, &tc, &o->why) != OTAS_OK)
		return OTAS_ERR_TOKEN;
	memcpy(o->key.agent_id, tc.agent_id, sizeof(o->key.agent_id));
	st = agent_session_end(app->db, tc.session_id, tc.agent_id, &o->why);
	return st == OTAS_OK ? OTAS_ENDED : st;
}

/*
 * The readiness check a load balancer polls: the remembered verdict (the
 * database is asked at most once a second per process).  Any method gets
 * it, and nothing of the request is read: it can never make a session.
 */
static enum otas_status
ready(struct app *app, struct outcome *o)
{
	return health_check(app->health, clock_mono_msec(), &o->why);
}

/*
 * GET /metrics: the pool's counters (any method, nothing of the request
 * read, like the readiness check).  Not itself in otas_requests_total, so
 * that a scrape does not change what the next one reports.
 */
static void
scrape(struct conn *c, const struct req *rq)
{
	struct resp resp;
	const char *why = NULL;
	char *text;
	long n = -1;
	long long t0 = clock_mono_usec();

	c->uncounted = 1;
	if ((text = malloc(METRICS_TEXT_MAX)) != NULL)
		n = metrics_scrape(text, METRICS_TEXT_MAX);
	if (n >= 0) {
		if (resp_send_metrics(c, text, (size_t)n) == -1)
			why = "client gone before the answer";
	} else {
		why = "metrics did not fit or out of memory";
		resp_error(&resp, OTAS_ERR_SERVER);
		(void)resp_send(&resp, c);
	}
	free(text);
	log_request(&(struct log_req){ .id = rq->id, .http = c->http,
	    .code = n >= 0 ? "metrics" : status_info(OTAS_ERR_SERVER)->code,
	    .usec = clock_mono_usec() - t0, .why = why });
}

static void
handle(struct conn *c, void *arg)
{
	struct app *app = arg;
	struct outcome o;
	struct resp resp;
	struct req rq;
	enum otas_status st;
	long long t0 = clock_mono_usec();

	memset(&o, 0, sizeof(o));
	req_parse(c->envp, &rq);
	if (rq.metrics) {
		scrape(c, &rq);
		return;
	}
	st = rq.health ? ready(app, &o) : rq.end ? end_session(app, &rq, &o) :
	    create(app, c, &rq, &o);
	if (st == OTAS_CREATED)
		resp_session_limited(&resp, o.jwt, &o.limit);
	else if (st == OTAS_ERR_RATE_LIMITED) {
		metrics_count(METRICS_RATE_LIMITED);
		resp_rate_limited(&resp, &o.limit);
	}
	else if (st == OTAS_READY)
		resp_ready(&resp);
	else if (st == OTAS_ENDED)
		resp_ended(&resp);
	else
		resp_error(&resp, st);
	if (resp_send(&resp, c) == -1 && st == OTAS_CREATED)
		o.why = "client gone before the answer";

	log_request(&(struct log_req){ .id = rq.id, .http = resp.http,
	    .code = status_info(resp.st)->code,
	    .agent_id = o.key.agent_id[0] != '\0' ? o.key.agent_id : NULL,
	    .prefix = o.key.prefix[0] != '\0' ? o.key.prefix : NULL,
	    .usec = clock_mono_usec() - t0, .why = o.why });
	free(o.jwt);
}

static int
app_init(struct app *app)
{
	long i;

	app->body_cap = (size_t)app->cfg.max_body + 1;
	if ((app->body = calloc((size_t)app->cfg.threads,
	    sizeof(*app->body))) == NULL)
		return -1;
	for (i = 0; i < app->cfg.threads; i++)
		if ((app->body[i] = malloc(app->body_cap)) == NULL)
			return -1;
	if ((app->db = db_new(&app->cfg, "otas-session")) == NULL ||
	    (app->batch = batch_new(app->db)) == NULL ||
	    (app->signer = token_signer_new(&app->cfg.jwt_secret)) == NULL ||
	    (app->health = health_new(schema_version, app->db,
	    OTAS_SCHEMA_VERSION)) == NULL)
		return -1;
	return 0;
}

static void
app_free(struct app *app)
{
	long i;

	health_free(app->health);
	token_signer_free(app->signer);
	batch_free(app->batch);
	db_free(app->db);
	for (i = 0; app->body != NULL && i < app->cfg.threads; i++)
		free(app->body[i]);
	free(app->body);
	config_free(&app->cfg);
}

int
main(int argc, char *argv[])
{
	struct app app;
	int rc;

	memset(&app, 0, sizeof(app));
	if ((rc = start_program("otas-session", argc, argv, &app.cfg,
	    CONFIG_NEED_SECRET)) != 0)
		return rc == 1 ? 0 : 1;
	rc = 1;
	if (app_init(&app) == -1)
		log_fail("cannot set up (out of memory?)");
	else
		rc = serve(app.cfg.max_requests, (int)app.cfg.threads, handle,
		    &app);
	app_free(&app);
	return rc;
}
