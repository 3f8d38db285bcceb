{{/* One egress rule to a port, optionally limited to CIDRs and peers: `(dict "port" 5432 "cidrs" (list) "peers" (list))`. */}}
{{- define "saml-authz-common.networkPolicy.egressTo" -}}
- ports:
    {{- range (kindIs "slice" .port | ternary .port (list .port)) }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- if or .cidrs .peers }}
  to:
    {{- range .cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
    {{- with .peers }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end }}

{{/*
NetworkPolicy egress rules: Postgres (CIDRs, peers, or any destination on its port), the direct Postgres
of LISTEN_DATABASE_URL when networkPolicy.listenDatabase names one, and the cluster DNS.
*/}}
{{- define "saml-authz-common.networkPolicy.egressDatabaseAndDns" -}}
{{- $db := .Values.networkPolicy.database }}
{{- include "saml-authz-common.networkPolicy.egressTo" (dict "port" $db.port "cidrs" $db.cidrs "peers" $db.peers) }}
{{- with .Values.networkPolicy.listenDatabase }}
{{- if or .port .cidrs .peers }}
{{ include "saml-authz-common.networkPolicy.egressTo" (dict "port" (.port | default $db.port) "cidrs" .cidrs "peers" .peers) }}
{{- end }}
{{- end }}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 8 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end }}
