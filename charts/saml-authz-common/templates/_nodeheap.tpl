{{/*
The Node heap sized from the container's memory limit. Without flags V8 sizes its heap from the memory
it sees, which on a large node can be far more than the pod's limit: the heap then grows lazily past
the limit and the container is OOM-killed instead of collecting garbage. With `nodeHeap.enabled` the
chart renders
  NODE_OPTIONS=--max-old-space-size=<nodeHeap.maxOldSpacePercent % of resources.limits.memory, MiB>
               --max-semi-space-size=<nodeHeap.maxSemiSpaceMiB> (left out when 0: Node's default)
An operator's own NODE_OPTIONS in `extraEnv` wins: the chart then renders none (a duplicate env name
would leave the choice to the kubelet and trip server-side apply).
*/}}

{{/* resources.limits.memory as written ("" when absent). */}}
{{- define "saml-authz-common.nodeHeap.limit" -}}
{{- $limits := (.Values.resources | default dict).limits | default dict }}
{{- $limit := get $limits "memory" }}
{{- if kindIs "float64" $limit }}{{ printf "%.0f" $limit }}{{ else if not (kindIs "invalid" $limit) }}{{ toString $limit | trim }}{{ end }}
{{- end }}

{{/*
resources.limits.memory in MiB (a decimal, as text), or "" when it is absent or not a quantity this
helper reads: plain bytes, or a decimal number with Ki, Mi, Gi, Ti, k, M, G or T.
*/}}
{{- define "saml-authz-common.nodeHeap.limitMiB" -}}
{{- $q := include "saml-authz-common.nodeHeap.limit" . }}
{{- if regexMatch "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$" $q }}
{{- $number := regexReplaceAll "[a-zA-Z]+$" $q "" | float64 }}
{{- $unit := regexReplaceAll "^[0-9.]+" $q "" }}
{{- $perUnit := dict "" (divf 1 1048576) "Ki" (divf 1 1024) "Mi" 1 "Gi" 1024 "Ti" 1048576 "k" (divf 1000 1048576) "M" (divf 1000000 1048576) "G" (divf 1000000000 1048576) "T" (divf 1000000000000 1048576) }}
{{- printf "%f" (mulf $number (get $perUnit $unit)) }}
{{- end }}
{{- end }}

{{/* --max-old-space-size in MiB: nodeHeap.maxOldSpacePercent of the limit, rounded down ("" as limitMiB). */}}
{{- define "saml-authz-common.nodeHeap.maxOldSpaceMiB" -}}
{{- with include "saml-authz-common.nodeHeap.limitMiB" . }}
{{- int (floor (divf (mulf (float64 .) $.Values.nodeHeap.maxOldSpacePercent) 100)) }}
{{- end }}
{{- end }}

{{/* The flags, space-separated ("" when nodeHeap is off or the limit cannot be read). */}}
{{- define "saml-authz-common.nodeHeap.flags" -}}
{{- $old := include "saml-authz-common.nodeHeap.maxOldSpaceMiB" . }}
{{- if and .Values.nodeHeap.enabled $old }}
{{- $flags := list (printf "--max-old-space-size=%s" $old) }}
{{- if gt (int .Values.nodeHeap.maxSemiSpaceMiB) 0 }}
{{- $flags = append $flags (printf "--max-semi-space-size=%d" (int .Values.nodeHeap.maxSemiSpaceMiB)) }}
{{- end }}
{{- join " " $flags }}
{{- end }}
{{- end }}

{{/* "true" when extraEnv, as rendered, sets NODE_OPTIONS itself. */}}
{{- define "saml-authz-common.nodeHeap.overridden" -}}
{{- with include "saml-authz-common.pod.extraEnv" . }}
{{- range (fromYamlArray .) }}
{{- if and (kindIs "map" .) (eq (toString (get . "name")) "NODE_OPTIONS") }}true{{ end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The NODE_OPTIONS env entry as a list item (indent it with nindent), or nothing. */}}
{{- define "saml-authz-common.nodeHeap.env" -}}
{{- $flags := include "saml-authz-common.nodeHeap.flags" . }}
{{- if and $flags (not (include "saml-authz-common.nodeHeap.overridden" .)) -}}
- name: NODE_OPTIONS
  value: {{ $flags | quote }}
{{- end }}
{{- end }}

{{/* Problems, one per line (see saml-authz-common.validate). */}}
{{- define "saml-authz-common.validate.nodeHeap" -}}
{{- if and .Values.nodeHeap.enabled (not (include "saml-authz-common.nodeHeap.overridden" .)) }}
{{- $limit := include "saml-authz-common.nodeHeap.limit" . }}
{{- $old := include "saml-authz-common.nodeHeap.maxOldSpaceMiB" . }}
{{- if eq $limit "" }}
{{ print "nodeHeap.enabled is true but resources.limits.memory is not set: the chart derives NODE_OPTIONS (--max-old-space-size) from it. Set resources.limits.memory (e.g. 384Mi), set NODE_OPTIONS yourself in extraEnv, or set nodeHeap.enabled=false to leave the heap size to Node" }}
{{- else if eq $old "" }}
{{ printf "resources.limits.memory (%q) is not a quantity the chart can size the Node heap from: write bytes or a number with Ki, Mi, Gi, Ti, k, M, G or T (e.g. 384Mi, 1Gi, 512M), or set nodeHeap.enabled=false" $limit }}
{{- else if lt (int $old) 32 }}
{{ printf "nodeHeap: --max-old-space-size=%s (%d%% of resources.limits.memory %s) is too small a heap for the service (at least 32 MiB): raise resources.limits.memory or nodeHeap.maxOldSpacePercent" $old (int .Values.nodeHeap.maxOldSpacePercent) $limit }}
{{- end }}
{{- end }}
{{- end }}
