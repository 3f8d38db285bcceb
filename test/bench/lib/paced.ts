/**
 * Latency at a fixed offered rate (open loop): requests leave on a schedule over a pool of keep-alive
 * connections whatever the answers do, and each one's latency counts from its scheduled time, so a
 * stall is not hidden (no coordinated omission). autocannon is closed-loop: at saturation its p99 is
 * queueing in front of the server (Little's law: connections ÷ throughput), not the server's latency.
 */
import { Agent, request } from 'node:http';
import { percentile } from './load.js';

export interface PacedResult {
  rate: number;
  sent: number;
  ok: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export async function pacedLatency(url: string, headers: Record<string, string>, opts: { rate: number; seconds: number; connections: number }): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const target = new URL(url);
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let sent = 0;
  const total = Math.round(opts.rate * opts.seconds);
  const intervalMs = 1000 / opts.rate;
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();

  const send = (scheduled: number) => {
    const p = new Promise<void>((resolve) => {
      const req = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - scheduled);
          if (res.statusCode === 200) ok++;
          else failed++;
          resolve();
        });
      });
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end();
    });
    inFlight.add(p);
    void p.then(() => inFlight.delete(p));
  };

  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + sent * intervalMs <= now) send(start + sent++ * intervalMs);
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(inFlight);
  agent.destroy();
  return { rate: opts.rate, sent, ok, failed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: Math.max(...latencies) };
}
