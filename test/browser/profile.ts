/**
 * What a scenario works with: a fresh browser profile (its own cookie jar, one page, the network log),
 * the stack, small flows a person does (sign in at the IdP, submit a sign-out form) and a site of
 * another origin that serves an auto-posting form (the login-CSRF attacker).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Test } from 'tap';
import { autoPostForm } from '../../services/dev-idp/html.js';
import type { ServiceProcess } from '../helpers/process.js';
import type { Stack } from '../e2e/fixture.js';
import type { ConfigName } from '../e2e/nginx.js';
import { NetworkLog, type Exchange } from './chromium.js';

export const APP_HOST = 'app.example.com';
export const IDP_HOST = 'idp.example.net';
export const ATTACKER_HOST = 'attacker.example.org';
/** The session cookie's default name (COOKIE_NAME unset). */
export const SESSION_COOKIE = '__Host-saml_authz';
/** The session (renewal) cookie: COOKIE_NAME + `_session`. */
export const RENEWAL_COOKIE = '__Host-saml_authz_session';
export const LOGIN_STATE_PREFIX = '__Host-saml_login_';
/** Upper bound for one browser step (navigation, redirect chain, form post) on a loaded two-core machine. */
export const STEP_MS = 15_000;

export interface Profile {
  context: BrowserContext;
  page: Page;
  net: NetworkLog;
}

export interface ScenarioContext {
  t: Test;
  config: ConfigName;
  stack: Stack;
  browser: Browser;
  /** a new browser profile (cookie jar), closed after the scenario */
  profile(): Promise<Profile>;
  /** a page on another site (http://attacker.example.org:<port>/) that auto-posts this form */
  attackerSite(acsUrl: string, samlResponse: string, relayState: string | null): Promise<string>;
}

/** The echo upstream's JSON (what the application received) from a navigation response. */
export interface Echoed {
  reached: string;
  url: string;
  user?: string;
  email?: string;
  groups?: string;
}

/**
 * SP-initiated sign-in as a person does it: open `path` on the application, land on the IdP's form
 * (optionally as someone else), press Sign in, be carried back. Returns the ACS exchange and what the
 * application received for `path`.
 */
export async function signInAt(s: ScenarioContext, p: Profile, path: string, as?: { nameId: string; email: string; groups: string }): Promise<{ acs: Exchange; echoed: Echoed; target: string }> {
  const target = `${s.stack.base}${path}`;
  await p.page.goto(target, { timeout: STEP_MS });
  const at = new URL(p.page.url());
  if (`${at.origin}${at.pathname}` !== `${s.stack.idpUrl}/sso`) throw new Error(`expected the IdP's sign-in form, at ${p.page.url()}`);
  if (as) {
    await p.page.fill('input[name=nameId]', as.nameId);
    await p.page.fill('input[name=email]', as.email);
    await p.page.fill('input[name=groups]', as.groups);
  }
  const posted = p.page.waitForResponse((r) => r.url() === `${s.stack.base}/saml/acs`, { timeout: STEP_MS });
  const landed = p.page.waitForResponse((r) => r.url() === target && r.request().isNavigationRequest(), { timeout: STEP_MS });
  landed.catch(() => undefined); // awaited below unless the ACS refused
  await p.page.getByRole('button', { name: 'Sign in' }).click();
  const answer = await posted;
  if (answer.status() !== 303) throw new Error(`POST /saml/acs answered ${answer.status()}: ${await answer.text().catch(() => '')}`);
  const res = await landed;
  if (res.status() !== 200) throw new Error(`back at ${target}: ${res.status()}`);
  const echoed = (await res.json()) as Echoed;
  const acs = (await p.net.to(`${s.stack.base}/saml/acs`)).at(-1);
  if (!acs) throw new Error('no POST /saml/acs seen');
  return { acs, echoed, target };
}

/** The cookie header value of a request as Chromium sent it: name → values. */
export function sentCookies(e: Exchange): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of (e.sent.cookie ?? '').split(/;\s*/)) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = part.slice(0, eq);
    out.set(name, [...(out.get(name) ?? []), part.slice(eq + 1)]);
  }
  return out;
}

/** Resolves when the service has logged a line matching `re` (its `from`th line or later), or rejects after `ms`. */
export function logged(proc: ServiceProcess, re: RegExp, from: number, ms = STEP_MS): Promise<string> {
  const found = () => proc.logs.slice(from).find((l) => re.test(l));
  const now = found();
  if (now !== undefined) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const onData = () => {
      // readline appends the line to proc.logs on the same 'data' event: look after it has run
      setImmediate(() => {
        const line = found();
        if (line !== undefined) done(() => resolve(line));
      });
    };
    const timer = setTimeout(() => done(() => reject(new Error(`no log line ${re} within ${ms} ms`))), ms);
    const done = (f: () => void) => {
      clearTimeout(timer);
      proc.child.stdout?.off('data', onData);
      f();
    };
    proc.child.stdout?.on('data', onData);
  });
}

/** A one-page site of another origin that serves the given auto-posting form; closed in teardown. */
export async function serveAttackerPage(t: Test, acsUrl: string, samlResponse: string, relayState: string | null): Promise<string> {
  const page = autoPostForm(acsUrl, samlResponse, relayState);
  const server: Server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': page.csp, 'cache-control': 'no-store' });
    res.end(page.html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return `http://${ATTACKER_HOST}:${(server.address() as AddressInfo).port}/`;
}
