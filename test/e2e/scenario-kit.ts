/** What every end-to-end scenario works with: the configuration, its stack, requests that must be refused or reach the application, the sign-in redirect. */
import type { Test } from 'tap';
import type { Stack } from './fixture.js';
import type { ConfigName } from './nginx.js';
import type { RawRequest, RawResponse } from './raw-http.js';

export type ScenarioKit = ReturnType<typeof scenarioKit>;

/** `stackOf` gives the file's stack, started in t.before: read it inside a test, never while registering one. */
export function scenarioKit(config: ConfigName, stackOf: () => Stack) {
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  /** A request whose record must stay empty: the application never saw it. */
  const refused = async (tt: Test, r: RawRequest, what: string): Promise<RawResponse> => {
    const stack = stackOf();
    stack.echo.clear();
    const res = await stack.request(r);
    tt.same(stack.echo.records, [], `${what}: never reached the application (NGINX answered ${res.status})`);
    tt.not(res.status, 200, `${what}: not a 200`);
    return res;
  };
  /** A request that must reach the application: its one record. */
  const reached = async (tt: Test, r: RawRequest, what: string) => {
    const stack = stackOf();
    stack.echo.clear();
    const res = await stack.request(r);
    tt.equal(res.status, 200, `${what}: 200 from the application`);
    tt.equal(stack.echo.records.length, 1, `${what}: the application served it once`);
    return { res, record: stack.echo.records[0]! };
  };
  /** A 302 to sign in whose return URL is `returnTo` (default: the request-target itself). */
  const signinRedirect = (tt: Test, res: RawResponse, target: string, what: string, returnTo = target) => {
    const stack = stackOf();
    tt.equal(res.status, 302, `${what}: 302 to sign in`);
    const location = res.header('location') ?? '';
    if (config === 'auth-request') {
      tt.equal(location, `${stack.signinUrl}?rd=${stack.base}${returnTo}`, `${what}: to /saml/login?rd=${returnTo}`);
    } else {
      tt.ok(location.startsWith(`${stack.signinUrl}?rd=`), `${what}: to the auth-signin URL (${location})`);
      tt.equal(new URL(location).searchParams.get('rd'), `${stack.base}${returnTo}`, `${what}: rd is ${returnTo}, escaped`);
    }
    return location;
  };
  return {
    config,
    get stack(): Stack {
      return stackOf();
    },
    bearer,
    refused,
    reached,
    signinRedirect,
  };
}
