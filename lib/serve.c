/*
 * serve — the FastCGI accept loop (fcgiwrap shows it needs no framework).
 * The FCGX API is used, never fcgi_stdio's FCGI_Accept, which would replace
 * environ with the request's parameters.
 *
 * SIGTERM: our handler is installed before FCGX_Init, so libfcgi leaves it
 * alone; it asks libfcgi to stop accepting (FCGX_ShutdownPending) without
 * SA_RESTART, so an accept() blocked between requests returns at once, while
 * a request in hand runs to its end.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "serve.h"

extern char **environ;

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
	FCGX_ShutdownPending();
}

static int
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		return -1;
	/* A client gone mid-answer is a write error, not a dead process. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

long
conn_read(struct conn *c, char *buf, size_t n)
{
	size_t got = 0;
	int r;

	if (c->fcgi == NULL) {
		got = fread(buf, 1, n, stdin);
		return ferror(stdin) ? -1 : (long)got;
	}
	while (got < n) {
		size_t want = n - got > 1 << 30 ? 1 << 30 : n - got;

		r = FCGX_GetStr(buf + got, (int)want, c->fcgi->in);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (long)got;
}

int
conn_write(struct conn *c, const char *buf, size_t n)
{
	if (c->fcgi == NULL) {
		if (fwrite(buf, 1, n, stdout) != n || fflush(stdout) != 0)
			return -1;
		return 0;
	}
	if (n > 1 << 30 || FCGX_PutStr(buf, (int)n, c->fcgi->out) != (int)n)
		return -1;
	return 0;
}

static int
serve_cgi(serve_fn fn, void *arg)
{
	struct conn c = { environ, NULL, 0 };

	fn(&c, arg);
	return 0;
}

int
serve(long max_requests, serve_fn fn, void *arg)
{
	FCGX_Request req;
	struct conn c;
	long served = 0;

	if (install_signals() == -1) {
		perror("sigaction");
		return 1;
	}
	if (FCGX_IsCGI())
		return serve_cgi(fn, arg);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0) {
		fprintf(stderr, "cannot initialise libfcgi\n");
		return 1;
	}
	while (!stopping && (max_requests == 0 || served < max_requests)) {
		if (FCGX_Accept_r(&req) < 0)
			break;
		c.envp = req.envp;
		c.fcgi = &req;
		c.authorizer = req.role == FCGI_AUTHORIZER;
		fn(&c, arg);
		FCGX_Finish_r(&req);
		served++;
	}
	FCGX_Free(&req, 1);
	return 0;
}
