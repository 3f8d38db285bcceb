/** Assertions shared by the chart tests about rendered pod specs. */
import type { Test } from 'tap';
import type { K8sObject } from './render.js';

export interface Container {
  name: string;
  image: string;
  command?: string[];
  ports?: Array<{ name: string; containerPort: number; protocol: string }>;
  env?: Array<{ name: string; value?: string }>;
  securityContext: Record<string, unknown>;
  livenessProbe?: { httpGet: unknown };
  readinessProbe?: { httpGet: unknown };
  startupProbe?: { httpGet: unknown };
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }>;
}

export interface PodSpec {
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  securityContext: Record<string, unknown>;
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
  containers: Container[];
  volumes: Array<{ name: string; [k: string]: unknown }>;
  topologySpreadConstraints?: Array<{ labelSelector: unknown }>;
}

export const podSpec = (o: K8sObject): PodSpec => (o.spec as { template: { spec: PodSpec } }).template.spec;

export function container(spec: PodSpec, name: string): Container {
  const c = spec.containers.find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
}

/** The chart's hardened defaults, on the pod and every container. */
export function expectHardenedPod(t: Test, spec: PodSpec): void {
  t.equal(spec.automountServiceAccountToken, false, 'no service-account token');
  t.same(spec.securityContext, {
    fsGroup: 10001,
    runAsGroup: 10001,
    runAsNonRoot: true,
    runAsUser: 10001,
    seccompProfile: { type: 'RuntimeDefault' },
  }, 'pod securityContext');
  t.same(spec.volumes.find((v) => v.name === 'tmp'), { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }, 'an emptyDir for /tmp');
  for (const c of spec.containers) {
    t.same(c.securityContext, {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: 10001,
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    }, `${c.name}: container securityContext`);
    t.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory, `${c.name}: resources set`);
    t.ok(c.volumeMounts?.some((m) => m.name === 'tmp' && m.mountPath === '/tmp'), `${c.name}: /tmp is writable`);
    t.notOk(c.volumeMounts?.some((m) => m.subPath !== undefined), `${c.name}: no subPath mounts`);
    t.notMatch(c.image, /:latest(@|$)/, `${c.name}: not :latest`);
  }
}
