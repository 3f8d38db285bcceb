import { randomBytes } from 'node:crypto';
import { SAML } from '@node-saml/node-saml';
import type { SamlSettings } from './config.js';

export interface LoginRedirect {
  /** The IdP SSO URL with `SAMLRequest` (deflated, base64) and `RelayState` (HTTP-Redirect binding). */
  url: string;
  /** The AuthnRequest ID: store it; the Response's InResponseTo must name it. */
  requestId: string;
  /** When the request id stops being acceptable (`authnRequestTtlSeconds`). */
  expiresAt: Date;
}

/**
 * SP-initiated login: an unsigned AuthnRequest built by node-saml, asking for the HTTP-POST binding
 * to our ACS URL. No NameID format and no AuthnContext are requested, so the IdP applies what the
 * application is configured with (requesting PasswordProtectedTransport breaks MFA logins at some IdPs).
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
    identifierFormat: null,
    disableRequestedAuthnContext: true,
    generateUniqueId: () => requestId,
    forceAuthn: opts.forceAuthn === true,
  });
  const url = await saml.getAuthorizeUrlAsync(relayState ?? '', undefined, {});
  return { url, requestId, expiresAt: new Date(now.getTime() + cfg.authnRequestTtlSeconds * 1000) };
}
