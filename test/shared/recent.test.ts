import t from 'tap';
import { Recent } from '../../services/shared/recent.js';
import { parseHost } from '../../services/shared/host.js';

t.test("answers what the function answers, null included, and calls it once per kept argument", async (t) => {
  const calls: string[] = [];
  const hosts = new Recent((v: string) => (calls.push(v), parseHost(v)), 4, 20);
  const rows: [string, string | null][] = [
    ['App.Example.com', 'app.example.com'],
    ['app.example.com:0443', 'app.example.com:443'],
    ['bad host', null],
    ['App.Example.com', 'app.example.com'],
    ['bad host', null],
  ];
  for (const [value, expected] of rows) t.equal(hosts.get(value), expected, JSON.stringify(value));
  t.same(calls, ['App.Example.com', 'app.example.com:0443', 'bad host'], 'each distinct argument computed once');
});

t.test('bounded: a longer argument is answered but not kept; when full it starts over', async (t) => {
  let calls = 0;
  const lengths = new Recent((v: string) => (calls++, v.length), 3, 5);
  t.equal(lengths.get('abcdefgh'), 8);
  t.equal(lengths.get('abcdefgh'), 8);
  t.equal(calls, 2, 'an argument over maxLength is computed every time');
  for (const v of ['a', 'b', 'c']) lengths.get(v);
  t.equal(calls, 5);
  lengths.get('a');
  t.equal(calls, 5, 'kept while there is room');
  lengths.get('d'); // full: starts over with d alone
  lengths.get('a');
  t.equal(calls, 7, 'the fourth distinct argument cleared the others');
});
