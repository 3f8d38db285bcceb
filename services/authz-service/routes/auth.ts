import { METHODS } from 'node:http';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Audit } from '../../shared/audit.js';
import { ClientAddressResolver } from '../../shared/client-ip.js';
import { presentedToken } from '../../shared/cookies.js';
import type { AuthzServiceConfig } from '../config.js';
import type { AuthzMetrics } from '../metrics.js';
import type { AuthzReason, MetricOutcome, ReasonOf, TokenReason } from '../reasons.js';
import { authenticate } from '../tokens/authenticate.js';
import { evaluate } from '../policy/evaluate.js';
import type { LivePolicy } from '../policy-file/live.js';
import type { CompiledPolicy } from '../policy/compile.js';
import type { Decision, Identity } from '../policy/types.js';
import { readOriginalRequest, type FrontEndOptions } from '../request/front-end.js';
import { auditPath } from '../request/audit-path.js';
import { normalizePath } from '../request/path.js';
import type { KeySource } from '../tokens/key-source.js';
import type { LivenessCache } from '../tokens/liveness.js';
import type { VerifiedClaims } from '../../shared/jwt-verify.js';
import { hostWithoutPort, type UpstreamAssertions } from '../upstream/assertions.js';
import { identityHeaders } from './identity-headers.js';

export interface AuthContext {
  config: AuthzServiceConfig;
  metrics: AuthzMetrics;
  audit: Audit;
  policy: LivePolicy;
  keys: KeySource;
  liveness: LivenessCache;
  /** X-Auth-Request-Jwt signer and cache; null when UPSTREAM_JWT_* is not configured */
  upstream: UpstreamAssertions | null;
}

/** Every method Node's parser knows (CONNECT never reaches a route): an auth subrequest keeps the original one. */
const ALL_METHODS = METHODS.filter((m) => m !== 'CONNECT');

/** Lets the app route every method, none of them with a body to parse. Call on the root instance. */
export function supportEveryMethod(app: FastifyInstance): void {
  for (const method of ALL_METHODS) {
    if (!app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: false });
  }
}
const BEARER_REALM = 'Bearer realm="saml-authz"';
const BEARER_INVALID = 'Bearer realm="saml-authz", error="invalid_token"';

/**
 * `/auth` — the decision endpoint NGINX (or Traefik, Envoy) asks about every request. Reads the
 * original request from the configured front end only, normalises its path, verifies the token and
 * its liveness (cached), evaluates the policy. 200 allow, 401 unauthenticated, 403 deny or a request
 * that cannot be read one way only (NGINX turns any other status into a 500 at the client), 500 only
 * when the front end sent no original request at all (a misconfiguration no client can cause).
 * Reads no body. Every error path denies.
 */
