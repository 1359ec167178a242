/*
 * serve — the FastCGI accept loop (fcgiwrap shows it needs no framework).
 * The FCGX API is used, never fcgi_stdio's FCGI_Accept, which would replace
 * environ with the request's parameters.
 *
 * Requests are served by `threads` worker threads, each with its own
 * FCGX_Request, each waiting in FCGX_Accept_r: for a new connection
 * (concurrent accept() on one socket is safe on Linux), or, when the web
 * server keeps connections open (nginx fastcgi_keep_conn), for the next
 * request on its own connection — which is why no lock is held around it.
 * Signals go to the main thread only: on SIGTERM it asks libfcgi to stop
 * (FCGX_ShutdownPending) and interrupts every worker that is waiting with
 * SIGUSR2, installed without SA_RESTART.  Workers busy with a request are
 * left alone (libfcgi's read() would fail on EINTR): they finish it,
 * answer, and then stop.  A connection whose input was read to its end is
 * closed plainly (see input_read_to_end): the one place this file steps
 * around libfcgi, because its careful close costs each request three
 * system calls and a wait for the web server.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "decimal.h"
#include "log.h"
#include "metrics.h"
#include "serve.h"

extern char **environ;

struct pool {
	pthread_t	 main;		/* takes the signals */
	volatile int	 stopping;
	long		 served;	/* atomic */
	long		 max_requests;
	int		 live;		/* atomic: workers not yet finished */
	serve_fn	 fn;
	void		*arg;
};

struct worker {
	struct pool	*pool;
	pthread_t	 tid;
	int		 index;
	volatile int	 waiting;	/* inside FCGX_Accept_r */
};

