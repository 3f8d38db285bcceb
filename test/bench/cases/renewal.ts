/**
 * Bench 9: silent renewal (issue 13). `GET /saml/login?rd=…` with a live `__Host-saml_authz_session`
 * cookie on the token-service from dist/, round-robin over live sessions inserted beforehand: one
 * transaction holding the session's row lock (older tokens revoked, token row written, idle deadline
 * moved) and one ES256 signature, answered 303 to `rd`. Every answer is checked (status and Location);
 * a round with any other answer fails the benchmark.
 *
 * Baseline, same process, same rounds: the same request without a session cookie — the first step of
 * an ordinary sign-in (one transaction: advisory lock, count of the network's pending requests, request
 * id row) answered 302 to the IdP, built without a signature. What renewal adds over it is the session
 * lock, the revocation update, the token row and the ES256 JWT. Both carry X-Real-IP (the peer is a
 * trusted proxy, as behind NGINX), each request from its own address, so the pending-sign-in bound per
 * network neither refuses the baseline nor makes its count grow. `GET /healthz` on the same process runs
 * in the same rounds for scale (informative).
 */
import { randomUUID } from 'node:crypto';
import type { Request } from 'autocannon';
import { generateIdpKeys } from '../../../services/dev-idp/keys.js';
import { insertSession } from '../../../services/token-service/store/sessions.js';
import { newSessionSecret } from '../../../services/token-service/sessions/cookie.js';
import { ACS_URL, IDP_ISSUER, RETURN_BASE, SP_ENTITY } from '../../helpers/token-service.js';
import { AUDIENCE, ISSUER } from '../../helpers/tokens.js';
import type { BenchContext } from '../lib/context.js';
import { fmt, interleave, pairedCapacity, pairedRatio, type Summary, type Target } from '../lib/load.js';
import type { CaseResult } from '../lib/report.js';

const CONNECTIONS = 10;
const SSO_URL = 'https://idp.test.example/sso';
const PATH = `/saml/login?rd=${encodeURIComponent(RETURN_BASE)}`;

/** Answers seen, per round (-1: warm-up): status → count, and the first unexpected one. */
type Seen = Map<number, { statuses: Record<number, number>; unexpected?: string }>;

/** autocannon calls `onResponse` per answer; its bundled types (autocannon.d.ts) do not declare it. */
type Checked = Request & { onResponse: (status: number, body: string, context: unknown, headers: Record<string, string | string[]>) => void };

function header(headers: Record<string, string | string[]>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return Array.isArray(v) ? v.join(', ') : v;
  return undefined;
}

/** One request per answer expected to be `status` with a Location accepted by `location`. */
function checkedRequests(
  seen: Seen,
  round: number,
  expect: { status: number; location?: (l: string | undefined) => boolean },
  headersFor: (i: number) => Record<string, string>,
  path: string,
): Request[] {
  const entry = { statuses: {} as Record<number, number> } as { statuses: Record<number, number>; unexpected?: string };
  seen.set(round, entry);
  let i = 0;
  const req: Checked = {
    method: 'GET',
    path,
    setupRequest: (r) => ({ ...r, headers: headersFor(i++) }),
    onResponse: (status, _body, _context, headers) => {
      entry.statuses[status] = (entry.statuses[status] ?? 0) + 1;
      const location = header(headers, 'location');
      if (entry.unexpected === undefined && (status !== expect.status || (expect.location && !expect.location(location)))) {
        entry.unexpected = `${status} ${location ?? '(no Location)'}`;
      }
    },
  };
  return [req];
}

