/*
 * fuzz_body — libFuzzer target for body_parse (lib/body.h), the strict JSON
 * check and the "meta" locator that every request body goes through.
 *
 * The input is copied into a buffer of exactly len + 1 bytes (body_read's
 * contract: buf[len] == '\0'), so ASan sees any read or write past it.
 * Beyond "no crash", each verdict is checked against what the caller relies
 * on: an accepted body is one JSON object to json-c too, and the meta it
 * hands to the database is NUL-terminated, an object, and either the static
 * "{}" or a span of the body itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* meta.json must parse, alone, as a JSON object. */
static void
check_meta_is_object(const struct body_meta *m)
{
	json_object *o;

	o = json_tokener_parse(m->json);
	if (o == NULL || !json_object_is_type(o, json_type_object))
		abort();
	json_object_put(o);
}

static void
check_accepted(const char *copy, size_t size, const char *buf,
    const struct body_meta *m)
{
	json_object *o;

	if (m->json == NULL || m->len == 0 || m->json[0] != '{' ||
	    m->json[m->len] != '\0' || strlen(m->json) != m->len)
		abort();
	if (m->json < buf || m->json + m->len > buf + size) {
		/* Not in the body: only the constant for absent/null meta. */
		if (strcmp(m->json, "{}") != 0)
			abort();
	}
	check_meta_is_object(m);
	if (size == 0)
		return;
	/* The untouched input is one JSON object to json-c as well. */
	if ((o = json_tokener_parse(copy)) == NULL ||
	    !json_object_is_type(o, json_type_object))
		abort();
	json_object_put(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct body_meta meta;
	const char *why = NULL;
	enum otas_status st;
	char *buf, *copy;

	if (size > 1 << 20)
		return 0;
	if ((buf = malloc(size + 1)) == NULL || (copy = malloc(size + 1)) ==
	    NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	memcpy(copy, buf, size + 1);

	st = body_parse(buf, size, &meta, &why);
	switch (st) {
	case OTAS_OK:
		check_accepted(copy, size, buf, &meta);
		break;
	case OTAS_ERR_JSON:
	case OTAS_ERR_META:
		if (why == NULL || size == 0)
			abort();
		break;
	default:
		/* OTAS_ERR_SERVER only for out of memory; anything else is a bug. */
		if (st != OTAS_ERR_SERVER)
			abort();
	}
	free(copy);
	free(buf);
	return 0;
}