static void
on_wake(int sig)
{
	(void)sig;	/* only here to make accept() return EINTR */
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
	c->got += (long long)got;
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

/* fn on one request, counted under the status it answered. */
static void
serve_one(serve_fn fn, void *arg, struct conn *c)
{
	long long t0 = clock_mono_usec();

	metrics_busy(1);
	c->http = 0;
	c->uncounted = 0;
	fn(c, arg);
	if (!c->uncounted)
		metrics_request(c->http, clock_mono_usec() - t0);
	metrics_busy(-1);
}

static int
serve_cgi(serve_fn fn, void *arg)
{
	struct conn c = { environ, NULL, 0, 0, 0, 0, 0 };

	metrics_threads(1);
	serve_one(fn, arg, &c);
	return 0;
}

/*
 * A worker's way to stop the pool (limit reached, libfcgi gave up, or the
 * last worker gone): the same signal an operator sends, so the main thread
 * can sleep in sigwait() instead of polling.
 */
static void
pool_stop(struct pool *p)
{
	p->stopping = 1;
	pthread_kill(p->main, SIGTERM);
}

/* Takes the next request, or returns -1 when the pool is stopping. */
static int
next_request(struct worker *w, FCGX_Request *req)
{
	struct pool *p = w->pool;
	long n;
	int rc;

	if (p->stopping)
		return -1;
	w->waiting = 1;
	rc = FCGX_Accept_r(req);
	w->waiting = 0;
	if (rc < 0) {
		pool_stop(p);
		return -1;
	}
	n = __atomic_add_fetch(&p->served, 1, __ATOMIC_SEQ_CST);
	if (p->max_requests != 0 && n >= p->max_requests)
		pool_stop(p);		/* this one is still served */
	return 0;
}

/*
 * Whether the request's input is known to be read to its end, so that the
 * connection may simply be closed.  Otherwise libfcgi closes as a server
 * must when unread input may follow: shutdown(), then poll() and read()
 * until the web server closes its side, because unread bytes would make
 * the kernel answer with a reset that can destroy the answer on its way.
 * A responder's input ends with an empty stdin record right after the
 * body; once the handler has read every CONTENT_LENGTH byte, web servers
 * have sent that record with the body's last bytes and it sits in
 * libfcgi's buffer: reading it costs no system call (at worst it waits
 * for the record the protocol obliges the web server to send next).
 * Anything else (an authorizer, no length, a body not read, an error)
 * keeps libfcgi's careful close.
 */
static int
input_read_to_end(FCGX_Request *req, const struct conn *c)
{
	const char *v;
	long long want;

	if (req->role != FCGI_RESPONDER || FCGX_GetError(req->in) != 0)
		return 0;
	v = FCGX_GetParam("CONTENT_LENGTH", req->envp);
	if (v == NULL ||
	    decimal_parse(v, strlen(v), 0, LLONG_MAX, &want) == -1 ||
	    want != c->got)
		return 0;
	if (!FCGX_HasSeenEOF(req->in) && FCGX_GetChar(req->in) != EOF)
		return 0;
	return FCGX_HasSeenEOF(req->in) && FCGX_GetError(req->in) == 0;
}

/*
 * Ends the request: a connection the web server keeps is left open for
 * the next one; one read to its end is closed without lingering
 * (FCGX_Detach is libfcgi's way to say so).
 */
static void
finish(FCGX_Request *req, const struct conn *c)
{
	if (!req->keepConnection && input_read_to_end(req, c))
		FCGX_Detach(req);
	FCGX_Finish_r(req);
}

static void *
worker_main(void *v)
{
	struct worker *w = v;
	struct pool *p = w->pool;
	FCGX_Request req;
	struct conn c;

	if (FCGX_InitRequest(&req, 0, 0) == 0) {
		while (next_request(w, &req) == 0) {
			c.envp = req.envp;
			c.fcgi = &req;
			c.authorizer = req.role == FCGI_AUTHORIZER;
			c.worker = w->index;
			c.got = 0;
			serve_one(p->fn, p->arg, &c);
			finish(&req, &c);
		}
		FCGX_Free(&req, 1);
	}
	if (__atomic_sub_fetch(&p->live, 1, __ATOMIC_SEQ_CST) == 0)
		pool_stop(p);
	return NULL;
}

/*
 * Main thread: sleep until a signal (or a worker) says stop; then wake the
 * waiting workers every tick until all are gone — one may be just about to
 * enter accept() or read() when the first wake-up is sent.
 */
static void
supervise(struct pool *p, struct worker *w, int n, const sigset_t *stop_set)
{
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	int i, sig;

	sigwait(stop_set, &sig);
	p->stopping = 1;
	FCGX_ShutdownPending();
	while (__atomic_load_n(&p->live, __ATOMIC_SEQ_CST) > 0) {
		for (i = 0; i < n; i++)
			if (w[i].waiting)
				pthread_kill(w[i].tid, SIGUSR2);
		sigtimedwait(stop_set, NULL, &tick);
	}
}

static int
install_wake(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wake;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR2, &sa, NULL) == -1)
		return -1;
	/* A client gone mid-answer is a write error, not a dead process. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int serve_pool(long, int, serve_fn, void *);

int
serve(long max_requests, int threads, serve_fn fn, void *arg)
{
	int rc;

	if (FCGX_IsCGI())
		rc = serve_cgi(fn, arg);
	else {
		metrics_threads(threads);
		rc = serve_pool(max_requests, threads, fn, arg);
	}
	metrics_close();
	return rc;
}

static int
serve_pool(long max_requests, int threads, serve_fn fn, void *arg)
{
	struct pool p;
	struct worker *w;
	sigset_t stop_set;
	int i, started = 0;

	if (FCGX_Init() != 0 || install_wake() == -1) {
		log_fail("cannot initialise libfcgi");
		return 1;
	}
	/* Only the main thread takes SIGTERM/SIGINT, via sigtimedwait. */
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_set, NULL);

	memset(&p, 0, sizeof(p));
	p.main = pthread_self();
	p.max_requests = max_requests;
	p.fn = fn;
	p.arg = arg;
	if ((w = calloc((size_t)threads, sizeof(*w))) == NULL) {
		log_fail("out of memory");
		return 1;
	}
	for (i = 0; i < threads; i++) {
		w[i].pool = &p;
		w[i].index = i;
		__atomic_add_fetch(&p.live, 1, __ATOMIC_SEQ_CST);
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			__atomic_sub_fetch(&p.live, 1, __ATOMIC_SEQ_CST);
			break;
		}
		started++;
	}
	if (started > 0)
		supervise(&p, w, started, &stop_set);
	for (i = 0; i < started; i++)
		pthread_join(w[i].tid, NULL);
	free(w);
	return started == threads ? 0 : 1;
}
