/*
 * req — one pass over the parameter block.  Names are compared whole;
 * values are only located here, validated by their own modules (key.c,
 * token.c, idem.c), except CONTENT_LENGTH, which must be a plain decimal.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decimal.h"
#include "req.h"

#define KEY_PARAM	"HTTP_X_OTAS_AGENT_KEY"
#define TOKEN_PARAM	"HTTP_X_OTAS_AGENT_SESSION_TOKEN"
#define IDEM_PARAM	"HTTP_IDEMPOTENCY_KEY"

/* The value of "NAME=value" when the name is exactly name, else NULL. */
static const char *
param_value(const char *entry, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(entry, name, n) != 0 || entry[n] != '=')
		return NULL;
	return entry + n + 1;
}

/* Digits only, no sign, no spaces, no overflow: else -2. */
static long long
parse_length(const char *s)
{
	long long v;

	return decimal_parse(s, strlen(s), 0, LLONG_MAX, &v) == 0 ? v : -2;
}

/* A request id from the web server, kept only if it is harmless in a log. */
static void
set_id(struct req *r, const char *v)
{
	size_t i, n = strlen(v);

	if (n == 0 || n > REQ_ID_MAX)
		return;
	for (i = 0; i < n; i++)
		if (!(v[i] >= 'a' && v[i] <= 'z') &&
		    !(v[i] >= 'A' && v[i] <= 'Z') &&
		    !(v[i] >= '0' && v[i] <= '9') &&
		    v[i] != '-' && v[i] != '_' && v[i] != '.' && v[i] != '@')
			return;
	memcpy(r->id, v, n + 1);
}

static void
default_id(struct req *r)
{
	static unsigned long counter;	/* shared by a process's threads */
	static long pid;		/* a syscall saved per request */

	if (pid == 0)
		pid = (long)getpid();
	snprintf(r->id, sizeof(r->id), "%ld-%lu", pid,
	    __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
}

/* n bytes at s, read with %2e as '.', are all dots: their count, else 0. */
static size_t
dots(const char *s, size_t n)
{
	size_t i = 0, count = 0;

	while (i < n) {
		if (s[i] == '.')
			i++;
		else if (n - i >= 3 && s[i] == '%' && s[i + 1] == '2' &&
		    (s[i + 2] == 'e' || s[i + 2] == 'E'))
			i += 3;
		else
			return 0;
		count++;
	}
	return count;
}

/*
 * The path of uri (up to '?'; an absolute-form URI's scheme and authority
 * skipped) with its dot segments removed as RFC 3986 section 5.2.4 does,
 * "." and ".." also when written %2e: the path the web server routed,
 * which REQUEST_URI holds as the client sent it.  Returns 0 with out
 * filled, or -1 for a path that is not absolute or does not fit.
 */
static int
normal_path(const char *uri, char *out, size_t cap)
{
	const char *p = uri, *end, *q;
	size_t o = 0, d;

	if (*p != '/' && (q = strstr(p, "://")) != NULL &&
	    (size_t)(q - p) < strcspn(p, "/?"))
		p = q + 3 + strcspn(q + 3, "/?");
	end = p + strcspn(p, "?");
	if (*p != '/' || (size_t)(end - p) >= cap)
		return -1;
	for (p++;; p = q + 1) {
		q = memchr(p, '/', (size_t)(end - p));
		if (q == NULL)
			q = end;
		if ((d = dots(p, (size_t)(q - p))) == 2)
			while (o > 0 && out[--o] != '/')
				continue;
		if (d == 1 || d == 2) {
			if (q == end)		/* "/a/." is "/a/" */
				out[o++] = '/';
		} else {
			out[o++] = '/';
			memcpy(out + o, p, (size_t)(q - p));
			o += (size_t)(q - p);
		}
		if (q == end)
			break;
	}
	out[o] = '\0';
	return 0;
}

/*
 * Whether the path the server routed holds segment: decided on the
 * normalised path, so "/health/../session/create/" is the session
 * endpoint it was routed to.  A path longer than REQ_PATH_MAX is not.
 */
static int
path_has(const char *uri, const char *segment)
{
	char path[REQ_PATH_MAX];

	return normal_path(uri, path, sizeof(path)) == 0 &&
	    strstr(path, segment) != NULL;
}

/* Whether the path of a request URI (the query cut off) ends in end. */
static int
path_ends(const char *uri, const char *end)
{
	size_t n = strcspn(uri, "?"), m = strlen(end);

	return n >= m && memcmp(uri + n - m, end, m) == 0;
}

void
req_parse(char *const *envp, struct req *r)
{
	const char *v;

	memset(r, 0, sizeof(*r));
	r->method = "";
	r->content_length = -1;
	for (; envp != NULL && *envp != NULL; envp++) {
		if ((v = param_value(*envp, KEY_PARAM)) != NULL) {
			r->key = v;
			r->key_len = strlen(v);
			r->key_count++;
		} else if ((v = param_value(*envp, TOKEN_PARAM)) != NULL) {
			r->token = v;
			r->token_len = strlen(v);
			r->token_count++;
		} else if ((v = param_value(*envp, IDEM_PARAM)) != NULL) {
			r->idem = v;
			r->idem_len = strlen(v);
			r->idem_count++;
		} else if ((v = param_value(*envp, "REQUEST_METHOD")) != NULL)
			r->method = v;
		else if ((v = param_value(*envp, "CONTENT_LENGTH")) != NULL)
			r->content_length = *v == '\0' ? -1 : parse_length(v);
		else if ((v = param_value(*envp, "REQUEST_URI")) != NULL) {
			r->health = path_has(v, REQ_HEALTH_SEGMENT);
			r->end = path_has(v, REQ_END_SEGMENT);
			r->metrics = !r->health &&
			    path_ends(v, REQ_METRICS_PATH);
		}
		else if ((v = param_value(*envp, "REMOTE_ADDR")) != NULL)
			r->remote = v;
		else if ((v = param_value(*envp, "UNIQUE_ID")) != NULL ||
		    (v = param_value(*envp, "HTTP_X_REQUEST_ID")) != NULL)
			set_id(r, v);
	}
	if (r->id[0] == '\0')
		default_id(r);
}
