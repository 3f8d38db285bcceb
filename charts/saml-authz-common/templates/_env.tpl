{{/* One environment value as a string: lists comma-separated, numbers as integers. */}}
{{- define "saml-authz-common.env.value" -}}
{{- if kindIs "slice" . }}{{ join "," . }}
{{- else if kindIs "float64" . }}{{ int64 . }}
{{- else }}{{ toString . }}
{{- end }}
{{- end }}

{{/*
A ConfigMap's data from a dict of environment variables. Values left empty or null are omitted, so that
the service's own default applies.
*/}}
{{- define "saml-authz-common.env.configMapData" -}}
{{- range $k, $v := . }}
{{- if not (or (kindIs "invalid" $v) (eq (include "saml-authz-common.env.value" $v) "")) }}
{{ $k }}: {{ include "saml-authz-common.env.value" $v | quote }}
{{- end }}
{{- end }}
{{- end }}
