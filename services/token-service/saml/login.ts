import { randomBytes } from 'node:crypto';
import { SAML } from '@node-saml/node-saml';
import type { SamlSettings } from './config.js';
import { signRedirectUrl } from './redirect-binding.js';

export interface LoginRedirect {
  /** The IdP SSO URL with `SAMLRequest` (deflated, base64) and `RelayState` (HTTP-Redirect binding). */
  url: string;
  /** The AuthnRequest ID: store it; the Response's InResponseTo must name it. */
  requestId: string;
  /** When the request id stops being acceptable (`authnRequestTtlSeconds`). */
  expiresAt: Date;
}

/**
 * SP-initiated login: an AuthnRequest built by node-saml, asking for the HTTP-POST binding to our ACS
 * URL and a NameID in SAML_NAMEID_FORMAT (`NameIDPolicy Format=… AllowCreate="true"`: an IdP left at
 * its default would send a transient one). No AuthnContext is requested, so the IdP applies what the
 * application is configured with (requesting PasswordProtectedTransport breaks MFA logins at some
 * IdPs). Signed (query signature, RSA-SHA256) when SAML_SIGN_AUTHN_REQUESTS is on: node-saml signs a
 * `querystring` encoding and sends a `URLSearchParams` one, which differ for some RelayState
 * characters, so the signature is ours (redirect-binding.ts).
 */
export async function buildLoginRedirect(
  cfg: SamlSettings,
  relayState?: string,
  now: Date = new Date(),
  /** forceAuthn: ask the IdP to authenticate the person again (ForceAuthn="true"), e.g. after an idle timeout. */
  opts: { forceAuthn?: boolean } = {},
): Promise<LoginRedirect> {
  // An XML ID must not start with a digit.
  const requestId = `_${randomBytes(20).toString('hex')}`;
  const saml = new SAML({
    entryPoint: cfg.idpSsoUrl,
    issuer: cfg.spEntityId,
    callbackUrl: cfg.acsUrl,
    idpCert: [...cfg.idpCerts],
    identifierFormat: cfg.nameIdFormat,
    allowCreate: true,
    disableRequestedAuthnContext: true,
    generateUniqueId: () => requestId,
    forceAuthn: opts.forceAuthn === true,
  });
  const unsigned = await saml.getAuthorizeUrlAsync(relayState ?? '', undefined, {});
  const url = cfg.signAuthnRequests && cfg.spSigningKey !== undefined ? signRedirectUrl(unsigned, 'SAMLRequest', cfg.spSigningKey) : unsigned;
  return { url, requestId, expiresAt: new Date(now.getTime() + cfg.authnRequestTtlSeconds * 1000) };
}
