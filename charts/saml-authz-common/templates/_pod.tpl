{{/* A topologySpreadConstraints list with the chart's selector filled in. */}}
{{- define "saml-authz-common.pod.topologySpread" -}}
{{- range .Values.topologySpreadConstraints }}
{{- $c := deepCopy . }}
{{- if not $c.labelSelector }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "saml-authz-common.labels.selector" $ | fromYaml)) }}
{{- end }}
- {{ toYaml $c | nindent 2 | trim }}
{{- end }}
{{- end }}

{{/*
The extension points every pod of the charts takes, rendered as list entries (indent them with nindent):
`saml-authz-common.pod.extraVolumeMounts`, `saml-authz-common.pod.extraVolumes`,
`saml-authz-common.pod.sidecars`. Values may use templates (`{{ include "..." $ }}`), as in Bitnami's
common.tplvalues.render.
*/}}
{{- define "saml-authz-common.pod.render" -}}
{{- if .value }}
{{- if kindIs "string" .value }}{{ tpl .value .context }}{{ else }}{{ tpl (toYaml .value) .context }}{{ end }}
{{- end }}
{{- end }}

{{- define "saml-authz-common.pod.extraVolumeMounts" -}}
{{- include "saml-authz-common.pod.render" (dict "value" .Values.extraVolumeMounts "context" .) }}
{{- end }}

{{- define "saml-authz-common.pod.extraVolumes" -}}
{{- include "saml-authz-common.pod.render" (dict "value" .Values.extraVolumes "context" .) }}
{{- end }}

{{- define "saml-authz-common.pod.sidecars" -}}
{{- include "saml-authz-common.pod.render" (dict "value" .Values.sidecars "context" .) }}
{{- end }}

{{- define "saml-authz-common.pod.extraEnv" -}}
{{- include "saml-authz-common.pod.render" (dict "value" .Values.extraEnv "context" .) }}
{{- end }}
