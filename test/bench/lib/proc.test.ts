// The benchmarks' CPU accounting (proc.ts): a process tree's time keeps the members that exited.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { processTree, treeCpuSeconds } from './proc.js';

t.test('treeCpuSeconds: a child that burns CPU and exits between two readings is still counted', async (t) => {
  // A shell (the root, as the postmaster is) whose child spins for about 0.4 s of CPU, then exits and is reaped.
  const spin = `const end = process.cpuUsage().user + 400_000; while (process.cpuUsage().user < end);`;
  const root = spawn('sh', ['-c', `sleep 0.3; "${process.execPath}" -e '${spin}'; sleep 30`], { stdio: 'ignore' });
  t.teardown(() => void root.kill('SIGKILL'));
  await sleep(100);
  const before = treeCpuSeconds([root.pid!]);
  let sawChild = false;
  for (let i = 0; i < 100 && !(sawChild && processTree(root.pid!).length === 1); i++) {
    if (processTree(root.pid!).length > 1) sawChild = true;
    await sleep(50);
  }
  t.ok(sawChild, 'the child ran, and has exited since');
  const spent = treeCpuSeconds([root.pid!]) - before;
  t.ok(spent >= 0.35, `the exited child's CPU is in the tree's (${spent.toFixed(2)} s)`);
});
