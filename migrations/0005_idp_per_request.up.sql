-- Several identity providers (issue 16 part 2): a login request and a logout request are answered by
-- the IdP they were sent to, and only by it. NULL for rows written before this migration (they expire
-- within SAML_REQUEST_TTL_SECONDS and are then accepted from any configured IdP, as before).
ALTER TABLE saml_requests ADD COLUMN idp_issuer text;
ALTER TABLE saml_logout_pending ADD COLUMN idp_issuer text;
