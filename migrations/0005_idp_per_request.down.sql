ALTER TABLE saml_logout_pending DROP COLUMN IF EXISTS idp_issuer;
ALTER TABLE saml_requests DROP COLUMN IF EXISTS idp_issuer;
