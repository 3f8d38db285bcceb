{{/*
Names. Every helper takes the chart's root context (`.`): inside a library chart `.Chart` is the chart
that includes it, so `.Chart.Name` is token-service or authz-service.
*/}}

{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "saml-authz-common.names.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: <release>-<chart>, or the release name when it already contains the chart
name. Truncated to 63 characters (DNS label limit).
*/}}
{{- define "saml-authz-common.names.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The fullname with a suffix, still a DNS label: `(dict "context" $ "suffix" "migrate")`. */}}
{{- define "saml-authz-common.names.suffixed" -}}
{{- printf "%s-%s" (include "saml-authz-common.names.fullname" .context) .suffix | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "saml-authz-common.names.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* ServiceAccount name. */}}
{{- define "saml-authz-common.names.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "saml-authz-common.names.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Service's in-cluster host name: <fullname>.<namespace>.svc.<clusterDomain>. */}}
{{- define "saml-authz-common.names.serviceHost" -}}
{{- printf "%s.%s.svc.%s" (include "saml-authz-common.names.fullname" .) .Release.Namespace (.Values.clusterDomain | default "cluster.local") }}
{{- end }}

{{/* The Service's in-cluster base URL: http://<serviceHost>:<service.port>. */}}
{{- define "saml-authz-common.names.serviceUrl" -}}
{{- printf "http://%s:%d" (include "saml-authz-common.names.serviceHost" .) (int .Values.service.port) }}
{{- end }}
