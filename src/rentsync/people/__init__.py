"""The console's people: users, passwords, sign-in (with its rate limit), one-time sign-in
links and session validity. Used by the web console, the API (sign-in links) and the CLI."""
