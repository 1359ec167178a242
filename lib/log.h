/*
 * log — every line a server-side program writes, on stderr, which every
 * web server here sends to its error log: one per request, free-form lines
 * (the first line of a process, database trouble) and the reason a program
 * stops before its first request.  The request line carries the key prefix
 * or agent id, never a key, a secret or a token: callers pass only those
 * fields.  Usable before log_init (as program "otas").
 */
#ifndef OTAS_LOG_H
#define OTAS_LOG_H

struct log_req {
	const char	*id;		/* request id */
	int		 http;		/* HTTP status answered */
	const char	*code;		/* status_description answered */
	const char	*agent_id;	/* NULL when not known */
	const char	*prefix;	/* key prefix, NULL when not known */
	long long	 usec;		/* time spent on the request */
	const char	*why;		/* the detail the client is not told */
};

struct otas_config;

/* Names the program in every line ("otas-session"). */
void	log_init(const char *prog);
/*
 * The first line of a process: its version and the settings in effect
 * (config_describe; c NULL for a program without settings).
 */
void	log_start(const struct otas_config *c);
void	log_request(const struct log_req *l);
/*
 * A free-form line: start-up failures, database trouble.  A message longer
 * than LOG_MSG_MAX bytes keeps its first bytes and ends in LOG_MSG_CUT, so
 * a reader knows it is not whole; the line still ends once.
 */
#define LOG_MSG_MAX	511
#define LOG_MSG_CUT	" [cut]"
void	log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Why the program stops before its first request (a bad setting, no
 * memory, libfcgi refused): "PROG: message", as any Unix command says it,
 * since whoever started it reads it; the line after it is the exit.
 * Filtered and cut as log_msg's.
 */
void	log_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
