{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "token-service.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: <release>-<chart>, or the release name when it already contains the chart
name. Truncated to 63 characters (DNS label limit).
*/}}
{{- define "token-service.fullname" -}}
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
{{- define "token-service.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels. */}}
{{- define "token-service.labels" -}}
helm.sh/chart: {{ include "token-service.chart" . }}
{{ include "token-service.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: saml-authz
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels: name and instance only (they never change across upgrades). */}}
{{- define "token-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "token-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the migration Job's pod: a different name, so that neither the Service nor the
PodDisruptionBudget selects it.
*/}}
{{- define "token-service.migrateSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-migrate" (include "token-service.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "token-service.migrateLabels" -}}
helm.sh/chart: {{ include "token-service.chart" . }}
{{ include "token-service.migrateSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: saml-authz
app.kubernetes.io/component: migrations
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* ServiceAccount name. */}}
{{- define "token-service.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "token-service.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest, or repository:tag (tag defaults to the appVersion). */}}
{{- define "token-service.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Where secrets are mounted in the container. */}}
{{- define "token-service.secretsDir" -}}/var/run/secrets/saml-authz{{- end }}

{{/*
The secrets the chart knows: values key, environment variable (its _FILE twin is set), file name,
whether it is required, and what the PEM must contain (empty: not PEM).
*/}}
{{- define "token-service.secretSpecs" -}}
databaseUrl: {env: DATABASE_URL, file: database-url, required: true, pem: ""}
listenDatabaseUrl: {env: LISTEN_DATABASE_URL, file: listen-database-url, required: false, pem: ""}
jwtPrivateKeys: {env: JWT_PRIVATE_KEY, file: jwt-private-keys.pem, required: true, pem: "PRIVATE KEY-----"}
idpCertificates: {env: SAML_IDP_CERT, file: idp-certificates.pem, required: true, pem: "-----BEGIN CERTIFICATE-----"}
samlDecryptionKey: {env: SAML_DECRYPTION_KEY, file: saml-decryption-key.pem, required: false, pem: "PRIVATE KEY-----"}
samlDecryptionCert: {env: SAML_DECRYPTION_CERT, file: saml-decryption-cert.pem, required: false, pem: "-----BEGIN CERTIFICATE-----"}
spSigningKey: {env: SAML_SP_SIGNING_KEY, file: saml-sp-signing-key.pem, required: false, pem: "PRIVATE KEY-----"}
spSigningCert: {env: SAML_SP_SIGNING_CERT, file: saml-sp-signing-cert.pem, required: false, pem: "-----BEGIN CERTIFICATE-----"}
{{- end }}

{{/*
Checks every secret: a required one needs a value or an existingSecret, never both; a PEM value must
look like PEM. Fails the render with a message naming the value to set.
*/}}
{{- define "token-service.validateSecrets" -}}
{{- range $name, $spec := include "token-service.secretSpecs" . | fromYaml }}
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
{{- if and .Values.secrets.samlDecryptionCert.value (not .Values.secrets.samlDecryptionKey.value) (not .Values.secrets.samlDecryptionKey.existingSecret) }}
{{- fail "secrets.samlDecryptionCert is set without secrets.samlDecryptionKey" }}
{{- end }}
{{- $spKey := or .Values.secrets.spSigningKey.value .Values.secrets.spSigningKey.existingSecret }}
{{- $spCert := or .Values.secrets.spSigningCert.value .Values.secrets.spSigningCert.existingSecret }}
{{- if and $spKey (not $spCert) }}
{{- fail "secrets.spSigningKey is set without secrets.spSigningCert (the IdP verifies with the certificate)" }}
{{- end }}
{{- if and $spCert (not $spKey) }}
{{- fail "secrets.spSigningCert is set without secrets.spSigningKey" }}
{{- end }}
{{- if and .Values.config.saml.idpSloUrl (not $spKey) }}
{{- fail "config.saml.idpSloUrl (SAML Single Logout) needs secrets.spSigningKey and secrets.spSigningCert: logout messages are signed" }}
{{- end }}
{{- if and .Values.config.saml.signAuthnRequests (not $spKey) }}
{{- fail "config.saml.signAuthnRequests needs secrets.spSigningKey and secrets.spSigningCert" }}
{{- end }}
{{- if and (not .Values.secrets.databaseUrl.existingSecret) (not (regexMatch "^postgres(ql)?://" .Values.secrets.databaseUrl.value)) }}
{{- fail "secrets.databaseUrl.value must be a postgres:// or postgresql:// URL" }}
{{- end }}
{{- if and .Values.secrets.listenDatabaseUrl.value (not (regexMatch "^postgres(ql)?://" .Values.secrets.listenDatabaseUrl.value)) }}
{{- fail "secrets.listenDatabaseUrl.value must be a postgres:// or postgresql:// URL (a direct connection to Postgres, not the pooler)" }}
{{- end }}
{{- end }}

{{/* Whether any secret is given as a value (the chart then renders its own Secret). */}}
{{- define "token-service.hasChartSecret" -}}
{{- range $name, $_ := include "token-service.secretSpecs" . | fromYaml }}
{{- if (index $.Values.secrets $name).value }}true{{ end }}
{{- end }}
{{- end }}

{{/* The projected volume sources: one per configured secret, from the chart's Secret or an existing one. */}}
{{- define "token-service.secretVolumeSources" -}}
{{- range $name, $spec := include "token-service.secretSpecs" . | fromYaml }}
{{- $s := index $.Values.secrets $name }}
{{- if $s.existingSecret }}
- secret:
    name: {{ $s.existingSecret }}
    items:
      - key: {{ $s.key }}
        path: {{ $spec.file }}
{{- else if $s.value }}
- secret:
    name: {{ include "token-service.fullname" $ }}
    items:
      - key: {{ $spec.file }}
        path: {{ $spec.file }}
{{- end }}
{{- end }}
{{- end }}

{{/* The *_FILE variables of the configured secrets. */}}
{{- define "token-service.secretFileEnv" -}}
{{- range $name, $spec := include "token-service.secretSpecs" . | fromYaml }}
{{- $s := index $.Values.secrets $name }}
{{- if or $s.value $s.existingSecret }}
- name: {{ $spec.env }}_FILE
  value: {{ printf "%s/%s" (include "token-service.secretsDir" $) $spec.file | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* One environment value as a string: lists comma-separated, numbers as integers. */}}
{{- define "token-service.envValue" -}}
{{- if kindIs "slice" . }}{{ join "," . }}
{{- else if kindIs "float64" . }}{{ int64 . }}
{{- else }}{{ toString . }}
{{- end }}
{{- end }}

{{/*
The non-secret environment (the ConfigMap's data). Values left empty or null are omitted, so that the
service's own default applies.
*/}}
{{- define "token-service.configEnv" -}}
{{- $c := .Values.config }}
{{- $env := dict
  "PORT" .Values.containerPorts.http
  "METRICS_PORT" .Values.containerPorts.metrics
  "HOST" "0.0.0.0"
  "SHUTDOWN_DELAY_SECONDS" .Values.shutdown.delaySeconds
  "SHUTDOWN_TIMEOUT_SECONDS" .Values.shutdown.timeoutSeconds
  "LOG_LEVEL" $c.logLevel
  "DATABASE_POOL_MAX" $c.databasePoolMax
  "SAML_IDP_ISSUER" (required "config.saml.idpIssuer is required (SAML_IDP_ISSUER): the IdP's entity id" $c.saml.idpIssuer)
  "SAML_IDP_SSO_URL" (required "config.saml.idpSsoUrl is required (SAML_IDP_SSO_URL): the IdP's single sign-on URL" $c.saml.idpSsoUrl)
  "SAML_SP_ENTITY_ID" (required "config.saml.spEntityId is required (SAML_SP_ENTITY_ID): this service provider's entity id" $c.saml.spEntityId)
  "SAML_ACS_URL" (required "config.saml.acsUrl is required (SAML_ACS_URL): the public URL of POST /saml/acs" $c.saml.acsUrl)
  "SAML_SIGNATURE_POLICY" $c.saml.signaturePolicy
  "SAML_CLOCK_SKEW_SECONDS" $c.saml.clockSkewSeconds
  "SAML_MAX_ASSERTION_AGE_SECONDS" $c.saml.maxAssertionAgeSeconds
  "SAML_EMAIL_ATTRIBUTE" $c.saml.emailAttribute
  "SAML_GROUPS_ATTRIBUTE" $c.saml.groupsAttribute
  "SAML_ALLOW_IDP_INITIATED" $c.saml.allowIdpInitiated
  "SAML_MAX_RESPONSE_BYTES" $c.saml.maxResponseBytes
  "SAML_REQUEST_TTL_SECONDS" $c.saml.requestTtlSeconds
  "SAML_NAMEID_FORMAT" $c.saml.nameIdFormat
  "SAML_ALLOW_TRANSIENT_NAMEID" $c.saml.allowTransientNameId
  "SAML_IDP_SLO_URL" $c.saml.idpSloUrl
  "SAML_SLO_URL" $c.saml.sloUrl
  "SAML_SIGN_AUTHN_REQUESTS" $c.saml.signAuthnRequests
  "JWT_ALGORITHM" $c.jwt.algorithm
  "JWT_ISSUER" (required "config.jwt.issuer is required (JWT_ISSUER)" $c.jwt.issuer)
  "JWT_AUDIENCE" (required "config.jwt.audience is required (JWT_AUDIENCE)" $c.jwt.audience)
  "JWT_TTL_SECONDS" $c.jwt.ttlSeconds
  "ALLOWED_CIDRS" $c.allowedCidrs
  "TRUSTED_PROXIES" $c.trustedProxies
  "RATE_LIMIT_MAX" $c.rateLimit.max
  "RATE_LIMIT_WINDOW_SECONDS" $c.rateLimit.windowSeconds
  "RATE_LIMIT_STORE_SIZE" $c.rateLimit.storeSize
  "SAML_MAX_PENDING_LOGINS" $c.maxPendingLogins
  "COOKIE_NAME" $c.cookie.name
  "COOKIE_DOMAIN" $c.cookie.domain
  "COOKIE_SECURE" $c.cookie.secure
  "COOKIE_SAMESITE" $c.cookie.sameSite
  "ALLOWED_RETURN_URLS" $c.allowedReturnUrls
  "DEFAULT_RETURN_URL" $c.defaultReturnUrl
  "SWEEP_INTERVAL_SECONDS" $c.sweepIntervalSeconds
  "SESSION_IDLE_TIMEOUT_SECONDS" $c.session.idleTimeoutSeconds
  "SESSION_MAX_LIFETIME_SECONDS" $c.session.maxLifetimeSeconds
}}
{{- range $k, $v := $env }}
{{- if not (or (kindIs "invalid" $v) (eq (include "token-service.envValue" $v) "")) }}
{{ $k }}: {{ include "token-service.envValue" $v | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Checks that the pod outlives its own graceful shutdown. */}}
{{- define "token-service.validateShutdown" -}}
{{- $needed := add .Values.shutdown.delaySeconds .Values.shutdown.timeoutSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $needed) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed shutdown.delaySeconds + shutdown.timeoutSeconds (%d), or Kubernetes kills requests in flight" (int .Values.terminationGracePeriodSeconds) (int $needed)) }}
{{- end }}
{{- end }}

{{/* A topologySpreadConstraints list with the chart's selector filled in. */}}
{{- define "token-service.topologySpread" -}}
{{- range .Values.topologySpreadConstraints }}
{{- $c := deepCopy . }}
{{- if not $c.labelSelector }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "token-service.selectorLabels" $ | fromYaml)) }}
{{- end }}
- {{ toYaml $c | nindent 2 | trim }}
{{- end }}
{{- end }}

{{/* NetworkPolicy egress rules: Postgres (CIDRs, peers, or any destination on its port) and DNS. */}}
{{- define "token-service.egressDatabaseAndDns" -}}
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
