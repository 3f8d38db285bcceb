import t from 'tap';
import { parseHost } from '../../services/shared/host.js';

t.test('parseHost: a DNS name, an IPv4 address or a bracketed IPv6 literal, with an optional port', async (t) => {
  const hosts: [string, string | null][] = [
    ['example.com', 'example.com'],
    ['EXAMPLE.com:443', 'example.com:443'],
    ['a.com:0080', 'a.com:80'],
    ['localhost', 'localhost'],
    ['my_service.ns.svc', 'my_service.ns.svc'],
    ['10.0.0.1', '10.0.0.1'],
    ['10.0.0.1:8080', '10.0.0.1:8080'],
    ['[::1]', '[::1]'],
    ['[::1]:8080', '[::1]:8080'],
    ['[2001:DB8::1]', '[2001:db8::1]'],
    ['', null],
    [':80', null],
    ['a.com:', null],
    ['a.com:x', null],
    ['a.com:99999', null],
    ['a..com', null],
    ['.a.com', null],
    ['a.com.', null],
    ['a com', null],
    ['a.com?x', null],
    ['a.com#x', null],
    ['a@b.com', null],
    ['a\\b.com', null],
    ['a.com\t', null],
    ['1.2.3.999', null],
    ['01.2.3.4', null],
    ['::1', null],
    ['[::1', null],
    ['[fe80::1%25eth0]', null],
    ['[not-ip]', null],
    [`${'a'.repeat(64)}.com`, null],
    [`${'a.'.repeat(127)}a`, null],
  ];
  for (const [value, expected] of hosts) t.equal(parseHost(value), expected, JSON.stringify(value));
});
