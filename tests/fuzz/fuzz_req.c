/*
 * fuzz_req — libFuzzer target for req_parse (lib/req.h), the one scan of a
 * request's CGI/FastCGI parameters.
 *
 * The input is split on '\n' into "NAME=value" strings (a NUL byte simply
 * ends its string early, as it would in a real parameter block) and passed
 * as a NULL-terminated envp, each string in its own allocation so ASan sees
 * a read past any of them.  The result is checked against a count done here:
 * every key, token and Idempotency-Key parameter counted, the pointers
 * inside the block with their lengths right, the request id short and
 * log-safe, the readiness path recognised exactly (against RFC 3986's
 * remove_dot_segments as the standard writes it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY_PARAM	"HTTP_X_OTAS_AGENT_KEY="
#define TOKEN_PARAM	"HTTP_X_OTAS_AGENT_SESSION_TOKEN="
#define IDEM_PARAM	"HTTP_IDEMPOTENCY_KEY="

static int
count_prefixed(char **envp, const char *head)
{
	int n = 0;

	for (; *envp != NULL; envp++)
		n += strncmp(*envp, head, strlen(head)) == 0;
	return n;
}

/* v must be the value of one entry that starts with head. */
static void
check_points_into(char **envp, const char *head, const char *v, size_t len)
{
	for (; *envp != NULL; envp++)
		if (v == *envp + strlen(head) &&
		    strncmp(*envp, head, strlen(head)) == 0) {
			if (strlen(v) != len)
				abort();
			return;
		}
	abort();
}

static void
check_id(const char *id)
{
	size_t i, n = strnlen(id, REQ_ID_MAX + 1);

	if (n == 0 || n > REQ_ID_MAX)
		abort();
	for (i = 0; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789-_.@", id[i]) == NULL)
			abort();
}

/*
 * RFC 3986 section 5.2.4 as written there, on in (which it consumes):
 * the input buffer's first rule that applies, until it is empty.
 */
static void
remove_dot_segments(char *in, char *out)
{
	size_t o = 0, n;

	while (*in != '\0') {
		if (strncmp(in, "../", 3) == 0)
			in += 3;
		else if (strncmp(in, "./", 2) == 0)
			in += 2;
		else if (strncmp(in, "/./", 3) == 0)
			in += 2;
		else if (strcmp(in, "/.") == 0)
			in[1] = '\0';
		else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
			if (in[3] == '/')
				in += 3;	/* "/../x" goes on as "/x" */
			else
				*(in += 2) = '/';	/* "/.." as "/" */
			while (o > 0 && out[--o] != '/')
				continue;
		} else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0)
			in += strlen(in);
		else {
			n = 1 + strcspn(in + 1, "/");
			memcpy(out + o, in, n);
			o += n;
			in += n;
		}
	}
	out[o] = '\0';
}

/*
 * The reference: the last REQUEST_URI's path (query cut; after the
 * authority of an absolute-form URI), %2e read as '.', its dot segments
 * removed, holds the segment; a path not starting with '/', or of
 * REQ_PATH_MAX bytes or more, never.
 */
static int
health_expected(char **envp)
{
	const char *head = "REQUEST_URI=";
	const char *uri = NULL, *p, *q;
	char *path, *out;
	size_t n, i, k;
	int found;

	for (; *envp != NULL; envp++)
		if (strncmp(*envp, head, strlen(head)) == 0)
			uri = *envp + strlen(head);
	if (uri == NULL)
		return 0;
	p = uri;
	if (*p != '/' && (q = strstr(p, "://")) != NULL &&
	    (size_t)(q - p) < strcspn(p, "/?"))
		p = q + 3 + strcspn(q + 3, "/?");
	n = strcspn(p, "?");
	if (*p != '/' || n >= REQ_PATH_MAX)
		return 0;
	if ((path = malloc(n + 1)) == NULL || (out = malloc(n + 2)) == NULL)
		abort();
	for (i = k = 0; i < n; i++)
		if (n - i >= 3 && p[i] == '%' && p[i + 1] == '2' &&
		    (p[i + 2] == 'e' || p[i + 2] == 'E')) {
			path[k++] = '.';
			i += 2;
		} else
			path[k++] = p[i];
	path[k] = '\0';
	remove_dot_segments(path, out);
	found = strstr(out, REQ_HEALTH_SEGMENT) != NULL;
	free(path);
	free(out);
	return found;
}

static void
check(char **envp, const struct req *r)
{
	if (r->method == NULL || r->content_length < -2 ||
	    r->key_count != count_prefixed(envp, KEY_PARAM) ||
	    r->token_count != count_prefixed(envp, TOKEN_PARAM) ||
	    r->idem_count != count_prefixed(envp, IDEM_PARAM) ||
	    (r->key == NULL) != (r->key_count == 0) ||
	    (r->token == NULL) != (r->token_count == 0) ||
	    (r->idem == NULL) != (r->idem_count == 0) ||
	    r->health != health_expected(envp))
		abort();
	if (r->key != NULL)
		check_points_into(envp, KEY_PARAM, r->key, r->key_len);
	if (r->token != NULL)
		check_points_into(envp, TOKEN_PARAM, r->token, r->token_len);
	if (r->idem != NULL)
		check_points_into(envp, IDEM_PARAM, r->idem, r->idem_len);
	check_id(r->id);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i, start, n = 1;
	char **envp;
	struct req r;
	int k = 0;

	for (i = 0; i < size; i++)
		n += data[i] == '\n';
	if ((envp = calloc(n + 1, sizeof(*envp))) == NULL)
		abort();
	for (start = 0, i = 0; i <= size; i++) {
		if (i < size && data[i] != '\n')
			continue;
		if ((envp[k] = malloc(i - start + 1)) == NULL)
			abort();
		memcpy(envp[k], data + start, i - start);
		envp[k][i - start] = '\0';
		k++;
		start = i + 1;
	}
	req_parse(envp, &r);
	check(envp, &r);
	for (k = 0; envp[k] != NULL; k++)
		free(envp[k]);
	free(envp);
	return 0;
}
