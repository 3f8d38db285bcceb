{{/*
Secrets mounted as files. The including chart defines `<chart>.secretSpecs`: a YAML map from the
secrets.<name> values key to its environment variable (its _FILE twin is set), file name, whether it
is required, and what a PEM value must contain (empty: not PEM), e.g.

  databaseUrl: {env: DATABASE_URL, file: database-url, required: true, pem: ""}

Each secrets.<name> value holds `value`, `existingSecret` and `key`.
*/}}

{{/* Where secrets are mounted in the container. */}}
{{- define "saml-authz-common.secrets.dir" -}}/var/run/secrets/saml-authz{{- end }}

{{/* The chart's secret table, as a YAML map. */}}
{{- define "saml-authz-common.secrets.specs" -}}
{{- include (printf "%s.secretSpecs" .Chart.Name) . }}
{{- end }}

{{/* Whether a secrets.<name> is given (a value or an existing Secret). `(dict "context" $ "name" "x")` */}}
{{- define "saml-authz-common.secrets.given" -}}
{{- $s := index .context.Values.secrets .name }}
{{- if or $s.value $s.existingSecret }}true{{ end }}
{{- end }}

{{/* Whether any secret is given as a value (the chart then renders its own Secret). */}}
{{- define "saml-authz-common.secrets.hasChartSecret" -}}
{{- range $name, $_ := include "saml-authz-common.secrets.specs" . | fromYaml }}
{{- if (index $.Values.secrets $name).value }}true{{ end }}
{{- end }}
{{- end }}

{{/* The chart Secret's data: one key per secret given as a value. */}}
{{- define "saml-authz-common.secrets.data" -}}
{{- range $name, $spec := include "saml-authz-common.secrets.specs" . | fromYaml }}
{{- $s := index $.Values.secrets $name }}
{{- if $s.value }}
{{ $spec.file }}: {{ $s.value | b64enc | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The projected volume sources: one per configured secret, from the chart's Secret or an existing one. */}}
{{- define "saml-authz-common.secrets.volumeSources" -}}
{{- range $name, $spec := include "saml-authz-common.secrets.specs" . | fromYaml }}
{{- $s := index $.Values.secrets $name }}
{{- if $s.existingSecret }}
- secret:
    name: {{ $s.existingSecret }}
    items:
      - key: {{ $s.key }}
        path: {{ $spec.file }}
{{- else if $s.value }}
- secret:
    name: {{ include "saml-authz-common.names.fullname" $ }}
    items:
      - key: {{ $spec.file }}
        path: {{ $spec.file }}
{{- end }}
{{- end }}
{{- end }}

{{/* The *_FILE variables of the configured secrets. */}}
{{- define "saml-authz-common.secrets.fileEnv" -}}
{{- range $name, $spec := include "saml-authz-common.secrets.specs" . | fromYaml }}
{{- $s := index $.Values.secrets $name }}
{{- if or $s.value $s.existingSecret }}
- name: {{ $spec.env }}_FILE
  value: {{ printf "%s/%s" (include "saml-authz-common.secrets.dir" $) $spec.file | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The problems with the secrets, one per line: a required one needs a value or an existingSecret, never
both; a PEM value must look like PEM; database URLs must be postgres:// URLs.
*/}}
{{- define "saml-authz-common.secrets.validate" -}}
{{- range $name, $spec := include "saml-authz-common.secrets.specs" . | fromYaml }}
{{- $s := index $.Values.secrets $name }}
{{- if and $s.value $s.existingSecret }}
{{ printf "secrets.%s: set either secrets.%s.value or secrets.%s.existingSecret, not both" $name $name $name }}
{{- end }}
{{- if and $spec.required (not $s.value) (not $s.existingSecret) }}
{{ printf "secrets.%s is required (%s): set secrets.%s.value (e.g. --set-file secrets.%s.value=FILE) or secrets.%s.existingSecret (a Secret with the key %q)" $name $spec.env $name $name $name $s.key }}
{{- end }}
{{- if and $s.value $spec.pem (not (contains $spec.pem $s.value)) }}
{{ printf "secrets.%s.value must be PEM (containing %q)" $name $spec.pem }}
{{- end }}
{{- end }}
{{- $db := .Values.secrets.databaseUrl }}
{{- if and $db.value (not $db.existingSecret) (not (regexMatch "^postgres(ql)?://" $db.value)) }}
{{ print "secrets.databaseUrl.value must be a postgres:// or postgresql:// URL" }}
{{- end }}
{{- with .Values.secrets.listenDatabaseUrl }}
{{- if and .value (not (regexMatch "^postgres(ql)?://" .value)) }}
{{ print "secrets.listenDatabaseUrl.value must be a postgres:// or postgresql:// URL (a direct connection to Postgres, not the pooler)" }}
{{- end }}
{{- end }}
{{- end }}
