import t from 'tap';
import { parseCidr, parseCidrList } from '../../services/shared/cidr.js';
import { clientAddress } from '../../services/shared/client-ip.js';

const trusted = parseCidrList(['10.0.0.0/8', 'fd00::/8', '192.168.1.1']);

type Row = [name: string, peer: string, headers: Record<string, string | string[] | undefined>, expected: string];
const rows: Row[] = [
  ['an untrusted peer: its own address, headers ignored', '203.0.113.5', { 'x-real-ip': '1.1.1.1', 'x-forwarded-for': '2.2.2.2' }, '203.0.113.5'],
  ['an untrusted IPv4-mapped peer is normalised', '::ffff:203.0.113.5', {}, '203.0.113.5'],
  ['a trusted peer: X-Real-IP', '10.1.2.3', { 'x-real-ip': '198.51.100.7', 'x-forwarded-for': '2.2.2.2' }, '198.51.100.7'],
  ['a trusted IPv4-mapped peer', '::ffff:10.1.2.3', { 'x-real-ip': '198.51.100.7' }, '198.51.100.7'],
  ['a trusted peer: X-Real-IP, IPv4-mapped', '10.1.2.3', { 'x-real-ip': '::ffff:198.51.100.7' }, '198.51.100.7'],
  ['a trusted peer: X-Real-IP IPv6', 'fd00::1', { 'x-real-ip': '2001:db8::5' }, '2001:db8::5'],
  ['a trusted peer: an invalid X-Real-IP falls to X-Forwarded-For', '10.1.2.3', { 'x-real-ip': 'evil', 'x-forwarded-for': '198.51.100.8' }, '198.51.100.8'],
  ['a trusted peer: the rightmost untrusted X-Forwarded-For hop', '10.1.2.3', { 'x-forwarded-for': '1.1.1.1, 198.51.100.9, 10.0.0.7' }, '198.51.100.9'],
  ['a trusted peer: a spoofed leftmost hop is not taken', '10.1.2.3', { 'x-forwarded-for': '6.6.6.6,198.51.100.9' }, '198.51.100.9'],
  ['a trusted peer: all hops trusted gives the leftmost', '10.1.2.3', { 'x-forwarded-for': '10.0.0.9, 192.168.1.1' }, '10.0.0.9'],
  ['a trusted peer: a garbage hop stops at the last trusted one', '10.1.2.3', { 'x-forwarded-for': '1.1.1.1, garbage, 10.0.0.7' }, '10.0.0.7'],
  ['a trusted peer: repeated X-Forwarded-For headers are one list', '10.1.2.3', { 'x-forwarded-for': ['1.1.1.1', '198.51.100.4, 10.0.0.2'] }, '198.51.100.4'],
  ['a trusted peer without forwarding headers', '10.1.2.3', {}, '10.1.2.3'],
  ['a repeated X-Real-IP is ignored', '10.1.2.3', { 'x-real-ip': ['1.1.1.1', '2.2.2.2'], 'x-forwarded-for': '198.51.100.1' }, '198.51.100.1'],
  ['a single trusted address, not its neighbour', '192.168.1.2', { 'x-real-ip': '1.1.1.1' }, '192.168.1.2'],
];
for (const [name, peer, headers, expected] of rows) {
  t.test(name, async (t) => t.equal(clientAddress(peer, headers, trusted), expected));
}

t.test('parseCidr', async (t) => {
  t.same(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  t.same(parseCidr('2001:db8::/32'), { address: '2001:db8::', prefix: 32, family: 'ipv6' });
  t.same(parseCidr('1.2.3.4'), { address: '1.2.3.4', prefix: 32, family: 'ipv4' });
  t.same(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
  for (const bad of ['', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/8/8', 'example.com', '::/129', '300.1.1.1', '10.0.0.0/ 8']) {
    t.type(parseCidr(bad), 'string', `refuses ${JSON.stringify(bad)}`);
  }
});

t.test('parseCidrList names the bad entry', async (t) => {
  t.throws(() => parseCidrList(['10.0.0.0/8', '10.0.0.0/40']), { message: /entry 2: "10.0.0.0\/40"/ });
  t.ok(parseCidrList([' 10.0.0.0/8 ']).check('10.9.9.9', 'ipv4'), 'entries are trimmed');
});
