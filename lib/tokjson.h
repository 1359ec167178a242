/*
 * tokjson — the text rules of a token's header and claims JSON, checked
 * here before (header) and after (claims) libjwt reads the same text with
 * jansson: RFC 8259's grammar over printable ASCII with no backslash
 * escape at all, no duplicate member name in any object, no run of 19
 * digits, bounded nesting and object size.  Inside those rules every
 * parser reads one and the same value for each name, so what we check and
 * what libjwt hands back agree; what lies outside them no JWT library
 * writes for our claims.
 */
#ifndef OTAS_TOKJSON_H
#define OTAS_TOKJSON_H

#include <stddef.h>

#include "status.h"

#define TOKJSON_MAX_DEPTH	16	/* objects and arrays, the top counts */
#define TOKJSON_MAX_MEMBERS	32	/* per object */

enum tokjson_kind {
	TOKJSON_STRING,
	TOKJSON_INTEGER,	/* a number with no fraction and no exponent */
	TOKJSON_REAL,
	TOKJSON_OTHER		/* object, array, true, false, null */
};

/* One member of the top-level object; spans point into the scanned text. */
struct tokjson_member {
	const char		*name;
	size_t			 name_len;
	enum tokjson_kind	 kind;
	const char		*value;	/* a string's bytes, without quotes */
	size_t			 value_len;
};

struct tokjson_object {
	struct tokjson_member	 member[TOKJSON_MAX_MEMBERS];
	size_t			 n;
};

/*
 * Checks that text[0..len) is one JSON object under the rules above (space
 * is the only whitespace, being printable) and fills top with its
 * members.  OTAS_OK, or OTAS_ERR_TOKEN with *why a static reason.
 */
enum otas_status tokjson_scan(const char *text, size_t len,
	    struct tokjson_object *top, const char **why);

/* The member called name, or NULL. */
const struct tokjson_member *tokjson_get(const struct tokjson_object *o,
	    const char *name);

#endif
