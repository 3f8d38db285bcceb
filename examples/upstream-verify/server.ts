/**
 * An upstream that trusts the authz-service's X-Auth-Request-Jwt and nothing else: the identity comes
 * from the verified assertion, never from the plain X-Auth-Request-* headers, so a request that reached
 * it around the proxy (a missed auth_request, a pod reached directly) has no identity.
 *
 *   AUTHZ_JWKS_URL=http://authz-service.saml-authz.svc:8081/.well-known/jwks.json \
 *   UPSTREAM_JWT_ISSUER=https://authz.example.com UPSTREAM_JWT_AUDIENCE=app.example.com \
 *   node --import tsx examples/upstream-verify/server.ts
 *
 * Only `jose` is needed (npm install jose).
 */
import { createServer, type Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

export interface Options {
  jwksUrl: string;
  issuer: string;
  /** this upstream's name: the rule's `audience`, or its host name */
  audience: string;
}

/** The verified claims of a request's X-Auth-Request-Jwt, or null: absent, forged, expired, for another upstream. */
export function assertionVerifier(o: Options): (header: string | string[] | undefined) => Promise<JWTPayload | null> {
  const jwks = createRemoteJWKSet(new URL(o.jwksUrl)); // cached; refetched when an unknown kid shows up
  return async (header) => {
    if (typeof header !== 'string') return null;
    try {
      const { payload } = await jwtVerify(header, jwks, { issuer: o.issuer, audience: o.audience, algorithms: ['ES256', 'EdDSA', 'RS256'], maxTokenAge: '60s' });
      return payload;
    } catch {
      return null;
    }
  };
}

/** 401 without a valid assertion; otherwise who is asking. */
export function createUpstream(o: Options): Server {
  const verify = assertionVerifier(o);
  return createServer((req, res) => {
    void verify(req.headers['x-auth-request-jwt']).then((claims) => {
      if (claims === null) return res.writeHead(401, { 'content-type': 'text/plain' }).end('no valid identity assertion\n');
      const body = JSON.stringify({ sub: claims.sub, email: claims.email ?? null, groups: claims.groups ?? [] });
      return res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const need = (name: string) => process.env[name] ?? (console.error(`${name} is required`), process.exit(2));
  const port = Number(process.env.PORT ?? 3000);
  createUpstream({ jwksUrl: need('AUTHZ_JWKS_URL'), issuer: need('UPSTREAM_JWT_ISSUER'), audience: need('UPSTREAM_JWT_AUDIENCE') }).listen(port, '0.0.0.0');
}
