/*
 * rate — the one spelling of a session rate limit, in the setting
 * OTAS_SESSION_RATE and in `otas-admin agent limit`: "N/s", "N/min",
 * "N/h" or "N/d" (N sessions per second, minute, hour or day), or "off".
 * One number, one unit, nothing else: what an operator writes is what is
 * read, and a typo ("5/m", "5 /min", "5.5/s") is refused, not guessed at.
 * The burst is separate (otas-admin --burst); a parsed rate's burst is N.
 */
#ifndef OTAS_RATE_H
#define OTAS_RATE_H

#include <stddef.h>

#define RATE_QUOTA_MAX	1000000L	/* N and a burst at most this */
#define RATE_TEXT_MAX	32		/* rate_format's longest + NUL */

struct rate {
	long	quota;		/* sessions per window; 0: no limit ("off") */
	long	window;		/* seconds: 1, 60, 3600 or 86400 */
	long	burst;		/* sessions at once; quota unless set apart */
};

/*
 * A limited agent's count after a request, as the database answered it:
 * the IETF draft's RateLimit-Policy (q, w) and RateLimit (r, t) fields.
 */
struct rate_answer {
	int		 limited;	/* 0: the agent has no limit, no fields */
	long		 quota;		/* q: sessions per window */
	long		 window;	/* w: the window, seconds */
	long		 remaining;	/* r: sessions it may create right now */
	long long	 wait;		/* t: seconds until it may create one
					   more (0: the burst is whole) */
};

/*
 * Parses s[0..len) (no NUL needed).  Returns 0 with *r filled (burst =
 * quota; "off": all 0), or -1 and *r untouched when s is no such rate.
 */
int	rate_parse(const char *s, size_t len, struct rate *r);

/*
 * Writes r as rate_parse reads it ("off" for quota 0, "N/s"... for the
 * four windows; another window, set by hand in the table, as "N/Ws"),
 * plus " burst B" when the burst is not N.
 * Returns 0, or -1 when cap is too small.
 */
int	rate_format(const struct rate *r, char *buf, size_t cap);

#endif
