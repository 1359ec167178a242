/*
 * token_verdicts — replays token inputs through token_verify and prints
 * one line per input: "<name> ok <agent_session_id> <agent_id> <iat>
 * <exp>", "<name> no <why>", or "<name> none" when the input makes no
 * token.  Built twice, against Debian's libjwt and as the static build
 * links it (the Makefile's token-verdicts targets), so that
 * tests/integration/test_static.py can compare the two verdicts on the
 * whole corpus.
 *
 * Usage: token-verdicts ARG..., each ARG "raw:FILE" (the file is the
 * token, as in corpus/token/), "input:FILE" (a token_diff corpus input,
 * see token_input.h) or "sign", which prints "sign <token>": the token
 * token_signer_sign makes of SIGN_SID, SIGN_AID, now, now + 3600, so the
 * two builds' bytes can be compared too.  Secrets and "now" are
 * token_input.h's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"
#include "token_input.h"

#define VERDICT_MAX_INPUT	(64 * 1024)
#define SIGN_SID		"0190a8c4-5e3f-7b2a-9c1d-4e5f6a7b8c9d"
#define SIGN_AID		"0190a8c4-0000-7000-8000-000000000001"

static int
sign(void)
{
	struct otas_secret	 cur = { input_current,
				    sizeof(input_current) - 1 };
	struct token_signer	*ts;
	struct token_claims	 c;
	char			*tok;

	memset(&c, 0, sizeof(c));
	memcpy(c.session_id, SIGN_SID, sizeof(SIGN_SID));
	memcpy(c.agent_id, SIGN_AID, sizeof(SIGN_AID));
	c.iat = INPUT_NOW;
	c.exp = INPUT_NOW + 3600;
	if ((ts = token_signer_new(&cur)) == NULL ||
	    (tok = token_signer_sign(ts, &c)) == NULL) {
		token_signer_free(ts);
		fprintf(stderr, "token-verdicts: signing failed\n");
		return -1;
	}
	printf("sign %s\n", tok);
	free(tok);
	token_signer_free(ts);
	return 0;
}

/* The file's bytes into buf; its length or -1. */
static long
slurp(const char *path, uint8_t *buf, size_t cap)
{
	FILE	*f;
	size_t	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	n = fread(buf, 1, cap, f);
	if (ferror(f) || !feof(f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	return (long)n;
}

static void
verdict(const char *name, const char *tok, size_t len)
{
	struct otas_secret	 cur = { input_current,
				    sizeof(input_current) - 1 };
	struct otas_secret	 prev = { input_previous,
				    sizeof(input_previous) - 1 };
	struct token_claims	 c;
	const char		*why = NULL;

	if (token_verify(tok, len, &cur, &prev, INPUT_NOW, INPUT_LEEWAY, &c,
	    &why) == OTAS_OK)
		printf("%s ok %s %s %lld %lld\n", name, c.session_id,
		    c.agent_id, c.iat, c.exp);
	else
		printf("%s no %s\n", name, why);
}

/* One KIND:FILE argument; 0 or -1. */
static int
replay(const char *arg, uint8_t *buf)
{
	const char	*path = strchr(arg, ':');
	char		*tok;
	size_t		 len;
	long		 n;

	if (strcmp(arg, "sign") == 0)
		return sign();
	if (path == NULL || (n = slurp(path + 1, buf,
	    VERDICT_MAX_INPUT)) < 0) {
		fprintf(stderr, "token-verdicts: cannot read %s\n", arg);
		return -1;
	}
	if (strncmp(arg, "raw:", 4) == 0)
		verdict(arg, (const char *)buf, (size_t)n);
	else if (strncmp(arg, "input:", 6) != 0) {
		fprintf(stderr, "token-verdicts: no kind raw or input: %s\n",
		    arg);
		return -1;
	} else if (input_token(buf, (size_t)n, &tok, &len) == -1)
		printf("%s none\n", arg);
	else {
		verdict(arg, tok, len);
		free(tok);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	uint8_t		*buf;
	int		 i, status = 0;

	if ((buf = malloc(VERDICT_MAX_INPUT)) == NULL)
		return 2;
	for (i = 1; i < argc; i++)
		if (replay(argv[i], buf) == -1)
			status = 2;
	free(buf);
	return status;
}
