{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "authz-service.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: <release>-<chart>, or the release name when it already contains the chart
name. Truncated to 63 characters (DNS label limit).
*/}}
{{- define "authz-service.fullname" -}}
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

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "authz-service.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels. */}}
{{- define "authz-service.labels" -}}
helm.sh/chart: {{ include "authz-service.chart" . }}
{{ include "authz-service.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: saml-authz
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels: name and instance only (they never change across upgrades). */}}
{{- define "authz-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "authz-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* ServiceAccount name. */}}
{{- define "authz-service.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "authz-service.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest, or repository:tag (tag defaults to the appVersion). */}}
{{- define "authz-service.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Where secrets are mounted in the container. */}}
{{- define "authz-service.secretsDir" -}}/var/run/secrets/saml-authz{{- end }}

{{/*
The secrets the chart knows: values key, environment variable (its _FILE twin is set), file name,
whether it is required, and what the PEM must contain (empty: not PEM).
*/}}
{{- define "authz-service.secretSpecs" -}}
databaseUrl: {env: DATABASE_URL, file: database-url, required: true, pem: ""}
listenDatabaseUrl: {env: LISTEN_DATABASE_URL, file: listen-database-url, required: false, pem: ""}
jwtPublicKeys: {env: JWT_PUBLIC_KEYS, file: jwt-public-keys.pem, required: false, pem: ""}
upstreamJwtPrivateKey: {env: UPSTREAM_JWT_PRIVATE_KEY, file: upstream-jwt-private-key.pem, required: false, pem: "PRIVATE KEY"}
{{- end }}

{{/*
Checks every secret: a required one needs a value or an existingSecret, never both; a PEM value must
look like PEM. Fails the render with a message naming the value to set.
*/}}
{{- define "authz-service.validateSecrets" -}}
{{- range $name, $spec := include "authz-service.secretSpecs" . | fromYaml }}
{{- $s := index $.Values.secrets $name }}
{{- if and $s.value $s.existingSecret }}
{{- fail (printf "secrets.%s: set either secrets.%s.value or secrets.%s.existingSecret, not both" $name $name $name) }}
{{- end }}
{{- if and $spec.required (not $s.value) (not $s.existingSecret) }}
{{- fail (printf "secrets.%s is required (%s): set secrets.%s.value (e.g. --set-file secrets.%s.value=FILE) or secrets.%s.existingSecret (a Secret with the key %q)" $name $spec.env $name $name $name $s.key) }}
{{- end }}
{{- if and $s.value $spec.pem (not (contains $spec.pem $s.value)) }}
{{- fail (printf "secrets.%s.value must be PEM (containing %q)" $name $spec.pem) }}
{{- end }}
{{- end }}
{{- $keys := or .Values.secrets.jwtPublicKeys.value .Values.secrets.jwtPublicKeys.existingSecret }}
{{- if and $keys .Values.config.jwt.jwksUrl }}
{{- fail "set either config.jwt.jwksUrl or secrets.jwtPublicKeys, not both" }}
{{- end }}
{{- if not (or $keys .Values.config.jwt.jwksUrl) }}
{{- fail "the token-service's public keys are required: set config.jwt.jwksUrl (e.g. http://<token-service>.<namespace>.svc.cluster.local/.well-known/jwks.json) or secrets.jwtPublicKeys.value / secrets.jwtPublicKeys.existingSecret (PEM public keys or a JWKS document)" }}
{{- end }}
{{- if and (not .Values.secrets.databaseUrl.existingSecret) (not (regexMatch "^postgres(ql)?://" .Values.secrets.databaseUrl.value)) }}
{{- fail "secrets.databaseUrl.value must be a postgres:// or postgresql:// URL" }}
{{- end }}
{{- $upstreamKey := or .Values.secrets.upstreamJwtPrivateKey.value .Values.secrets.upstreamJwtPrivateKey.existingSecret }}
{{- if and $upstreamKey (not .Values.config.upstreamJwt.issuer) }}
{{- fail "config.upstreamJwt.issuer is required with secrets.upstreamJwtPrivateKey (UPSTREAM_JWT_ISSUER and UPSTREAM_JWT_PRIVATE_KEY go together)" }}
{{- end }}
{{- if and .Values.config.upstreamJwt.issuer (not $upstreamKey) }}
{{- fail "secrets.upstreamJwtPrivateKey is required with config.upstreamJwt.issuer: set secrets.upstreamJwtPrivateKey.value (e.g. --set-file secrets.upstreamJwtPrivateKey.value=FILE) or secrets.upstreamJwtPrivateKey.existingSecret (UPSTREAM_JWT_ISSUER and UPSTREAM_JWT_PRIVATE_KEY go together)" }}
{{- end }}
{{- if and .Values.config.upstreamJwt.all (not $upstreamKey) }}
{{- fail "config.upstreamJwt.all needs secrets.upstreamJwtPrivateKey and config.upstreamJwt.issuer" }}
{{- end }}
{{- if and .Values.secrets.listenDatabaseUrl.value (not (regexMatch "^postgres(ql)?://" .Values.secrets.listenDatabaseUrl.value)) }}
{{- fail "secrets.listenDatabaseUrl.value must be a postgres:// or postgresql:// URL (a direct connection to Postgres, not the pooler)" }}
{{- end }}
{{- end }}

{{/* Whether any secret is given as a value (the chart then renders its own Secret). */}}
{{- define "authz-service.hasChartSecret" -}}
{{- range $name, $_ := include "authz-service.secretSpecs" . | fromYaml }}
{{- if (index $.Values.secrets $name).value }}true{{ end }}
{{- end }}
{{- end }}

{{/* The projected volume sources: one per configured secret, from the chart's Secret or an existing one. */}}
{{- define "authz-service.secretVolumeSources" -}}
{{- range $name, $spec := include "authz-service.secretSpecs" . | fromYaml }}
{{- $s := index $.Values.secrets $name }}
{{- if $s.existingSecret }}
- secret:
    name: {{ $s.existingSecret }}
    items:
      - key: {{ $s.key }}
        path: {{ $spec.file }}
{{- else if $s.value }}
- secret:
    name: {{ include "authz-service.fullname" $ }}
    items:
      - key: {{ $spec.file }}
        path: {{ $spec.file }}
{{- end }}
{{- end }}
{{- end }}

{{/* The *_FILE variables of the configured secrets. */}}
{{- define "authz-service.secretFileEnv" -}}
{{- range $name, $spec := include "authz-service.secretSpecs" . | fromYaml }}
{{- $s := index $.Values.secrets $name }}
{{- if or $s.value $s.existingSecret }}
- name: {{ $spec.env }}_FILE
  value: {{ printf "%s/%s" (include "authz-service.secretsDir" $) $spec.file | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* One environment value as a string: lists comma-separated, numbers as integers. */}}
{{- define "authz-service.envValue" -}}
{{- if kindIs "slice" . }}{{ join "," . }}
{{- else if kindIs "float64" . }}{{ int64 . }}
{{- else }}{{ toString . }}
{{- end }}
{{- end }}

{{/*
The non-secret environment (the ConfigMap's data). Values left empty or null are omitted, so that the
service's own default applies.
*/}}
{{- define "authz-service.configEnv" -}}
{{- $c := .Values.config }}
{{- $env := dict
  "PORT" .Values.containerPorts.http
  "METRICS_PORT" .Values.containerPorts.metrics
  "HOST" "0.0.0.0"
  "SHUTDOWN_DELAY_SECONDS" .Values.shutdown.delaySeconds
  "SHUTDOWN_TIMEOUT_SECONDS" .Values.shutdown.timeoutSeconds
  "LOG_LEVEL" $c.logLevel
  "DATABASE_POOL_MAX" $c.databasePoolMax
  "FRONT_END" $c.frontEnd
  "ENVOY_PATH_PREFIX" $c.envoyPathPrefix
  "POLICY_FILE" (include "authz-service.policyFile" .)
  "POLICY_RELOAD_SECONDS" $c.policyReloadSeconds
  "JWKS_URL" $c.jwt.jwksUrl
  "JWKS_ALLOW_HTTP" $c.jwt.jwksAllowHttp
  "JWT_ISSUER" (required "config.jwt.issuer is required (JWT_ISSUER): the token-service's config.jwt.issuer" $c.jwt.issuer)
  "JWT_AUDIENCE" (required "config.jwt.audience is required (JWT_AUDIENCE): the token-service's config.jwt.audience" $c.jwt.audience)
  "JWT_CLOCK_SKEW_SECONDS" $c.jwt.clockSkewSeconds
  "TRUSTED_PROXIES" $c.trustedProxies
  "COOKIE_NAME" $c.cookieName
  "PATH_RELAXATIONS" $c.pathRelaxations
  "CACHE_TTL_SECONDS" $c.cache.ttlSeconds
  "CACHE_MAX_ENTRIES" $c.cache.maxEntries
  "LIVENESS_DEGRADED_BATCH_MS" $c.cache.degradedBatchMs
  "LISTENER_PROBE_INTERVAL_MS" $c.listenerProbe.intervalMs
  "LISTENER_PROBE_TIMEOUT_MS" $c.listenerProbe.timeoutMs
  "ACCESS_LOG" $c.accessLog
  "ALLOW_METHOD_OVERRIDE" $c.allowMethodOverride
  "REFUSAL_HEADERS" $c.refusalHeaders
  "INGRESS_CHECK_REQUEST_REDIRECT" $c.ingressCheckRequestRedirect
  "POLICY_ALLOW_LINT_ERRORS" $c.policyAllowLintErrors
  "TRUSTED_PROXIES_ALLOW_WIDE" $c.trustedProxiesAllowWide
  "UPSTREAM_JWT_ISSUER" $c.upstreamJwt.issuer
  "UPSTREAM_JWT_ALGORITHM" $c.upstreamJwt.algorithm
  "UPSTREAM_JWT_TTL_SECONDS" $c.upstreamJwt.ttlSeconds
  "UPSTREAM_JWT_ALL" $c.upstreamJwt.all
  "UPSTREAM_JWT_CACHE_MAX_ENTRIES" $c.upstreamJwt.cacheMaxEntries
}}
{{- range $k, $v := $env }}
{{- if not (or (kindIs "invalid" $v) (eq (include "authz-service.envValue" $v) "")) }}
{{ $k }}: {{ include "authz-service.envValue" $v | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Checks that the pod outlives its own graceful shutdown. */}}
{{- define "authz-service.validateShutdown" -}}
{{- $needed := add .Values.shutdown.delaySeconds .Values.shutdown.timeoutSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $needed) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed shutdown.delaySeconds + shutdown.timeoutSeconds (%d), or Kubernetes kills requests in flight" (int .Values.terminationGracePeriodSeconds) (int $needed)) }}
{{- end }}
{{- end }}

{{/* A topologySpreadConstraints list with the chart's selector filled in. */}}
{{- define "authz-service.topologySpread" -}}
{{- range .Values.topologySpreadConstraints }}
{{- $c := deepCopy . }}
{{- if not $c.labelSelector }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "authz-service.selectorLabels" $ | fromYaml)) }}
{{- end }}
- {{ toYaml $c | nindent 2 | trim }}
{{- end }}
{{- end }}

