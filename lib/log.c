/*
 * log — each line is formatted whole and written with one write(2), so lines
 * from concurrent processes and threads do not interleave.  Logged strings
 * are filtered to printable ASCII, so nothing can forge a second line, and
 * then by where they stand, so nothing can forge a second field: a field
 * ended by a space holds no space or quote; in the quoted field (why="...")
 * a quote or backslash gets a backslash before it; free text to the end of
 * the line (database messages: connection to server at "127.0.0.1", ...)
 * ends no field, so its quotes stay as they are, readable.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "version.h"

#define LINE_MAX_LEN 1024

static const char *prog_name = "otas";
static long prog_pid;		/* these programs never fork after start */

void
log_init(const char *prog)
{
	prog_name = prog;
	prog_pid = (long)getpid();
}

static void
timestamp(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	if (clock_wall(&ts) == -1)
		ts = (struct timespec){ 0 };
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, cap, "%.20s.%03dZ", base, (int)(ts.tv_nsec / 1000000));
}

/* Where a logged string sits in its line. */
enum place {
	TEXT,		/* free text to the end of the line: all printable */
	WORD,		/* a field ended by a space: no space, no quote */
	QUOTED,		/* inside "...": '"' and '\\' escaped */
};

static char
shown(char c, enum place at)
{
	if (c < 0x20 || c >= 0x7f)
		return '?';
	if (at == WORD && (c == ' ' || c == '"'))
		return '?';
	return c;
}

/*
 * Copies s into out (cap bytes) as it may appear at its place; any byte
 * that may not is shown as '?'.  An escape is never cut in two by the end
 * of out.
 */
static const char *
clean(const char *s, enum place at, char *out, size_t cap)
{
	size_t i, o = 0;
	int esc;

	if (s == NULL)
		return "-";
	for (i = 0; s[i] != '\0'; i++) {
		esc = at == QUOTED && (s[i] == '"' || s[i] == '\\');
		if (o + 1 + (size_t)esc >= cap)
			break;
		if (esc)
			out[o++] = '\\';
		out[o++] = shown(s[i], at);
	}
	out[o] = '\0';
	return out;
}

/* Writes a snprintf'd line; a truncated one still ends in a newline. */
static void
emit(char *line, int n)
{
	if (n <= 0)
		return;
	if (n >= LINE_MAX_LEN) {
		n = LINE_MAX_LEN - 1;
		line[n - 1] = '\n';
	}
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

void
log_request(const struct log_req *l)
{
	char line[LINE_MAX_LEN], ts[40], id[80], agent[48], prefix[80],
	    why[160];
	int n;

	timestamp(ts, sizeof(ts));
	n = snprintf(line, sizeof(line), "%s %s[%ld] id=%s status=%d "
	    "code=%s agent=%s prefix=%s us=%lld why=\"%s\"\n", ts, prog_name,
	    prog_pid, clean(l->id, WORD, id, sizeof(id)), l->http, l->code,
	    clean(l->agent_id, WORD, agent, sizeof(agent)),
	    clean(l->prefix, WORD, prefix, sizeof(prefix)), l->usec,
	    clean(l->why, QUOTED, why, sizeof(why)));
	emit(line, n);
}

/*
 * msg (cap bytes) = the formatted message; one too long for it ends in
 * LOG_MSG_CUT instead of stopping mid-word as if it were whole.
 */
static void
message(char *msg, size_t cap, const char *fmt, va_list ap)
{
	int n = vsnprintf(msg, cap, fmt, ap);

	if (n < 0)
		snprintf(msg, cap, "(a message could not be formatted: %s)",
		    fmt);
	else if ((size_t)n >= cap)
		memcpy(msg + cap - sizeof(LOG_MSG_CUT), LOG_MSG_CUT,
		    sizeof(LOG_MSG_CUT));
}

/*
 * One line: head (who, and when: short, our own names), then the formatted
 * message, filtered.
 */
static void
say(const char *head, const char *fmt, va_list ap)
{
	char line[LINE_MAX_LEN], msg[LOG_MSG_MAX + 1], safe[LOG_MSG_MAX + 1];

	message(msg, sizeof(msg), fmt, ap);
	emit(line, snprintf(line, sizeof(line), "%s%s\n", head,
	    clean(msg, TEXT, safe, sizeof(safe))));
}

void
log_msg(const char *fmt, ...)
{
	char head[128], ts[40];
	va_list ap;

	timestamp(ts, sizeof(ts));
	snprintf(head, sizeof(head), "%s %s[%ld] ", ts, prog_name, prog_pid);
	va_start(ap, fmt);
	say(head, fmt, ap);
	va_end(ap);
}

void
log_fail(const char *fmt, ...)
{
	char head[96];
	va_list ap;

	snprintf(head, sizeof(head), "%s: ", prog_name);
	va_start(ap, fmt);
	say(head, fmt, ap);
	va_end(ap);
}

void
log_start(const struct otas_config *c)
{
	char desc[LOG_MSG_MAX + 1 - 64];	/* with the prefix, fits msg */

	if (c == NULL)
		log_msg("start version=%s", version_string());
	else if (config_describe(c, desc, sizeof(desc)) == -1)
		log_msg("start version=%s (settings too long to show)",
		    version_string());
	else
		log_msg("start version=%s %s", version_string(), desc);
}
