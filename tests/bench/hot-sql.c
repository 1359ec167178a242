/*
 * hot-sql — prints the SQL of the responder's hot-path statement, exactly
 * as lib/agent_session.c prepares it, followed by a newline.  `make bench` turns its
 * parameters into pgbench variables, so PostgreSQL's own ceiling is
 * measured with the very statement the responder sends and no hand-made
 * copy can drift from it.
 */
#include <stdio.h>

#include "agent_session.h"

int
main(void)
{
	if (printf("%s\n", agent_session_sql()) < 0 || fflush(stdout) != 0) {
		perror("hot-sql");
		return 1;
	}
	return 0;
}
