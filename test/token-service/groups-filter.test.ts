import t from 'tap';
import { EnvReader } from '../../services/shared/env.js';
import { filterGroups, readGroupsFilter } from '../../services/token-service/tokens/groups-filter.js';
import { BEARER_MAX_BYTES, COOKIE_MAX_BYTES, oversize } from '../../services/token-service/tokens/size.js';

const read = (env: Record<string, string>) => {
  const r = new EnvReader(env);
  const filter = readGroupsFilter(r);
  return { filter, problems: r.problems };
};

const GROUPS = ['admins', 'Domain Users', 'app-dev', 'app-ops', 'xapp-dev', 'CN=Admins,OU=Groups,DC=example,DC=com', 'CN=Guests,OU=Groups,DC=example,DC=com', 'jos\u00e9'];

t.test('SAML_GROUPS_FILTER keeps the named groups, prefixes and whole-name regex matches', async (t) => {
  const rows: { name: string; env: Record<string, string>; kept: string[] }[] = [
    { name: 'unset: every group', env: {}, kept: GROUPS },
    { name: 'exact names, spaces inside a name kept', env: { SAML_GROUPS_FILTER: 'admins, Domain Users' }, kept: ['admins', 'Domain Users'] },
    { name: 'newline-separated', env: { SAML_GROUPS_FILTER: 'admins\nDomain Users\n' }, kept: ['admins', 'Domain Users'] },
    { name: 'prefix: only at the start', env: { SAML_GROUPS_FILTER: 'app-*' }, kept: ['app-dev', 'app-ops'] },
    { name: 'a name is not a prefix', env: { SAML_GROUPS_FILTER: 'app' }, kept: [] },
    { name: 'names are case-sensitive, like rules', env: { SAML_GROUPS_FILTER: 'Admins' }, kept: [] },
    { name: 'entries in decomposed Unicode match the NFC group', env: { SAML_GROUPS_FILTER: 'jose\u0301' }, kept: ['jos\u00e9'] },
    { name: 'regex must match the whole name', env: { SAML_GROUPS_FILTER_REGEX: 'app-.*' }, kept: ['app-dev', 'app-ops'] },
    { name: 'regex for DNs (names with commas)', env: { SAML_GROUPS_FILTER_REGEX: 'CN=Admins,OU=Groups,.*' }, kept: ['CN=Admins,OU=Groups,DC=example,DC=com'] },
    { name: 'alternation cannot escape the anchors', env: { SAML_GROUPS_FILTER_REGEX: 'admins|dev' }, kept: ['admins'] },
    { name: 'list and regex together', env: { SAML_GROUPS_FILTER: 'admins', SAML_GROUPS_FILTER_REGEX: 'app-ops' }, kept: ['admins', 'app-ops'] },
  ];
  for (const row of rows) {
    const { filter, problems } = read(row.env);
    t.same(problems, [], `${row.name}: valid`);
    t.same(filterGroups(filter, GROUPS), row.kept, row.name);
  }
});

t.test('a groups filter that cannot be meant is refused at start-up, naming the variable', async (t) => {
  const rows: { name: string; env: Record<string, string>; variable: string }[] = [
    { name: '"*" alone', env: { SAML_GROUPS_FILTER: '*' }, variable: 'SAML_GROUPS_FILTER' },
    { name: 'only separators', env: { SAML_GROUPS_FILTER: ' , ,' }, variable: 'SAML_GROUPS_FILTER' },
    { name: 'invalid regex', env: { SAML_GROUPS_FILTER_REGEX: 'app-(' }, variable: 'SAML_GROUPS_FILTER_REGEX' },
  ];
  for (const row of rows) {
    const { problems } = read(row.env);
    t.equal(problems.length, 1, `${row.name}: one problem`);
    t.match(problems[0], new RegExp(`^${row.variable}: `), `${row.name}: names ${row.variable}`);
  }
});

t.test('token size bounds: at the limit is issued, one byte over is not', async (t) => {
  const name = '__Host-saml_authz';
  const atCookie = 'a'.repeat(COOKIE_MAX_BYTES - name.length - 1);
  t.equal(oversize(atCookie, name), null, 'cookie name=value of exactly 4093 bytes');
  t.same(oversize(`${atCookie}a`, name), { bytes: COOKIE_MAX_BYTES + 1, limit: COOKIE_MAX_BYTES });
  t.same(oversize('a'.repeat(COOKIE_MAX_BYTES), 'c'), { bytes: COOKIE_MAX_BYTES + 2, limit: COOKIE_MAX_BYTES }, 'the cookie name counts');
  t.ok(COOKIE_MAX_BYTES < BEARER_MAX_BYTES, 'a token that fits a cookie fits a bearer header too');
  t.ok(BEARER_MAX_BYTES + 'Authorization: Bearer \r\n'.length <= 8192, "the bearer header line fits NGINX's 8k buffer and /auth's 8192 limit");
});
