-- API keys (issue 9): when each was last used (updated at most once a minute) and when it expires
-- (NULL: never); listed per company and revocable through the CLI and the API.
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
