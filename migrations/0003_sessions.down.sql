DROP INDEX IF EXISTS issued_tokens_live_sid_idx;
ALTER TABLE issued_tokens DROP COLUMN IF EXISTS sid;
DROP TABLE IF EXISTS sessions;
