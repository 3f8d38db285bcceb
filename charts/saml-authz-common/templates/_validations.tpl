{{/*
Values validation, Bitnami-style: every check writes its problems, one per line; the chart's own
checks come from `<chart>.validationMessages` (same format). The render fails once, listing them all,
so that an operator fixes everything in one round. Include it at the top of every template that could
otherwise render nonsense: `{{- include "saml-authz-common.validate" . }}`.
*/}}
{{- define "saml-authz-common.validate" -}}
{{- $lines := list }}
{{- range $check := list "saml-authz-common.validate.image" "saml-authz-common.secrets.validate" "saml-authz-common.validate.shutdown" "saml-authz-common.validate.autoscaling" "saml-authz-common.validate.nodeHeap" (printf "%s.validationMessages" $.Chart.Name) }}
{{- range (include $check $ | splitList "\n") }}
{{- if trim . }}{{ $lines = append $lines (trim .) }}{{ end }}
{{- end }}
{{- end }}
{{- if $lines }}
{{- fail (printf "\n\nVALUES VALIDATION: the %s chart cannot render these values (%d %s). Fix them all, then run helm again:\n  - %s\n" .Chart.Name (len $lines) (ternary "problem" "problems" (eq (len $lines) 1)) (join "\n  - " $lines)) }}
{{- end }}
{{- end }}

{{/* `latest` moves under a running Deployment: refused, with the way out. */}}
{{- define "saml-authz-common.validate.image" -}}
{{- if and (eq (toString .Values.image.tag) "latest") (not .Values.image.digest) }}
{{ print "image.tag is \"latest\": a moving tag makes rollbacks and replicas unpredictable. Set image.tag to a released version (empty means the chart's appVersion) or pin image.digest" }}
{{- end }}
{{- end }}

{{/* The pod must outlive its own graceful shutdown. */}}
{{- define "saml-authz-common.validate.shutdown" -}}
{{- $needed := add .Values.shutdown.delaySeconds .Values.shutdown.timeoutSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $needed) }}
{{ printf "terminationGracePeriodSeconds (%d) must exceed shutdown.delaySeconds + shutdown.timeoutSeconds (%d), or Kubernetes kills requests in flight" (int .Values.terminationGracePeriodSeconds) (int $needed) }}
{{- end }}
{{- end }}

{{- define "saml-authz-common.validate.autoscaling" -}}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{ printf "autoscaling.maxReplicas (%d) must be at least autoscaling.minReplicas (%d)" (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas) }}
{{- end }}
{{- end }}
