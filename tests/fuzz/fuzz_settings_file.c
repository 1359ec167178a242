/*
 * fuzz_settings_file — libFuzzer target for the settings file's NAME=value
 * lines alone (settings_file_parse), handed the bytes in memory.
 *
 * fuzz_config runs the whole loader through a file on disk, a few hundred
 * inputs a second; this one skips the disk and config.c's judgement so the
 * line grammar gets its thousands a second.  The text is exactly the
 * input and its NUL (len + 1 bytes of its own allocation), so ASan sees a
 * read past it.  Each line handed to the callback is checked against what
 * settings_file.h promises and against the input itself: NAME is 1 to
 * SETTINGS_FILE_NAME_MAX of [A-Za-z0-9_] after only blanks on its line,
 * '=' follows it, the value is the rest of that line (less one final '\r')
 * with its NUL inside the text, and f->line is that line's number, rising
 * from call to call.  A refusal comes with a sentence of static storage
 * that names no byte of the input; a callback's -1 stops the parse with
 * *why NULL.  Any breach aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "settings_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Laid out by the linker: the program's image, its constants included. */
extern const char __executable_start[], edata[];

struct seen {
	struct settings_file	*f;
	const uint8_t		*data;	/* the input, untouched */
	unsigned		 last_line;
	size_t			 calls;
	size_t			 stop_at;	/* the call that returns -1 */
};

static void
check(int ok)
{
	if (!ok)
		abort();
}

/* The number of the line holding byte off: 1 + the newlines before it. */
static unsigned
line_of(const uint8_t *d, size_t off)
{
	unsigned line = 1;
	size_t i;

	for (i = 0; i < off; i++)
		line += d[i] == '\n';
	return line;
}

static int
name_byte(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

/* The name and value the callback got, against the bytes of the input. */
static void
check_line(const struct seen *s, size_t at, size_t name_len,
    const char *value)
{
	const uint8_t *d = s->data;
	size_t start = at, end = at, i, vat, vlen;

	while (start > 0 && d[start - 1] != '\n')
		start--;
	for (i = start; i < at; i++)
		check(d[i] == ' ' || d[i] == '\t');
	check(name_len >= 1 && name_len <= SETTINGS_FILE_NAME_MAX);
	for (i = at; i < at + name_len; i++)
		check(name_byte(d[i]));
	check(at + name_len < s->f->len && d[at + name_len] == '=');
	while (end < s->f->len && d[end] != '\n')
		end++;
	if (end > start && d[end - 1] == '\r')
		end--;
	vat = at + name_len + 1;
	check(value == s->f->text + vat && vat <= end);
	vlen = strlen(value);
	check(vlen == end - vat && memcmp(value, d + vat, vlen) == 0);
	check(memchr(value, '\n', vlen) == NULL);
	check(s->f->line == line_of(d, at) && s->f->line > s->last_line);
}

static int
set(void *arg, const char *name, size_t name_len, const char *value)
{
	struct seen *s = arg;
	const char *text = s->f->text;

	check(name >= text && name < text + s->f->len);
	check(value > name && value <= text + s->f->len);
	check_line(s, (size_t)(name - text), name_len, value);
	s->last_line = s->f->line;
	return ++s->calls == s->stop_at ? -1 : 0;
}

/* A refusal's sentence: printable, in the image, not in the text. */
static void
check_why(const char *why, const struct settings_file *f)
{
	size_t i, n;

	check(why != NULL && why >= __executable_start && why < edata);
	check(!(why >= f->text && why <= f->text + f->len));
	n = strlen(why);
	check(n > 0);
	for (i = 0; i < n; i++)
		check(why[i] >= 0x20 && why[i] < 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct settings_file f;
	struct seen s = { &f, data, 0, 0, 0 };
	const char *why = "unset";
	int rc;

	memset(&f, 0, sizeof(f));
	if ((f.text = malloc(size + 1)) == NULL)
		abort();
	memcpy(f.text, data, size);
	f.text[size] = '\0';
	f.len = size;
	/* Inputs whose first byte is odd stop at the second line handed. */
	s.stop_at = size > 0 && (data[0] & 1) ? 2 : 0;
	rc = settings_file_parse(&f, set, &s, &why);
	check(rc == 0 || rc == -1);
	if (rc == 0) {
		check(why == NULL && memchr(data, '\0', size) == NULL);
		check(s.stop_at == 0 || s.calls < s.stop_at);
	} else if (s.stop_at != 0 && s.calls == s.stop_at) {
		check(why == NULL);
	} else {
		check(f.line >= 1 && f.line <= line_of(data, size));
		check_why(why, &f);
	}
	free(f.text);
	return 0;
}
