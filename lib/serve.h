/*
 * serve — the accept loop every program here shares, and the one request it
 * hands to the program's handler, whatever the transport: FastCGI (fd 0 is
 * a listening socket, as spawn-fcgi, mod_fcgid and lighttpd arrange) or
 * plain CGI (one request from environ/stdin/stdout, then exit).
 */
#ifndef OTAS_SERVE_H
#define OTAS_SERVE_H

#include <stddef.h>

#include <fastcgi.h>
#include <fcgiapp.h>

struct conn {
	char *const	*envp;		/* the request's parameters */
	FCGX_Request	*fcgi;		/* NULL in CGI mode */
	int		 authorizer;	/* FastCGI role AUTHORIZER */
	int		 worker;	/* 0 .. threads-1: per-thread buffers */
	long long	 got;		/* body bytes conn_read returned */
	int		 http;		/* the status answered (resp_send) */
	int		 uncounted;	/* a scrape: not in otas_requests_total */
};

/* Reads up to n bytes; returns how many (< n only at end of body), or -1. */
long	conn_read(struct conn *c, char *buf, size_t n);

/* Writes all n bytes; returns 0, or -1 when the client has gone. */
int	conn_write(struct conn *c, const char *buf, size_t n);

typedef void (*serve_fn)(struct conn *c, void *arg);

/*
 * Serves requests with fn on `threads` threads (fn must then be
 * thread-safe; c->worker tells the threads apart) until SIGTERM or SIGINT
 * (requests in hand are finished first), until max_requests have been
 * accepted (0: no limit), or, in CGI mode, after the one request.  Each
 * request is counted by the status fn answered (c->http) and its time;
 * before returning, the process's counts join the pool's totals.  Returns
 * the process exit status.
 */
int	serve(long max_requests, int threads, serve_fn fn, void *arg);

#endif
