{{/*
The authz-service's own helpers. Names, labels, the image, secrets as files, the environment ConfigMap,
NetworkPolicy egress and the validation frame come from the saml-authz-common library chart; this file
holds what only this chart knows: its secrets table, its environment, its policy, its checks.
*/}}

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

{{/* This chart's problems, one per line (collected with the common checks by saml-authz-common.validate). */}}
{{- define "authz-service.validationMessages" -}}
{{- $c := .Values.config }}
{{- $keys := include "saml-authz-common.secrets.given" (dict "context" . "name" "jwtPublicKeys") }}
{{- $upstreamKey := include "saml-authz-common.secrets.given" (dict "context" . "name" "upstreamJwtPrivateKey") }}
{{- if not $c.jwt.issuer }}
{{ print "config.jwt.issuer is required (JWT_ISSUER): the token-service's config.jwt.issuer" }}
{{- end }}
{{- if not $c.jwt.audience }}
{{ print "config.jwt.audience is required (JWT_AUDIENCE): the token-service's config.jwt.audience" }}
{{- end }}
{{- if and $keys $c.jwt.jwksUrl }}
{{ print "set either config.jwt.jwksUrl or secrets.jwtPublicKeys, not both" }}
{{- end }}
{{- if not (or $keys $c.jwt.jwksUrl) }}
{{ printf "the token-service's public keys are required: set config.jwt.jwksUrl (e.g. http://<token-service>.<namespace>.svc.%s/.well-known/jwks.json) or secrets.jwtPublicKeys.value / secrets.jwtPublicKeys.existingSecret (PEM public keys or a JWKS document)" (.Values.clusterDomain | default "cluster.local") }}
{{- end }}
{{- if and $upstreamKey (not $c.upstreamJwt.issuer) }}
{{ print "config.upstreamJwt.issuer is required with secrets.upstreamJwtPrivateKey (UPSTREAM_JWT_ISSUER and UPSTREAM_JWT_PRIVATE_KEY go together)" }}
{{- end }}
{{- if and $c.upstreamJwt.issuer (not $upstreamKey) }}
{{ print "secrets.upstreamJwtPrivateKey is required with config.upstreamJwt.issuer: set secrets.upstreamJwtPrivateKey.value (e.g. --set-file secrets.upstreamJwtPrivateKey.value=FILE) or secrets.upstreamJwtPrivateKey.existingSecret (UPSTREAM_JWT_ISSUER and UPSTREAM_JWT_PRIVATE_KEY go together)" }}
{{- end }}
{{- if and $c.upstreamJwt.all (not $upstreamKey) }}
{{ print "config.upstreamJwt.all needs secrets.upstreamJwtPrivateKey and config.upstreamJwt.issuer" }}
{{- end }}
{{- if and .Values.policy.rules .Values.policy.existingConfigMap }}
{{ print "set either policy.rules or policy.existingConfigMap, not both" }}
{{- end }}
{{- if not (or .Values.policy.rules .Values.policy.existingConfigMap) }}
{{ print "a policy is required: set policy.rules (inline rules, see docs/policy.md) or policy.existingConfigMap (a ConfigMap with the key policy.key)" }}
{{- end }}
{{- end }}

{{/*
The non-secret environment (the ConfigMap's data), as YAML. Values left empty or null are omitted by
saml-authz-common.env.configMapData, so that the service's own default applies.
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
  "JWT_ISSUER" $c.jwt.issuer
  "JWT_AUDIENCE" $c.jwt.audience
  "JWT_CLOCK_SKEW_SECONDS" $c.jwt.clockSkewSeconds
  "TRUSTED_PROXIES" $c.trustedProxies
  "COOKIE_NAME" $c.cookieName
  "PATH_RELAXATIONS" $c.pathRelaxations
  "CACHE_TTL_SECONDS" $c.cache.ttlSeconds
  "CACHE_MAX_ENTRIES" $c.cache.maxEntries
  "LIVENESS_MAX_PENDING" $c.cache.maxPending
  "LIVENESS_DEGRADED_BATCH_MS" $c.cache.degradedBatchMs
  "LISTENER_PROBE_INTERVAL_MS" $c.listenerProbe.intervalMs
  "LISTENER_PROBE_TIMEOUT_MS" $c.listenerProbe.timeoutMs
  "ACCESS_LOG" $c.accessLog
  "ACCESS_LOG_ALLOWED_SAMPLE" $c.accessLogAllowedSample
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
{{- toYaml $env }}
{{- end }}

{{/* NetworkPolicy egress to the token-service's JWKS (with config.jwt.jwksUrl). */}}
{{- define "authz-service.egressJwks" -}}
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
{{- else }}{{ printf "%s-policy" (include "saml-authz-common.names.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Where upstreams fetch the X-Auth-Request-Jwt public keys, in-cluster (the Service's http port). */}}
{{- define "authz-service.jwksUrl" -}}
{{- printf "%s/.well-known/jwks.json" (include "saml-authz-common.names.serviceUrl" .) }}
{{- end }}

{{/* The in-cluster URL of /auth, as the ingress controller calls it. */}}
{{- define "authz-service.authUrl" -}}
{{- printf "%s/auth" (include "saml-authz-common.names.serviceUrl" .) }}
{{- end }}
