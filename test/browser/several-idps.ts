/**
 * Several identity providers in a real browser (variant `several-idps`): the hospital's development IdP
 * and a partner clinic's, listed in SAML_IDPS_FILE. A protected page sends the browser to the chooser
 * page; the person picks an IdP by its link; rules with `idps` decide per IdP.
 */
import { decodeJwt } from 'jose';
import type { Profile, ScenarioContext } from './profile.js';
import { SESSION_COOKIE, STEP_MS } from './profile.js';
import { PARTNER_DISPLAY_NAME, PARTNER_ISSUER } from '../e2e/several-idps.js';
import { IDP_ISSUER } from '../e2e/fixture.js';

export const PARTNER_HOST = 'idp.clinic.example';
/** The clinic's user: in `admins` too, to show that the deny on partners wins over the admins rule. */
export const BOB = { nameId: 'bob@clinic.example', email: 'bob@clinic.example', groups: ['staff', 'admins'] } as const;
const HOSPITAL_DISPLAY_NAME = "St Mary's Hospital";

/** Opens `path`, expects the chooser page, picks `idp` by its link, signs in at that IdP's form: the page landed on. */
async function signInThrough(s: ScenarioContext, p: Profile, path: string, idp: { displayName: string; url: string }) {
  const { t } = s;
  const target = `${s.stack.base}${path}`;
  await p.page.goto(target, { timeout: STEP_MS });
  const at = new URL(p.page.url());
  t.equal(`${at.origin}${at.pathname}`, `${s.stack.base}/saml/login`, 'a protected page sends the browser to the sign-in');
  t.equal(await p.page.title(), 'Choose how to sign in', 'which shows the chooser page');
  const links = p.page.getByRole('navigation', { name: 'Identity providers' }).getByRole('link');
  t.same(await links.allTextContents(), [HOSPITAL_DISPLAY_NAME, PARTNER_DISPLAY_NAME], 'one link per IdP, in the file\'s order, by display name');
  await links.filter({ hasText: idp.displayName }).click();
  await p.page.waitForURL((u) => `${u.origin}${u.pathname}` === `${idp.url}/sso`, { timeout: STEP_MS });
  const landed = p.page.waitForResponse((r) => r.url() === target && r.request().isNavigationRequest(), { timeout: STEP_MS });
  await p.page.getByRole('button', { name: 'Sign in' }).click();
  const res = await landed;
  // The navigation has answered; let it finish before the scenario navigates again.
  await p.page.waitForURL(target, { waitUntil: 'load', timeout: STEP_MS });
  return res;
}

const tokenIdp = async (p: Profile) => {
  const jwt = (await p.context.cookies()).find((c) => c.name === SESSION_COOKIE)?.value;
  return jwt === undefined ? undefined : decodeJwt(jwt).idp;
};
const status = async (s: ScenarioContext, p: Profile, path: string) => (await p.page.goto(`${s.stack.base}${path}`, { timeout: STEP_MS }))?.status();

export const IDP_SCENARIOS = [
  {
    name: 'several IdPs: a protected page → the chooser page → the partner clinic\'s IdP → back, with a token naming the clinic; its `idps` rules apply',
    variant: 'several-idps' as const,
    async run(s: ScenarioContext) {
      const { t } = s;
      const p = await s.profile();
      const res = await signInThrough(s, p, '/referrals/42', { displayName: PARTNER_DISPLAY_NAME, url: s.stack.partnerIdpUrl! });
      t.equal(res.status(), 200, 'the clinic\'s user reaches the referrals (rule partner-referrals: idps)');
      t.match(await res.json(), { user: BOB.nameId }, 'as the clinic\'s user');
      t.equal(await tokenIdp(p), PARTNER_ISSUER, 'the token names the clinic\'s IdP');
      t.equal(await status(s, p, '/app/home'), 200, 'a rule without idps admits every IdP\'s staff');
      t.equal(await status(s, p, '/admin/console'), 403, 'the deny on partners wins over the admins rule');
    },
  },
  {
    name: 'several IdPs: the hospital\'s user picks the hospital\'s IdP; the clinic-only path is refused',
    variant: 'several-idps' as const,
    async run(s: ScenarioContext) {
      const { t } = s;
      const p = await s.profile();
      const res = await signInThrough(s, p, '/app/home', { displayName: HOSPITAL_DISPLAY_NAME, url: s.stack.idpUrl! });
      t.equal(res.status(), 200, 'signed in at the hospital\'s IdP');
      t.equal(await tokenIdp(p), IDP_ISSUER, 'the token names the hospital\'s IdP');
      t.equal(await status(s, p, '/referrals/42'), 403, 'the referrals are the clinic\'s');
    },
  },
];
