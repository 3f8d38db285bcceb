DROP INDEX IF EXISTS issued_tokens_live_session_idx;
DROP TABLE IF EXISTS saml_logout_pending;
DROP TABLE IF EXISTS saml_logout_seen;
