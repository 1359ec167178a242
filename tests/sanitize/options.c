/*
 * options — sanitizer defaults linked into every program of the sanitize
 * build (never into a normal one).  The programs run under web servers
 * that pass them no environment of ours (lighttpd's bin-copy-environment
 * is PATH only), so ASAN_OPTIONS cannot reach them: the options are
 * compiled in instead.  Every report goes to a file under
 * OTAS_SANITIZE_LOG, which tests/sanitize/run reads at the end, so a leak
 * reported when a FastCGI process exits is seen even though no test is
 * waiting for that process.
 */
#ifndef OTAS_SANITIZE_LOG
#error "build with -DOTAS_SANITIZE_LOG=\"/abs/dir\""
#endif

const char	*__asan_default_options(void);
const char	*__ubsan_default_options(void);
const char	*__lsan_default_options(void);

const char *
__asan_default_options(void)
{
	return "halt_on_error=1:detect_leaks=1:abort_on_error=0:"
	    "log_path=" OTAS_SANITIZE_LOG "/report";
}

const char *
__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1:"
	    "log_path=" OTAS_SANITIZE_LOG "/report";
}

const char *
__lsan_default_options(void)
{
	return "log_path=" OTAS_SANITIZE_LOG "/report";
}