/** Each request its own client address (10.0.0.0/8), as NGINX's X-Real-IP would give it. */
function clientAddress(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) || 1}`;
}

function verify(name: string, seen: Seen, summary: Summary, status: number): number {
  let answered = 0;
  for (const [round, entry] of seen) {
    const other = Object.entries(entry.statuses).filter(([s]) => Number(s) !== status);
    if (entry.unexpected !== undefined || other.length > 0) {
      throw new Error(`${name}, round ${round + 1}: expected every answer ${status}, saw ${JSON.stringify(entry.statuses)} (first unexpected: ${entry.unexpected})`);
    }
    answered += entry.statuses[status] ?? 0;
  }
  const measured = summary.rounds.reduce((n, r) => n + r.requests, 0);
  if (measured === 0) throw new Error(`${name}: no answers`);
  return answered;
}

async function renewedCounter(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const m = /^session_renewals_total\{result="renewed"\} (\d+)/m.exec(text);
  if (!m) throw new Error('session_renewals_total{result="renewed"} not found in /metrics');
  return Number(m[1]);
}

export async function renewal(ctx: BenchContext): Promise<CaseResult> {
  const sessions = ctx.quick ? 500 : 2000;
  const idp = await generateIdpKeys();
  const now = new Date();
  const cookies: string[] = [];
  for (let i = 0; i < sessions; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(sessions, i + 50); j++) {
      const { secret, hash } = newSessionSecret();
      cookies.push(`__Host-saml_authz_session=${secret}`);
      batch.push(insertSession(ctx.db.kysely, {
        sid: randomUUID(), secretHash: hash, subject: `user${j}@example.com`, email: `user${j}@example.com`, groups: ['staff'],
        idpIssuer: IDP_ISSUER, sessionIndex: null, nameIdFormat: null, clientAddress: null,
        createdAt: now, idleExpiresAt: new Date(now.getTime() + 3_600_000), expiresAt: new Date(now.getTime() + 7_200_000),
      }));
    }
    await Promise.all(batch);
  }

  const svc = await ctx.startTokenService('token-service', {
    SAML_IDP_CERT: idp.cert, SAML_IDP_ISSUER: IDP_ISSUER, SAML_IDP_SSO_URL: SSO_URL, SAML_SP_ENTITY_ID: SP_ENTITY, SAML_ACS_URL: ACS_URL,
    JWT_PRIVATE_KEY: ctx.jwtKey.privatePem, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, ALLOWED_RETURN_URLS: RETURN_BASE,
    RATE_LIMIT_MAX: '1000000', SAML_MAX_PENDING_LOGINS: '10000', TRUSTED_PROXIES: '127.0.0.1', SWEEP_INTERVAL_SECONDS: '0',
  });
  const pids = () => (ctx.postgresPid === null ? [svc.proc.pid] : [svc.proc.pid, ctx.postgresPid]);
  const navigation = (i: number) => ({ 'sec-fetch-dest': 'document', accept: 'text/html', host: 'auth.test.example', 'x-real-ip': clientAddress(i) });
  const seen = { renew: new Map() as Seen, login: new Map() as Seen, health: new Map() as Seen };
  let address = 0; // shared by both login targets: no address repeats in the run
  const targets: Target[] = [
    {
      name: 'renewal (session cookie) → 303',
      pids,
      load: { url: svc.url, connections: CONNECTIONS },
      perRound: (r) => ({
        requests: checkedRequests(seen.renew, r, { status: 303, location: (l) => l === RETURN_BASE }, (i) => ({ ...navigation(address++), cookie: cookies[i % cookies.length]! }), PATH),
      }),
    },
    {
      name: 'sign-in start (no cookie) → 302 IdP',
      pids,
      load: { url: svc.url, connections: CONNECTIONS },
      perRound: (r) => ({ requests: checkedRequests(seen.login, r, { status: 302, location: (l) => l?.startsWith(`${SSO_URL}?`) === true }, () => navigation(address++), PATH) }),
    },
    {
      name: 'GET /healthz',
      pids,
      load: { url: svc.url, connections: CONNECTIONS },
      perRound: (r) => ({ requests: checkedRequests(seen.health, r, { status: 200 }, () => ({ host: 'auth.test.example' }), '/healthz') }),
    },
  ];
  const renewedBefore = await renewedCounter(svc.metricsPort);
  // 303 and 302 are the expected answers here: checked per answer above, not by interleave's 2xx rule.
  const [a, b, h] = await interleave(targets, { rounds: ctx.quick ? 2 : 4, seconds: ctx.quick ? 3 : 5, warmupSeconds: 2, allowNon2xx: true }, ctx.log);
  const renewals = verify(a!.target, seen.renew, a!, 303);
  verify(b!.target, seen.login, b!, 302);
  verify(h!.target, seen.health, h!, 200);
  // Every 303 counted was a renewal: the service's own counter agrees (a round's last in-flight requests
  // may be renewed without their answer being counted, at most one per connection and round).
  const renewed = (await renewedCounter(svc.metricsPort)) - renewedBefore;
  const slack = CONNECTIONS * seen.renew.size;
  if (renewed < renewals || renewed > renewals + slack) throw new Error(`session_renewals_total{renewed} grew by ${renewed}, but ${renewals} renewals were answered`);

  const ratio = pairedRatio(a!, b!);
  const scale = pairedRatio(a!, h!);
  const capacity = pairedCapacity(a!, b!);
  const split = (s: Summary) => s.cpuUsByRoot.map((x) => fmt(x, 0)).join(' + ');
  return {
    id: '9',
    title: 'silent renewal vs the start of a sign-in',
    rows: [
      { bench: '9', measure: `renewals/s, ${CONNECTIONS} connections, ${sessions} sessions round-robin`, value: `${fmt(a!.rps, 0)} req/s`, baseline: `${fmt(b!.rps, 0)} req/s (no cookie → IdP)`, ratio: fmt(ratio), target: '', met: null },
      { bench: '9', measure: 'p99 latency, saturated', value: `${fmt(a!.p99Ms, 1)} ms`, baseline: `${fmt(b!.p99Ms, 1)} ms`, ratio: fmt(a!.p99Ms / b!.p99Ms), target: '', met: null },
      { bench: '9', measure: 'server CPU per request, service + Postgres (capacity ratio)', value: `${fmt(a!.cpuUsPerRequest, 0)} µs (${split(a!)})`, baseline: `${fmt(b!.cpuUsPerRequest, 0)} µs (${split(b!)})`, ratio: fmt(capacity), target: '', met: null },
      { bench: '9', measure: 'for scale: GET /healthz, same process', value: `${fmt(a!.rps, 0)} req/s`, baseline: `${fmt(h!.rps, 0)} req/s, ${fmt(h!.cpuUsPerRequest, 0)} µs CPU`, ratio: fmt(scale), target: '(informative)', met: null },
    ],
    data: { renewal: a, signInStart: b, healthz: h, sessions, ratio, capacity, healthzRatio: scale, renewedCounter: renewed, renewalsAnswered: renewals },
  };
}
