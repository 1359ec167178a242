/*
 * fuzz_token_diff — differential target: the same token goes to the
 * verifier as shipped (token_verify: our checks around libjwt) and to the
 * independent oracle (tests/oracle/token_oracle.h: OpenSSL's HMAC-SHA256
 * over the first two segments, jansson refusing duplicate names, PyJWT's
 * rules and ours written down again); any disagreement, in the verdict or
 * in the claims of a token both accept, aborts.  How an input becomes a
 * token (raw, or JSON signed here): token_input.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"
#include "token_input.h"
#include "../oracle/token_oracle.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct otas_secret	 cur = { input_current,
				    sizeof(input_current) - 1 };
	struct otas_secret	 prev = { input_previous,
				    sizeof(input_previous) - 1 };
	struct token_claims	 ours, theirs;
	const char		*why;
	char			*tok;
	size_t			 len;
	int			 a, b;

	if (input_token(data, size, &tok, &len) == -1)
		return 0;
	memset(&ours, 0, sizeof(ours));
	a = token_verify(tok, len, &cur, &prev, INPUT_NOW, INPUT_LEEWAY,
	    &ours, &why) == OTAS_OK ? 0 : -1;
	b = oracle_verify(tok, len, &cur, &prev, INPUT_NOW, INPUT_LEEWAY,
	    &theirs);
	if (a != b || (a == 0 && memcmp(&ours, &theirs, sizeof(ours)) != 0))
		abort();
	free(tok);
	return 0;
}
