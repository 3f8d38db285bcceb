import t from 'tap';
import { logThrottle } from '../../services/shared/log-throttle.js';

t.test('writes at most one line per interval, counting the occurrences left out', async (t) => {
  let now = 1_000;
  const throttle = logThrottle(10_000, () => now);
  const lines: number[] = [];
  const occur = () => throttle((leftOut) => lines.push(leftOut));
  occur();
  t.same(lines, [0], 'the first occurrence is written at once');
  now += 5_000;
  occur();
  occur();
  t.same(lines, [0], 'within the interval: left out');
  now += 5_000;
  occur();
  t.same(lines, [0, 2], 'after the interval: one line saying two were left out');
  now += 9_999;
  occur();
  t.same(lines, [0, 2], 'just inside the next interval: left out');
});
