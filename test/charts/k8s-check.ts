/**
 * Offline structural validation of rendered manifests: the API group/version and kind are ones the
 * charts may use, fields are ones Kubernetes knows (for the kinds rendered here), names and labels are
 * well-formed, and every cross-reference resolves (selectors ↔ pod labels, named ports, volumes, Secrets
 * and ConfigMaps rendered by the chart, HPA and Ingress targets). Returns one line per problem.
 */
import type { K8sObject } from './render.js';

type Json = Record<string, unknown>;

const KNOWN: Record<string, { apiVersion: string; top: string[] }> = {
  ConfigMap: { apiVersion: 'v1', top: ['data', 'binaryData', 'immutable'] },
  Secret: { apiVersion: 'v1', top: ['type', 'data', 'stringData', 'immutable'] },
  ServiceAccount: { apiVersion: 'v1', top: ['automountServiceAccountToken', 'imagePullSecrets', 'secrets'] },
  Service: { apiVersion: 'v1', top: ['spec'] },
  Deployment: { apiVersion: 'apps/v1', top: ['spec'] },
  Job: { apiVersion: 'batch/v1', top: ['spec'] },
  PodDisruptionBudget: { apiVersion: 'policy/v1', top: ['spec'] },
  HorizontalPodAutoscaler: { apiVersion: 'autoscaling/v2', top: ['spec'] },
  NetworkPolicy: { apiVersion: 'networking.k8s.io/v1', top: ['spec'] },
  Ingress: { apiVersion: 'networking.k8s.io/v1', top: ['spec'] },
  ServiceMonitor: { apiVersion: 'monitoring.coreos.com/v1', top: ['spec'] },
  PrometheusRule: { apiVersion: 'monitoring.coreos.com/v1', top: ['spec'] },
};

