/**
 * The browser scenarios, one row each, run in real headless Chromium through each shipped NGINX
 * configuration (suite.ts). A row names the stack variant it needs (VARIANTS: the token-service and
 * authz-service settings it differs by; one stack per variant and configuration, started when first
 * needed). A row with `todo` is what the product does not do yet: it runs as a failing tap `todo`
 * (listed in npm test's summary), never as a silent skip; whoever lands that work writes `run`.
 * The rows, by theme: scenarios-sign-in.ts, scenarios-sign-out.ts, scenarios-sessions.ts (issue 13) and
 * several-idps.ts; what they check beside the profile: scenario-checks.ts.
 */
import type { ScenarioContext } from './profile.js';
import { SESSION_SCENARIOS } from './scenarios-sessions.js';
import { SIGN_IN_SCENARIOS } from './scenarios-sign-in.js';
import { SIGN_OUT_SCENARIOS } from './scenarios-sign-out.js';
import { IDP_SCENARIOS } from './several-idps.js';

export interface VariantSettings {
  title: string;
  tokenEnv: Record<string, string>;
  /** SAML Single Logout both ways with the dev IdP (StackOptions.devIdp.slo: the IdP keeps sign-in sessions) */
  slo?: boolean;
  /** a second authz-service replica on the same database, asked directly (StackOptions.secondAuthz) */
  secondAuthz?: boolean;
  /** two IdPs (SAML_IDPS_FILE): a partner clinic's development IdP too (StackOptions.devIdp.partner) */
  partner?: boolean;
}

export const VARIANTS = {
  /** production defaults: IdP-initiated login off, redemption from the browser's network */
  default: { title: 'defaults (SAML_ALLOW_IDP_INITIATED=false)', tokenEnv: { SAML_ALLOW_IDP_INITIATED: 'false' } },
  /** the IdP's tile (an unsolicited response) is accepted */
  'idp-initiated': { title: 'SAML_ALLOW_IDP_INITIATED=true', tokenEnv: { SAML_ALLOW_IDP_INITIATED: 'true' } },
  /** SLO on (SAML_IDP_SLO_URL, SP signing key), the dev IdP with its own sign-in sessions, two authz replicas */
  slo: { title: 'SAML Single Logout on, dev IdP sessions, two authz-service replicas', tokenEnv: { SAML_ALLOW_IDP_INITIATED: 'false' }, slo: true, secondAuthz: true },
  /** SAML_IDPS_FILE with the hospital's IdP and a partner clinic's (several-idps.ts) */
  'several-idps': { title: 'two IdPs (SAML_IDPS_FILE): the hospital\'s and a partner clinic\'s', tokenEnv: { SAML_ALLOW_IDP_INITIATED: 'false' }, partner: true },
} as const satisfies Record<string, VariantSettings>;
export type Variant = keyof typeof VARIANTS;

export interface BrowserScenario {
  name: string;
  variant: Variant;
  /** what must land first; the row then fails loudly as a todo */
  todo?: string;
  /** what the scenario must show (printed by a todo row) */
  shows?: string;
  run?(s: ScenarioContext): Promise<void>;
}

// Run grouped by variant (suite.ts): within a variant, in the order of this list.
export const SCENARIOS: readonly BrowserScenario[] = [...IDP_SCENARIOS, ...SIGN_IN_SCENARIOS, ...SIGN_OUT_SCENARIOS, ...SESSION_SCENARIOS];
