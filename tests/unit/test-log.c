/* log: redaction of secrets and the plain stderr format. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tap.h"

static void
redacts(const char *in, const char *want, const char *name)
{
	char *got = log_redact(in);

	is_str(got, want, name);
	free(got);
}

int
main(void)
{
	redacts("refresh failed: access_token=ya29.abc&x=1",
	    "refresh failed: access_token=[REDACTED]&x=1", "a token in a query string");
	redacts("{\"refresh_token\": \"1//0gabc\", \"expires_in\": 3599}",
	    "{\"refresh_token\": \"[REDACTED]\", \"expires_in\": 3599}",
	    "a token in JSON");
	redacts("Authorization: Bearer abc.def", "Authorization: [REDACTED]",
	    "an Authorization header with its scheme");
	redacts("got ya29.a0AfH6 from cache", "got ya29.[REDACTED] from cache",
	    "a Google access token anywhere");
	redacts("password=hunter2 user=bob", "password=[REDACTED] user=bob",
	    "a password");
	redacts("session_id: 7f3a9c", "session_id: [REDACTED]", "a session id");
	redacts("callback code=4/0Abc&state=xyz", "callback code=[REDACTED]&state=xyz",
	    "an OAuth code parameter");
	redacts("exit code: 78", "exit code: 78", "an exit code is not a secret");
	redacts("client_secret=GOCSPX-abc", "client_secret=[REDACTED]",
	    "a client secret");
	redacts("job 42 failed: timeout", "job 42 failed: timeout",
	    "ordinary text is untouched");
	redacts("my_token=", "my_token=", "an empty value stays empty");
	redacts("", "", "empty input");
	{
		/* Worst case growth: many one-byte secrets. */
		char in[400] = "", *out;
		for (int i = 0; i < 40; i++)
			strcat(in, "token=x ");
		out = log_redact(in);
		ok(strstr(out, "token=x") == NULL && strlen(out) > strlen(in),
		    "many short secrets are all masked");
		free(out);
	}
	ok(log_priority_from_name("debug") == LOG_DEBUG, "debug priority");
	ok(log_priority_from_name("warning") == LOG_WARNING, "warning priority");
	ok(log_priority_from_name("loud") == -1, "unknown priority");
	return tap_done();
}
