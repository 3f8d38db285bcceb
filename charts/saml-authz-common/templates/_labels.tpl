{{/* Selector labels: name and instance only (they never change across upgrades). */}}
{{- define "saml-authz-common.labels.selector" -}}
app.kubernetes.io/name: {{ include "saml-authz-common.names.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Common labels. */}}
{{- define "saml-authz-common.labels.standard" -}}
helm.sh/chart: {{ include "saml-authz-common.names.chart" . }}
{{ include "saml-authz-common.labels.selector" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: saml-authz
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels of a migration Job's pod: a different name, so that neither the Service nor the
PodDisruptionBudget selects it.
*/}}
{{- define "saml-authz-common.labels.migrateSelector" -}}
app.kubernetes.io/name: {{ printf "%s-migrate" (include "saml-authz-common.names.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "saml-authz-common.labels.migrate" -}}
helm.sh/chart: {{ include "saml-authz-common.names.chart" . }}
{{ include "saml-authz-common.labels.migrateSelector" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: saml-authz
app.kubernetes.io/component: migrations
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}
