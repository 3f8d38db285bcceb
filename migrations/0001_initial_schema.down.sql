DROP TRIGGER IF EXISTS issued_tokens_notify_revoked ON issued_tokens;
DROP FUNCTION IF EXISTS notify_token_revoked();
DROP TABLE IF EXISTS saml_requests;
DROP TABLE IF EXISTS saml_assertions;
DROP TABLE IF EXISTS issued_tokens;
