import type { IncomingHttpHeaders } from 'node:http';
import type { Audit } from '../../shared/audit.js';
import { ClientAddressResolver } from '../../shared/client-ip.js';
import { presentedToken } from '../../shared/cookies.js';
import type { VerifiedClaims } from '../../shared/jwt-verify.js';
import type { AuthzServiceConfig } from '../config.js';
import type { AuthzMetrics } from '../metrics.js';
import type { AuthzReason, MetricOutcome, ReasonOf, TokenReason } from '../reasons.js';
import { authenticate, type Authentication } from '../tokens/authenticate.js';
import { evaluate } from '../policy/evaluate.js';
import type { LivePolicy } from '../policy-file/live.js';
import type { CompiledPolicy } from '../policy/compile.js';
import type { Decision, Identity } from '../policy/types.js';
import { readOriginalRequest, type AuthRequestInput, type FrontEndOptions, type OriginalRequest } from '../request/front-end.js';
import { auditPath } from '../request/audit-path.js';
import { normalizePath } from '../request/path.js';
import type { KeySource } from '../tokens/key-source.js';
import type { LivenessCache } from '../tokens/liveness.js';
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

/** The request `/auth` is asked about, as Node's server hands it over (method and url are always set). */
export type AuthRequest = AuthRequestInput & { headers: IncomingHttpHeaders; socket: { remoteAddress?: string | undefined } };

/**
 * Decides one `/auth` request: pushes the answer's headers (name, value, name, value…, lower-case
 * names) onto `out` and returns its status, synchronously when the token's answers are cached (the
 * steady state: no promise), else a promise. Throws only on a programming error (a 500 either way).
 */
export type Decide = (req: AuthRequest, requestId: string, out: string[]) => number | Promise<number>;

const BEARER_REALM = 'Bearer realm="saml-authz"';
const BEARER_INVALID = 'Bearer realm="saml-authz", error="invalid_token"';

/** What is known about a request once its token is read: what the answer is decided from. */
interface Read {
  requestId: string;
  out: string[];
  started: number;
  original: OriginalRequest;
  path: string;
  client: string;
  token: string | undefined;
}

/**
 * The `/auth` decision, independent of the server that carries it: the front door
 * (routes/front-door.ts) answers NGINX's and Traefik's requests with it before Fastify's router,
 * the Fastify route (routes/auth.ts) every other form. Reads the original request from the configured
 * front end only, normalises its path, verifies the token and its liveness (cached), evaluates the
 * policy. 200 allow, 401 unauthenticated, 403 deny or a request that cannot be read one way only
 * (NGINX turns any other status into a 500 at the client), 500 only when the front end sent no
 * original request at all (a misconfiguration no client can cause). Every error path denies.
 */
