/**
 * `npm start` on a terminal: pino's JSON lines as one readable line each — time, level, the service,
 * the message, then the other fields as key=value. Not JSON (or not pino's): the line as it is.
 */
const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '90'],
  20: ['DEBUG', '36'],
  30: ['INFO ', '32'],
  40: ['WARN ', '33'],
  50: ['ERROR', '31'],
  60: ['FATAL', '35'],
};
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

export function prettyLine(name: string, line: string, color = true): string {
  let rec: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { level?: unknown }).level !== 'number') return `[${name}] ${line}`;
    rec = parsed as Record<string, unknown>;
  } catch {
    return `[${name}] ${line}`;
  }
  const [label, code] = LEVELS[rec.level as number] ?? [String(rec.level).padEnd(5), '0'];
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 23) : '';
  const fields = Object.entries(rec)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ');
  const paint = (c: string, s: string) => (color ? `\x1b[${c}m${s}\x1b[0m` : s);
  return [time, paint(code, label), `[${name}]`, typeof rec.msg === 'string' ? rec.msg : '', fields && paint('2', fields)].filter((s) => s !== '').join(' ');
}