const POD_SPEC_KEYS = [
  'serviceAccountName', 'automountServiceAccountToken', 'enableServiceLinks', 'imagePullSecrets', 'securityContext',
  'terminationGracePeriodSeconds', 'priorityClassName', 'containers', 'initContainers', 'volumes',
  'topologySpreadConstraints', 'nodeSelector', 'affinity', 'tolerations', 'restartPolicy',
];
const CONTAINER_KEYS = [
  'name', 'image', 'imagePullPolicy', 'command', 'args', 'env', 'envFrom', 'ports', 'resources', 'securityContext',
  'livenessProbe', 'readinessProbe', 'startupProbe', 'volumeMounts', 'workingDir', 'lifecycle',
];
const POD_SECURITY_KEYS = ['runAsNonRoot', 'runAsUser', 'runAsGroup', 'fsGroup', 'fsGroupChangePolicy', 'supplementalGroups', 'seccompProfile'];
const CONTAINER_SECURITY_KEYS = ['runAsNonRoot', 'runAsUser', 'runAsGroup', 'readOnlyRootFilesystem', 'allowPrivilegeEscalation', 'privileged', 'capabilities', 'seccompProfile'];
const PROBE_KEYS = ['httpGet', 'initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'failureThreshold', 'successThreshold'];
const SPEC_KEYS: Record<string, string[]> = {
  Service: ['type', 'selector', 'ports', 'clusterIP', 'sessionAffinity'],
  Deployment: ['replicas', 'revisionHistoryLimit', 'strategy', 'selector', 'template', 'minReadySeconds'],
  Job: ['backoffLimit', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished', 'template'],
  PodDisruptionBudget: ['maxUnavailable', 'minAvailable', 'selector'],
  HorizontalPodAutoscaler: ['scaleTargetRef', 'minReplicas', 'maxReplicas', 'metrics', 'behavior'],
  NetworkPolicy: ['podSelector', 'policyTypes', 'ingress', 'egress'],
  Ingress: ['ingressClassName', 'tls', 'rules', 'defaultBackend'],
  ServiceMonitor: ['namespaceSelector', 'selector', 'endpoints', 'jobLabel'],
  PrometheusRule: ['groups'],
};
const RULE_GROUP_KEYS = ['name', 'interval', 'rules', 'limit', 'partial_response_strategy'];
const RULE_KEYS = ['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const obj = (v: unknown): Json => (isObj(v) ? v : {});

function unknownKeys(where: string, value: unknown, allowed: string[], problems: string[]): void {
  if (!isObj(value)) {
    problems.push(`${where}: expected an object`);
    return;
  }
  for (const k of Object.keys(value)) if (!allowed.includes(k)) problems.push(`${where}: unknown field "${k}"`);
}

function checkLabels(where: string, labels: unknown, problems: string[]): void {
  if (labels === undefined) return;
  if (!isObj(labels)) return void problems.push(`${where}: labels must be a map`);
  for (const [k, v] of Object.entries(labels)) {
    const [prefix, name] = k.includes('/') ? k.split('/', 2) : [undefined, k];
    if ((prefix !== undefined && !DNS_SUBDOMAIN.test(prefix)) || !name || name.length > 63 || !LABEL_NAME.test(name)) {
      problems.push(`${where}: bad label key "${k}"`);
    }
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) problems.push(`${where}: bad label value ${JSON.stringify(v)} for "${k}"`);
  }
}

const matches = (selector: unknown, labels: unknown): boolean =>
  isObj(selector) && isObj(labels) && Object.entries(selector).every(([k, v]) => labels[k] === v);

interface Pod {
  owner: string;
  labels: Json;
  spec: Json;
}

function podOf(o: K8sObject): Pod | undefined {
  if (o.kind !== 'Deployment' && o.kind !== 'Job') return undefined;
  const template = obj(obj(o.spec).template);
  return { owner: `${o.kind}/${o.metadata.name}`, labels: obj(obj(template.metadata).labels), spec: obj(template.spec) };
}

const containerPortNames = (pod: Pod): string[] =>
  arr(pod.spec.containers).flatMap((c) => arr(c.ports).map((p) => String(p.name)));

function checkPod(where: string, pod: Pod, objects: K8sObject[], problems: string[], ownPrefix: string): void {
  unknownKeys(`${where} pod spec`, pod.spec, POD_SPEC_KEYS, problems);
  unknownKeys(`${where} pod securityContext`, pod.spec.securityContext, POD_SECURITY_KEYS, problems);
  const volumes = arr(pod.spec.volumes);
  const volumeNames = volumes.map((v) => String(v.name));
  const localNames = new Set(objects.map((o) => `${o.kind}/${o.metadata.name}`));
  for (const v of volumes) {
    for (const src of arr(obj(v.projected).sources)) {
      const name = String(obj(src.secret).name);
      // A Secret named like one the chart renders must be rendered (existing Secrets are the user's).
      if (name.startsWith(ownPrefix) && !localNames.has(`Secret/${name}`)) problems.push(`${where}: projected Secret ${name} is not rendered`);
    }
    const sn = obj(v.secret).secretName;
    if (typeof sn === 'string' && sn.startsWith(ownPrefix) && !localNames.has(`Secret/${sn}`)) problems.push(`${where}: Secret ${sn} is not rendered`);
    const cm = obj(v.configMap).name;
    if (typeof cm === 'string' && cm.startsWith(ownPrefix) && !localNames.has(`ConfigMap/${cm}`)) problems.push(`${where}: ConfigMap ${cm} is not rendered`);
  }
  const containers = arr(pod.spec.containers);
  if (containers.length === 0) problems.push(`${where}: no containers`);
  for (const c of containers) {
    const cw = `${where} container ${String(c.name)}`;
    unknownKeys(cw, c, CONTAINER_KEYS, problems);
    unknownKeys(`${cw} securityContext`, c.securityContext, CONTAINER_SECURITY_KEYS, problems);
    const image = String(c.image);
    if (!/^[a-z0-9./_-]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$/.test(image)) problems.push(`${cw}: bad image reference ${image}`);
    const ports = arr(c.ports);
    const names = ports.map((p) => String(p.name));
    for (const p of ports) {
      if (!PORT_NAME.test(String(p.name)) || String(p.name).length > 15) problems.push(`${cw}: bad port name ${String(p.name)}`);
      if (!Number.isInteger(p.containerPort) || (p.containerPort as number) < 1 || (p.containerPort as number) > 65535) problems.push(`${cw}: bad containerPort`);
    }
    if (new Set(names).size !== names.length) problems.push(`${cw}: duplicate port names`);
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      if (c[probe] === undefined) continue;
      unknownKeys(`${cw} ${probe}`, c[probe], PROBE_KEYS, problems);
      const port = obj(obj(c[probe]).httpGet).port;
      if (typeof port === 'string' && !names.includes(port)) problems.push(`${cw} ${probe}: port ${port} is not a container port`);
    }
    for (const m of arr(c.volumeMounts)) {
      if (!volumeNames.includes(String(m.name))) problems.push(`${cw}: volumeMount ${String(m.name)} has no volume`);
      if ('subPath' in m) problems.push(`${cw}: volumeMount ${String(m.name)} uses subPath (updates would never arrive)`);
    }
    for (const e of arr(c.env)) {
      if (typeof e.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.name)) problems.push(`${cw}: bad env name ${String(e.name)}`);
      if (e.value !== undefined && typeof e.value !== 'string') problems.push(`${cw}: env ${String(e.name)} value must be a string`);
    }
    for (const ef of arr(c.envFrom)) {
      const name = String(obj(ef.configMapRef).name);
      if (!localNames.has(`ConfigMap/${name}`)) problems.push(`${cw}: envFrom ConfigMap ${name} is not rendered`);
    }
  }
}