export function authDecider(ctx: AuthContext): Decide {
  const { config, metrics, audit, policy, keys, liveness, upstream } = ctx;
  const upstreamAll = config.upstreamJwt?.all === true;
  const frontEndOptions: FrontEndOptions = {
    envoyPathPrefix: config.envoyPathPrefix,
    checkRequestRedirect: config.ingressCheckRequestRedirect,
    allowMethodOverride: config.allowMethodOverride,
  };
  const clients = new ClientAddressResolver(config.trustedProxies, { realIp: config.trustRealIp });
  const { reason: sendReason, rule: sendRule } = config.refusalHeaders;

  /**
   * Refusals carry their reason in `X-Auth-Request-Reason` (and the deny rule in `X-Auth-Request-Rule`)
   * and no body: NGINX's auth_request reads only the status, and an upstream answer with a body costs
   * it the keep-alive connection to this service. Behind Traefik and Envoy these headers reach the
   * client, so which of them are sent is configurable (REFUSAL_HEADERS; the rule is off there by default).
   */
  const refuse = (out: string[], status: 401 | 403 | 500, reason: AuthzReason) => {
    if (sendReason) out.push('x-auth-request-reason', reason);
    return status;
  };
  const finish = <O extends MetricOutcome>(outcome: O, reason: ReasonOf<O>, started: number) => metrics.decided(outcome, reason, (performance.now() - started) / 1000);

  /** The answer once the token is known (verified and live, or why not). */
  const conclude = (r: Read, authn: Authentication): number => {
    const { original, path, client, out } = r;
    const verifiedClaims: VerifiedClaims | null = authn.ok ? authn.claims : null;
    const identity: Identity | null = verifiedClaims;
    const compiled = policy.current.compiled;
    let decision = evaluate(compiled, { method: original.method, host: original.host, path, clientIp: client }, identity);
    if (original.overrideMethod !== undefined) decision = bothMethods(compiled, decision, original.overrideMethod, original.host, path, client, identity);
    let assertionExpired = false;
    if (decision.outcome === 'allow') {
      // The upstream assertion vouches for a signed-in, live user only: never for a public allow.
      if (upstream !== null && verifiedClaims !== null && decision.public !== true) {
        const rule = compiled.byId.get(decision.ruleId ?? '');
        if (rule === undefined) throw new Error('an allow decision names no rule of the policy in force');
        if (upstreamAll || rule.upstreamJwt) {
          const assertion = upstream.get(verifiedClaims, rule.audience ?? hostWithoutPort(original.host), Date.now());
          if (assertion !== null) out.push('x-auth-request-jwt', assertion);
          else assertionExpired = true;
        }
      }
      if (!assertionExpired) {
        finish('allow', decision.reason as ReasonOf<'allow'>, r.started); // evaluate: an allow is allow_rule or public_rule
        if (verifiedClaims !== null) identityHeaders(out, verifiedClaims.subject, verifiedClaims.email, verifiedClaims.groups);
        return 200;
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
      path: auditPath(path),
      client,
      request_id: r.requestId,
    });
    if (tokenReason !== null) {
      finish('unauthenticated', tokenReason, r.started);
      out.push('www-authenticate', r.token === undefined ? BEARER_REALM : BEARER_INVALID);
      return refuse(out, 401, tokenReason);
    }
    finish('deny', denyReason, r.started);
    if (sendRule && decision.ruleId) out.push('x-auth-request-rule', decision.ruleId);
    return refuse(out, 403, denyReason);
  };

  return (req, requestId, out) => {
    const started = performance.now();
    const original = readOriginalRequest(config.frontEnd, req, frontEndOptions);
    if (!original.ok) {
      audit({ event: 'access_denied', reason: original.reason, client: req.socket.remoteAddress ?? null, request_id: requestId });
      finish('bad_request', original.reason, started);
      // Only a front end that sends no original request at all is a 5xx (operators' alerts fire);
      // anything a client can cause is a 403.
      return refuse(out, original.reason === 'missing_original_request' ? 500 : 403, original.reason);
    }
    const path = normalizePath(original.rawPath, config.pathRelaxations);
    const headers = req.headers; // a getter on Node's request: read once
    const client = clients.resolve(req.socket, headers);
    if (!path.ok) {
      audit({ event: 'access_denied', reason: path.reason, method: original.method, host: original.host, path: auditPath(original.rawPath), client, request_id: requestId });
      finish('bad_request', path.reason, started);
      return refuse(out, 403, path.reason);
    }
    const presented = presentedToken(headers.authorization, headers.cookie, config.cookieName);
    if (presented.kind === 'ambiguous') {
      // Two session cookies: one was set by another site (cookie tossing); the request cannot be read one way only.
      audit({ event: 'access_denied', reason: 'ambiguous_cookie', method: original.method, host: original.host, path: path.path, client, request_id: requestId });
      finish('bad_request', 'ambiguous_cookie', started);
      return refuse(out, 403, 'ambiguous_cookie');
    }
    const token = presented.kind === 'token' ? presented.token : undefined;
    const read: Read = { requestId, out, started, original, path: path.path, client, token };
    const authn = authenticate(keys, liveness, token);
    return authn instanceof Promise ? authn.then((a) => conclude(read, a)) : conclude(read, authn);
  };
}

/**
 * With ALLOW_METHOD_OVERRIDE, the application may run the override's method: the decision must hold
 * for both. A deny (or a sign-in requirement) for either method wins; an allow needs both to allow.
 */
function bothMethods(compiled: CompiledPolicy, first: Decision, method: string, host: string, path: string, clientIp: string, identity: Identity | null): Decision {
  if (first.outcome !== 'allow') return first;
  return evaluate(compiled, { method, host, path, clientIp }, identity);
}
