/*
 * fuzz_token — libFuzzer target for token_verify, the parser that meets
 * X-OTAS-AGENT-SESSION-TOKEN from the network in otas-authz.  Any bytes go
 * in (any length: the 4 KiB cap is part of what is tested);
 * the verdict must be a clean 0 or -1 with a reason, and a token that
 * passes must carry two well-formed lower-case uuids and integer times.  The secrets
 * are fixed so the seed corpus can hold validly signed tokens; "now" is
 * fixed so seeds do not expire.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"
#include "uuid.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char current[] = "otas-fuzz-current-secret-0123456789abcdef";
static unsigned char previous[] = "otas-fuzz-previous-secret-0123456789abcdef";

#define FUZZ_NOW 1750000000LL

/* What otas-authz hands on must be a uuid as we write one. */
static int
lower_uuid(const char *s)
{
	size_t	 i, n = strlen(s);

	for (i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'F')
			return 0;
	return uuid_valid(s, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct otas_secret cur = { current, sizeof(current) - 1 };
	struct otas_secret prev = { previous, sizeof(previous) - 1 };
	struct token_claims c;
	const char *why = NULL;
	char *copy;

	/* An exact-size heap copy, so ASan sees any read past the end. */
	if ((copy = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	memset(&c, 0, sizeof(c));
	if (token_verify(copy, size, &cur, &prev, FUZZ_NOW, 60, &c,
	    &why) == OTAS_OK) {
		if (!lower_uuid(c.session_id) || !lower_uuid(c.agent_id) ||
		    c.exp <= FUZZ_NOW - 60 || c.iat > FUZZ_NOW + 60)
			abort();
	} else if (why == NULL)
		abort();
	free(copy);
	return 0;
}