export function structuralProblems(objects: K8sObject[], ownPrefix = 'rel-'): string[] {
  const problems: string[] = [];
  const pods = objects.map(podOf).filter((p): p is Pod => p !== undefined);
  const seen = new Set<string>();
  for (const o of objects) {
    const where = `${o.kind}/${o.metadata?.name}`;
    if (seen.has(where)) problems.push(`${where}: rendered twice`);
    seen.add(where);
    const known = KNOWN[o.kind];
    if (!known) {
      problems.push(`${where}: unexpected kind`);
      continue;
    }
    if (o.apiVersion !== known.apiVersion) problems.push(`${where}: apiVersion ${o.apiVersion}, expected ${known.apiVersion}`);
    unknownKeys(where, o, ['apiVersion', 'kind', 'metadata', ...known.top], problems);
    unknownKeys(`${where} metadata`, o.metadata, ['name', 'namespace', 'labels', 'annotations'], problems);
    const name = o.metadata.name;
    if (typeof name !== 'string' || name.length > 63 || !DNS_LABEL.test(name)) problems.push(`${where}: name is not a DNS label`);
    checkLabels(where, o.metadata.labels, problems);
    for (const [k, v] of Object.entries(o.metadata.annotations ?? {})) {
      if (typeof v !== 'string') problems.push(`${where}: annotation ${k} is not a string`);
    }
    if (o.kind === 'ConfigMap' || o.kind === 'Secret') {
      for (const [k, v] of Object.entries(obj(o.data))) {
        if (!/^[-._a-zA-Z0-9]+$/.test(k)) problems.push(`${where}: bad data key ${k}`);
        if (typeof v !== 'string') problems.push(`${where}: data ${k} is not a string`);
        else if (o.kind === 'Secret' && !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) problems.push(`${where}: data ${k} is not base64`);
      }
    }
    const spec = obj(o.spec);
    if (SPEC_KEYS[o.kind]) unknownKeys(`${where} spec`, o.spec, SPEC_KEYS[o.kind]!, problems);
    switch (o.kind) {
      case 'Deployment': {
        const pod = podOf(o)!;
        const selector = obj(spec.selector).matchLabels;
        if (!matches(selector, pod.labels)) problems.push(`${where}: selector does not match the pod labels`);
        checkPod(where, pod, objects, problems, ownPrefix);
        break;
      }
      case 'Job':
        checkPod(where, podOf(o)!, objects, problems, ownPrefix);
        if (obj(obj(spec.template).spec).restartPolicy !== 'Never' && obj(obj(spec.template).spec).restartPolicy !== 'OnFailure') {
          problems.push(`${where}: restartPolicy must be Never or OnFailure`);
        }
        break;
      case 'Service': {
        const target = pods.find((p) => matches(spec.selector, p.labels) && p.owner.startsWith('Deployment/'));
        if (!target) problems.push(`${where}: selector matches no Deployment's pods`);
        for (const p of pods) {
          if (p.owner.startsWith('Job/') && matches(spec.selector, p.labels)) problems.push(`${where}: selector also matches ${p.owner}`);
        }
        for (const port of arr(spec.ports)) {
          if (typeof port.targetPort === 'string' && target && !containerPortNames(target).includes(port.targetPort)) {
            problems.push(`${where}: targetPort ${port.targetPort} is not a container port`);
          }
        }
        break;
      }
      case 'PodDisruptionBudget':
        if (!pods.some((p) => p.owner.startsWith('Deployment/') && matches(obj(spec.selector).matchLabels, p.labels))) {
          problems.push(`${where}: selector matches no Deployment's pods`);
        }
        break;
      case 'HorizontalPodAutoscaler': {
        const ref = obj(spec.scaleTargetRef);
        if (!seen.has(`Deployment/${String(ref.name)}`) && !objects.some((x) => x.kind === 'Deployment' && x.metadata.name === ref.name)) {
          problems.push(`${where}: scaleTargetRef ${String(ref.name)} is not rendered`);
        }
        break;
      }
      case 'NetworkPolicy': {
        const selected = pods.filter((p) => matches(obj(spec.podSelector).matchLabels, p.labels));
        if (selected.length === 0) problems.push(`${where}: podSelector matches no rendered pod`);
        const names = selected.flatMap(containerPortNames);
        for (const rule of arr(spec.ingress)) {
          for (const port of arr(rule.ports)) {
            if (typeof port.port === 'string' && !names.includes(port.port)) problems.push(`${where}: ingress port ${port.port} is not a port of the selected pods`);
          }
        }
        break;
      }
      case 'ServiceMonitor': {
        const svc = objects.find((x) => x.kind === 'Service' && matches(obj(spec.selector).matchLabels, x.metadata.labels));
        if (!svc) problems.push(`${where}: selector matches no Service`);
        for (const ep of arr(spec.endpoints)) {
          if (svc && !arr(obj(svc.spec).ports).some((p) => p.name === ep.port)) problems.push(`${where}: endpoint port ${String(ep.port)} is not a Service port`);
        }
        break;
      }
      case 'PrometheusRule': {
        const groups = arr(spec.groups);
        if (groups.length === 0) problems.push(`${where}: no rule groups`);
        for (const g of groups) {
          const gw = `${where} group ${String(g.name)}`;
          unknownKeys(gw, g, RULE_GROUP_KEYS, problems);
          if (arr(g.rules).length === 0) problems.push(`${gw}: no rules`);
          for (const r of arr(g.rules)) {
            unknownKeys(`${gw} rule ${String(r.alert ?? r.record)}`, r, RULE_KEYS, problems);
            if ((typeof r.alert === 'string') === (typeof r.record === 'string')) problems.push(`${gw}: a rule needs exactly one of alert and record`);
            if (typeof r.expr !== 'string' || r.expr.trim() === '') problems.push(`${gw} rule ${String(r.alert ?? r.record)}: no expr`);
            for (const m of ['labels', 'annotations']) {
              if (Object.values(obj(r[m])).some((v) => typeof v !== 'string')) problems.push(`${gw} rule ${String(r.alert ?? r.record)}: ${m} must be strings`);
            }
          }
        }
        break;
      }
      case 'Ingress':
        for (const rule of arr(spec.rules)) {
          for (const path of arr(obj(rule.http).paths)) {
            const svc = obj(obj(path.backend).service);
            const target = objects.find((x) => x.kind === 'Service' && x.metadata.name === svc.name);
            if (!target) problems.push(`${where}: backend Service ${String(svc.name)} is not rendered`);
            else if (!arr(obj(target.spec).ports).some((p) => p.name === obj(svc.port).name)) problems.push(`${where}: backend port ${String(obj(svc.port).name)} is not a Service port`);
            if (!['Exact', 'Prefix', 'ImplementationSpecific'].includes(String(path.pathType))) problems.push(`${where}: bad pathType`);
          }
        }
        break;
    }
  }
  return problems;
}
