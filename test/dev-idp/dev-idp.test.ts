import t from 'tap';
import { buildDevIdp } from '../../services/dev-idp/app.js';
import { signSamlResponse } from '../../services/dev-idp/sign.js';
import { buildLoginRedirect } from '../../services/token-service/saml/login.js';
import { validateSamlResponse } from '../../services/token-service/saml/validate.js';
import { NS, children, parseXml } from '../../services/token-service/saml/xml.js';
import { ACS, IDP, SP, makeKeys, settings } from '../token-service/saml/fixtures.js';

const keys = await makeKeys();
const app = await buildDevIdp({ idp: keys.idp, issuer: IDP, acsUrl: ACS, spEntityId: SP });
t.teardown(() => app.close());

const unescape = (s: string): string => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const field = (html: string, name: string): string | null => {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  return m?.[1] === undefined ? null : unescape(m[1]);
};

t.test('signs with the Signature right after the Issuer, with the chosen prefixes', async (t) => {
  const { xml, assertionId } = await signSamlResponse({ idp: keys.idp, issuer: IDP, acsUrl: ACS, audience: SP, sign: 'both', prefixes: { protocol: 'saml2p', assertion: 'saml2' } });
  const response = parseXml(xml).documentElement;
  t.equal(response?.tagName, 'saml2p:Response');
  const order = (el: NonNullable<typeof response>): string[] => {
    const names: string[] = [];
    for (let n = el.firstChild; n !== null; n = n.nextSibling) if (n.nodeType === 1) names.push(n.nodeName);
    return names;
  };
  if (!response) return;
  t.same(order(response).slice(0, 3), ['saml2:Issuer', 'ds:Signature', 'saml2p:Status']);
  const assertion = children(response, NS.assertion, 'Assertion')[0];
  t.equal(assertion?.getAttribute('ID'), assertionId);
  if (assertion) t.same(order(assertion).slice(0, 3), ['saml2:Issuer', 'ds:Signature', 'saml2:Subject']);
});

t.test('SP-initiated: GET /sso shows the request, POST /sso auto-posts a response to it', async (t) => {
  const login = await buildLoginRedirect(settings(keys, { idpSsoUrl: 'http://localhost/sso' }), '/after');
  const picker = await app.inject({ method: 'GET', url: `/sso${new URL(login.url).search}` });
  t.equal(picker.statusCode, 200);
  t.match(picker.headers['content-security-policy'], /default-src 'none'/);
  t.equal(field(picker.body, 'requestId'), login.requestId);
  t.equal(field(picker.body, 'relayState'), '/after');

  const posted = await app.inject({
    method: 'POST',
    url: '/sso',
    payload: new URLSearchParams({ requestId: login.requestId, relayState: '/after', nameId: 'bob@example.com', email: 'bob@example.com', groups: 'ops, admins' }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  t.equal(posted.statusCode, 200);
  t.match(posted.body, `<form method="post" action="${ACS}">`);
  t.equal(field(posted.body, 'RelayState'), '/after');
  const samlResponse = field(posted.body, 'SAMLResponse') ?? '';
  const result = await validateSamlResponse(samlResponse, settings(keys));
  t.match(result, { nameId: 'bob@example.com', email: 'bob@example.com', groups: ['ops', 'admins'], inResponseTo: login.requestId });
});

t.test('GET /idp-initiated posts a response without InResponseTo', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/idp-initiated?user=carol&groups=a,b' });
  t.equal(res.statusCode, 200);
  const samlResponse = field(res.body, 'SAMLResponse') ?? '';
  const result = await validateSamlResponse(samlResponse, settings(keys, { allowIdpInitiated: true }));
  t.match(result, { nameId: 'carol', email: null, groups: ['a', 'b'], inResponseTo: null });
});

t.test('everything echoed is HTML-escaped', async (t) => {
  const res = await app.inject({ method: 'GET', url: `/idp-initiated?user=x&RelayState=${encodeURIComponent('"><script>alert(1)</script>')}` });
  t.notMatch(res.body, '<script>alert(1)</script>');
  t.match(res.body, '&quot;&gt;&lt;script&gt;');
});

t.test('refuses a request it cannot read or for another ACS', async (t) => {
  t.equal((await app.inject({ method: 'GET', url: '/sso' })).statusCode, 400);
  t.equal((await app.inject({ method: 'GET', url: '/sso?SAMLRequest=bm90IGRlZmxhdGVk' })).statusCode, 400);
  const other = await buildLoginRedirect(settings(keys, { acsUrl: 'https://evil.example.com/acs' }));
  t.equal((await app.inject({ method: 'GET', url: `/sso${new URL(other.url).search}` })).statusCode, 400);
  const noUser = await app.inject({ method: 'POST', url: '/sso', payload: 'nameId=', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(noUser.statusCode, 400);
});

t.test("the auto-post page's form-action allows the ACS and the RelayState's origin (the ACS's 303 goes there), nothing else", async (t) => {
  const formAction = (csp: unknown) => /form-action ([^;]*)/.exec(String(csp))?.[1];
  const acs = new URL(ACS).origin;
  const to = async (relay?: string) =>
    formAction((await app.inject({ method: 'GET', url: `/idp-initiated?user=x${relay === undefined ? '' : `&RelayState=${encodeURIComponent(relay)}`}` })).headers['content-security-policy']);
  t.equal(await to('https://app.example.org:8443/x?y=1'), `${acs} https://app.example.org:8443`, 'another origin: listed');
  t.equal(await to(`${acs}/back`), acs, 'the ACS origin: once');
  t.equal(await to(), acs, 'no RelayState: the ACS only');
  t.equal(await to('/relative'), acs, 'a relative RelayState adds nothing');
  t.equal(await to('javascript:alert(1)'), acs, 'nor a non-http URL');
});
