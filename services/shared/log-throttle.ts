/**
 * For a failure that repeats on a hot path (every lookup during a database outage): `write` runs at most
 * once per `intervalMs`, told how many occurrences were left out since the last line. Between lines a call
 * costs a clock read and an increment.
 */
export function logThrottle(intervalMs: number, now: () => number = Date.now): (write: (leftOut: number) => void) => void {
  let last = Number.NEGATIVE_INFINITY;
  let leftOut = 0;
  return (write) => {
    const t = now();
    if (t - last < intervalMs) {
      leftOut++;
      return;
    }
    last = t;
    write(leftOut);
    leftOut = 0;
  };
}
