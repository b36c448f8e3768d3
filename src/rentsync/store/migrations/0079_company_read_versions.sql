-- A company's QuickBooks connection and sync settings carry a version that every write changes
-- (issue 13, P4): a sync job's first read returns both, and a worker reuses what it last read of
-- the company (decrypted tokens, parsed settings, its client) while they are the same, instead of
-- reading them again for every document. One sequence for both tables, so a row deleted and
-- created again never repeats a version a worker may still hold.
CREATE SEQUENCE company_read_versions;
ALTER TABLE qbo_connections
    ADD COLUMN version bigint NOT NULL DEFAULT nextval('company_read_versions');
ALTER TABLE company_settings
    ADD COLUMN version bigint NOT NULL DEFAULT nextval('company_read_versions');

CREATE FUNCTION company_read_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := nextval('company_read_versions');
    RETURN NEW;
END
$$;

CREATE TRIGGER qbo_connections_version BEFORE UPDATE ON qbo_connections
    FOR EACH ROW EXECUTE FUNCTION company_read_version_bump();
CREATE TRIGGER company_settings_version BEFORE UPDATE ON company_settings
    FOR EACH ROW EXECUTE FUNCTION company_read_version_bump();
