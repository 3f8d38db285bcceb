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

/** The pod template's annotations (the checksum/* roll-out triggers). */
export const podTemplateAnnotations = (o: K8sObject): Record<string, string> =>
  (o.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata.annotations ?? {};

export interface ServiceDeployment {
  /** the chart's name: the container's name and the app.kubernetes.io/name label */
  name: string;
  image: string;
  httpPort: number;
  metricsPort: number;
}

/**
 * A service Deployment as both charts render it: hardened pod; the container's image, named http and
 * metrics ports and probes (`/healthz` liveness and startup, `/readyz` readiness, no database in
 * liveness); selector and topology spread on name and instance only (release `rel`). Returns the
 * container for the chart-specific assertions.
 */
export function expectServiceDeployment(t: Test, deploy: K8sObject, want: ServiceDeployment): Container {
  const spec = podSpec(deploy);
  expectHardenedPod(t, spec);
  const c = container(spec, want.name);
  t.equal(c.image, want.image, 'image');
  t.same(c.ports, [
    { name: 'http', containerPort: want.httpPort, protocol: 'TCP' },
    { name: 'metrics', containerPort: want.metricsPort, protocol: 'TCP' },
  ], 'named http and metrics ports');
  t.same(c.livenessProbe?.httpGet, { path: '/healthz', port: 'http' }, 'liveness on /healthz');
  t.same(c.readinessProbe?.httpGet, { path: '/readyz', port: 'http' }, 'readiness on /readyz');
  t.same(c.startupProbe?.httpGet, { path: '/healthz', port: 'http' }, 'startup on /healthz');
  const selector = { matchLabels: { 'app.kubernetes.io/name': want.name, 'app.kubernetes.io/instance': 'rel' } };
  t.same((deploy.spec as { selector: unknown }).selector, selector, 'selector on name and instance only');
  t.same(spec.topologySpreadConstraints?.map((x) => x.labelSelector), [selector, selector], 'spread by zone and host, on the same selector');
  return c;
}

/** The names of a container's environment variables, in order. */
export const envNames = (c: Container): string[] => (c.env ?? []).map((e) => e.name);
