{{/* The image reference: repository@digest, or repository:tag (tag defaults to the appVersion). */}}
{{- define "saml-authz-common.images.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}