{{/* NetworkPolicy egress rules: Postgres (CIDRs, peers, or any destination on its port), DNS, and the token-service's JWKS. */}}
{{- define "authz-service.egress" -}}
{{- $db := .Values.networkPolicy.database }}
- ports:
    - port: {{ $db.port }}
      protocol: TCP
  {{- if or $db.cidrs $db.peers }}
  to:
    {{- range $db.cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
    {{- with $db.peers }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- $ldb := .Values.networkPolicy.listenDatabase }}
{{- if or $ldb.port $ldb.cidrs $ldb.peers }}
- ports:
    - port: {{ $ldb.port | default $db.port }}
      protocol: TCP
  {{- if or $ldb.cidrs $ldb.peers }}
  to:
    {{- range $ldb.cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
    {{- with $ldb.peers }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
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
{{- if .Values.config.jwt.jwksUrl }}
{{- $ts := .Values.networkPolicy.tokenService }}
- to:
    - podSelector:
        {{- toYaml $ts.podSelector | nindent 8 }}
      {{- with $ts.namespace }}
      namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ . }}
      {{- end }}
  ports:
    - port: {{ $ts.port }}
      protocol: TCP
{{- end }}
{{- end }}

{{/* The policy: mounted as a directory (no subPath, so ConfigMap updates arrive), read by POLICY_FILE. */}}
{{- define "authz-service.policyDir" -}}/etc/saml-authz/policy{{- end }}
{{- define "authz-service.policyFile" -}}{{ include "authz-service.policyDir" . }}/{{ .Values.policy.key }}{{- end }}
{{- define "authz-service.policyConfigMapName" -}}
{{- if .Values.policy.existingConfigMap }}{{ .Values.policy.existingConfigMap }}
{{- else }}{{ printf "%s-policy" (include "authz-service.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Checks that a policy is given, inline or as a ConfigMap, not both. */}}
{{- define "authz-service.validatePolicy" -}}
{{- if and .Values.policy.rules .Values.policy.existingConfigMap }}
{{- fail "set either policy.rules or policy.existingConfigMap, not both" }}
{{- end }}
{{- if not (or .Values.policy.rules .Values.policy.existingConfigMap) }}
{{- fail "a policy is required: set policy.rules (inline rules, see docs/policy.md) or policy.existingConfigMap (a ConfigMap with the key policy.key)" }}
{{- end }}
{{- end }}

{{/* The in-cluster URL of /auth, as the ingress controller calls it. */}}
{{/* Where upstreams fetch the X-Auth-Request-Jwt public keys, in-cluster (the Service's http port). */}}
{{- define "authz-service.jwksUrl" -}}
{{- printf "http://%s.%s.svc.cluster.local:%d/.well-known/jwks.json" (include "authz-service.fullname" .) .Release.Namespace (int .Values.service.port) }}
{{- end }}

{{- define "authz-service.authUrl" -}}
{{- printf "http://%s.%s.svc.cluster.local:%d/auth" (include "authz-service.fullname" .) .Release.Namespace (int .Values.service.port) }}
{{- end }}