const auth: FastifyPluginAsync<AuthContext> = async (app, ctx) => {
  const { config, metrics, audit, policy, keys, liveness, upstream } = ctx;
  const upstreamAll = config.upstreamJwt?.all === true;
  const frontEndOptions: FrontEndOptions = {
    envoyPathPrefix: config.envoyPathPrefix,
    checkRequestRedirect: config.ingressCheckRequestRedirect,
    allowMethodOverride: config.allowMethodOverride,
  };
  const clients = new ClientAddressResolver(config.trustedProxies, { realIp: config.trustRealIp });
  const { reason: sendReason, rule: sendRule } = config.refusalHeaders;

  // No body is read: any content type is accepted and left unparsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  /**
   * Refusals carry their reason in `X-Auth-Request-Reason` (and the deny rule in `X-Auth-Request-Rule`)
   * and no body: NGINX's auth_request reads only the status, and an upstream answer with a body costs
   * it the keep-alive connection to this service. Behind Traefik and Envoy these headers reach the
   * client, so which of them are sent is configurable (REFUSAL_HEADERS; the rule is off there by default).
   */
  const refuse = (reply: FastifyReply, status: 401 | 403 | 500, reason: AuthzReason) => {
    if (sendReason) reply.header('x-auth-request-reason', reason);
    return reply.code(status).send();
  };

  const finish = <O extends MetricOutcome>(outcome: O, reason: ReasonOf<O>, started: number) => metrics.decided(outcome, reason, (performance.now() - started) / 1000);

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const started = performance.now();
    const original = readOriginalRequest(config.frontEnd, { method: req.method, url: req.url, headers: req.headers, rawHeaders: req.raw.rawHeaders }, frontEndOptions);
    if (!original.ok) {
      audit({ event: 'access_denied', reason: original.reason, client: req.socket.remoteAddress ?? null, request_id: req.id });
      finish('bad_request', original.reason, started);
      // Only a front end that sends no original request at all is a 5xx (operators' alerts fire);
      // anything a client can cause is a 403.
      return refuse(reply, original.reason === 'missing_original_request' ? 500 : 403, original.reason);
    }
    const path = normalizePath(original.rawPath, config.pathRelaxations);
    const client = clients.resolve(req.socket, req.headers);
    if (!path.ok) {
      audit({ event: 'access_denied', reason: path.reason, method: original.method, host: original.host, path: auditPath(original.rawPath), client, request_id: req.id });
      finish('bad_request', path.reason, started);
      return refuse(reply, 403, path.reason);
    }

    const presented = presentedToken(req.headers.authorization, req.headers.cookie, config.cookieName);
    if (presented.kind === 'ambiguous') {
      // Two session cookies: one was set by another site (cookie tossing); the request cannot be read one way only.
      audit({ event: 'access_denied', reason: 'ambiguous_cookie', method: original.method, host: original.host, path: path.path, client, request_id: req.id });
      finish('bad_request', 'ambiguous_cookie', started);
      return refuse(reply, 403, 'ambiguous_cookie');
    }
    const token = presented.kind === 'token' ? presented.token : undefined;
    let authn = authenticate(keys, liveness, token);
    if (authn instanceof Promise) authn = await authn;
    const verifiedClaims: VerifiedClaims | null = authn.ok ? authn.claims : null;
    const identity: Identity | null = verifiedClaims;

    const compiled = policy.current.compiled;
    let decision = evaluate(compiled, { method: original.method, host: original.host, path: path.path, clientIp: client }, identity);
    if (original.overrideMethod !== undefined) decision = bothMethods(compiled, decision, original.overrideMethod, original.host, path.path, client, identity);
    let assertionExpired = false;
    if (decision.outcome === 'allow') {
      // The upstream assertion vouches for a signed-in, live user only: never for a public allow.
      if (upstream !== null && verifiedClaims !== null && decision.public !== true) {
        const rule = compiled.byId.get(decision.ruleId ?? '');
        if (rule === undefined) throw new Error('an allow decision names no rule of the policy in force');
        if (upstreamAll || rule.upstreamJwt) {
          const assertion = upstream.get(verifiedClaims, rule.audience ?? hostWithoutPort(original.host), Date.now());
          if (assertion !== null) reply.header('x-auth-request-jwt', assertion);
          else assertionExpired = true;
        }
      }
      if (!assertionExpired) {
        finish('allow', decision.reason as ReasonOf<'allow'>, started); // evaluate: an allow is allow_rule or public_rule
        if (verifiedClaims !== null) identityHeaders(reply, verifiedClaims.subject, verifiedClaims.email, verifiedClaims.groups);
        return reply.code(200).send();
      }
    }
    // An allow whose assertion cannot be valid (the token expires within a second) is a sign-in again.
    // Otherwise a sign-in is asked for only of a request without a live token (the policy needs one).
    const tokenReason: TokenReason | null = assertionExpired ? 'expired' : decision.outcome === 'unauthenticated' ? (authn.ok ? 'no_token' : authn.reason) : null;
    const denyReason = decision.reason as ReasonOf<'deny'>; // evaluate: a deny is explicit_deny or no_matching_rule
    const reason = tokenReason ?? denyReason;
    audit({
      event: 'access_denied',
      subject: verifiedClaims?.subject ?? null,
      // Audit only (a log line per denial): never a metric label, entity ids are not a bounded set.
      ...(verifiedClaims !== null && verifiedClaims.idp !== null ? { idp: verifiedClaims.idp } : {}),
      jti: authn.ok ? authn.claims.jti : authn.jti,
      reason,
      rule: decision.ruleId ?? null,
      method: original.overrideMethod === undefined ? original.method : `${original.method}+${original.overrideMethod}`,
      host: original.host,
      path: auditPath(path.path),
      client,
      request_id: req.id,
    });
    if (tokenReason !== null) {
      finish('unauthenticated', tokenReason, started);
      return refuse(reply.header('www-authenticate', token === undefined ? BEARER_REALM : BEARER_INVALID), 401, tokenReason);
    }
    finish('deny', denyReason, started);
    if (sendRule && decision.ruleId) reply.header('x-auth-request-rule', decision.ruleId);
    return refuse(reply, 403, denyReason);
  };

  app.route({ method: ALL_METHODS, url: '/auth', handler });
  if (config.frontEnd === 'envoy') {
    app.route({ method: ALL_METHODS, url: config.envoyPathPrefix, handler });
    app.route({ method: ALL_METHODS, url: `${config.envoyPathPrefix}/*`, handler });
  }
};

/**
 * With ALLOW_METHOD_OVERRIDE, the application may run the override's method: the decision must hold
 * for both. A deny (or a sign-in requirement) for either method wins; an allow needs both to allow.
 */
function bothMethods(compiled: CompiledPolicy, first: Decision, method: string, host: string, path: string, clientIp: string, identity: Identity | null): Decision {
  if (first.outcome !== 'allow') return first;
  return evaluate(compiled, { method, host, path, clientIp }, identity);
}

export default auth;
