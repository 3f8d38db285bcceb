/** The IdP and SP every test talks about: one definition for the SAML unit tests and the app fixtures. */
export const IDP_ISSUER = 'http://www.okta.com/exk-test';
export const SP_ENTITY = 'https://auth.test.example/saml/metadata';
export const ACS_URL = 'https://auth.test.example/saml/acs';
export const IDP_SSO_URL = 'https://idp.test.example/sso';
