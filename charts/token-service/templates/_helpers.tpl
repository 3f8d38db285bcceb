{{/*
The token-service's own helpers. Names, labels, the image, secrets as files, the environment ConfigMap,
NetworkPolicy egress and the validation frame come from the saml-authz-common library chart; this file
holds what only this chart knows: its secrets table, its environment, its checks.
*/}}

{{/* Whether several IdPs are configured (SAML_IDPS_FILE): inline config.saml.idps or an existing ConfigMap. */}}
{{- define "token-service.idps.enabled" -}}
{{- if or .Values.config.saml.idps .Values.config.saml.idpsExistingConfigMap.name }}true{{ end }}
{{- end }}

{{/* The IdPs file: mounted as a directory (no subPath, so ConfigMap updates arrive and the service reloads it). */}}
{{- define "token-service.idps.dir" -}}/etc/saml-authz/idps{{- end }}
{{- define "token-service.idps.key" -}}
{{- if .Values.config.saml.idpsExistingConfigMap.name }}{{ .Values.config.saml.idpsExistingConfigMap.key | default "idps.yaml" }}{{ else }}idps.yaml{{ end }}
{{- end }}
{{- define "token-service.idps.file" -}}{{ include "token-service.idps.dir" . }}/{{ include "token-service.idps.key" . }}{{- end }}
{{- define "token-service.idps.configMapName" -}}
{{- .Values.config.saml.idpsExistingConfigMap.name | default (include "saml-authz-common.names.suffixed" (dict "context" . "suffix" "idps")) }}
{{- end }}

{{/* Whether the NetworkPolicy lets the pods fetch IdP metadata: forced by networkPolicy.idpMetadata.enabled, else when an inline IdP has a metadataUrl. */}}
{{- define "token-service.idps.metadataEgress" -}}
{{- $on := .Values.networkPolicy.idpMetadata.enabled }}
{{- if kindIs "bool" $on }}{{ if $on }}true{{ end }}
{{- else }}
{{- range .Values.config.saml.idps }}{{ if .metadataUrl }}true{{ end }}{{ end }}
{{- end }}
{{- end }}

{{/*
The secrets the chart knows: values key, environment variable (its _FILE twin is set), file name,
whether it is required, and what the PEM must contain (empty: not PEM). The IdP certificates are not
required when the IdPs come from SAML_IDPS_FILE.
*/}}
{{- define "token-service.secretSpecs" -}}
databaseUrl: {env: DATABASE_URL, file: database-url, required: true, pem: ""}
listenDatabaseUrl: {env: LISTEN_DATABASE_URL, file: listen-database-url, required: false, pem: ""}
jwtPrivateKeys: {env: JWT_PRIVATE_KEY, file: jwt-private-keys.pem, required: true, pem: "PRIVATE KEY-----"}
idpCertificates: {env: SAML_IDP_CERT, file: idp-certificates.pem, required: {{ not (include "token-service.idps.enabled" .) }}, pem: "-----BEGIN CERTIFICATE-----"}
samlDecryptionKey: {env: SAML_DECRYPTION_KEY, file: saml-decryption-key.pem, required: false, pem: "PRIVATE KEY-----"}
samlDecryptionCert: {env: SAML_DECRYPTION_CERT, file: saml-decryption-cert.pem, required: false, pem: "-----BEGIN CERTIFICATE-----"}
spSigningKey: {env: SAML_SP_SIGNING_KEY, file: saml-sp-signing-key.pem, required: false, pem: "PRIVATE KEY-----"}
spSigningCert: {env: SAML_SP_SIGNING_CERT, file: saml-sp-signing-cert.pem, required: false, pem: "-----BEGIN CERTIFICATE-----"}
{{- end }}

{{/* This chart's problems, one per line (collected with the common checks by saml-authz-common.validate). */}}
{{- define "token-service.validationMessages" -}}
{{- $c := .Values.config }}
{{- $given := dict }}
{{- range $name := list "idpCertificates" "samlDecryptionKey" "samlDecryptionCert" "spSigningKey" "spSigningCert" }}
{{- $_ := set $given $name (include "saml-authz-common.secrets.given" (dict "context" $ "name" $name)) }}
{{- end }}
{{- $idps := include "token-service.idps.enabled" . }}
{{- if not $c.saml.spEntityId }}
{{ print "config.saml.spEntityId is required (SAML_SP_ENTITY_ID): this service provider's entity id" }}
{{- end }}
{{- if not $c.saml.acsUrl }}
{{ print "config.saml.acsUrl is required (SAML_ACS_URL): the public URL of POST /saml/acs" }}
{{- end }}
{{- if not $c.jwt.issuer }}
{{ print "config.jwt.issuer is required (JWT_ISSUER)" }}
{{- end }}
{{- if not $c.jwt.audience }}
{{ print "config.jwt.audience is required (JWT_AUDIENCE)" }}
{{- end }}
{{- if $idps }}
{{- if and $c.saml.idps $c.saml.idpsExistingConfigMap.name }}
{{ print "set either config.saml.idps (the IdPs inline) or config.saml.idpsExistingConfigMap.name (a ConfigMap holding the IdPs file), not both" }}
{{- end }}
{{- range $key, $env := dict "idpIssuer" "SAML_IDP_ISSUER" "idpSsoUrl" "SAML_IDP_SSO_URL" "idpSloUrl" "SAML_IDP_SLO_URL" }}
{{- if index $c.saml $key }}
{{ printf "config.saml.%s (%s) describes the single IdP and must not be set with several IdPs (config.saml.idps / idpsExistingConfigMap): give it in that IdP's entry of the IdPs file instead" $key $env }}
{{- end }}
{{- end }}
{{- if $given.idpCertificates }}
{{ print "secrets.idpCertificates (SAML_IDP_CERT) describes the single IdP and must not be set with several IdPs (config.saml.idps / idpsExistingConfigMap): give each IdP's certificates (or metadataUrl) in its entry of the IdPs file instead" }}
{{- end }}
{{- $names := dict }}
{{- range $i, $idp := $c.saml.idps }}
{{- $where := printf "config.saml.idps[%d]%s" $i (ternary (printf " (%s)" (toString $idp.name)) "" (not (empty $idp.name))) }}
{{- if not (regexMatch "^[a-z0-9][a-z0-9-]{0,31}$" (toString ($idp.name | default ""))) }}
{{ printf "%s: name must be 1 to 32 lower-case letters, digits or dashes, starting with a letter or digit (it appears in /saml/login?idp= and metric labels)" $where }}
{{- else if hasKey $names $idp.name }}
{{ printf "%s: the name %q is used twice; IdP names must be unique" $where $idp.name }}
{{- end }}
{{- $_ := set $names (toString ($idp.name | default "")) true }}
{{- if not $idp.entityId }}
{{ printf "%s: entityId is required (the Issuer of this IdP's responses)" $where }}
{{- end }}
{{- if eq (len (compact (list ($idp.certificates | default "") ($idp.metadataUrl | default "")))) 2 }}
{{ printf "%s: set either certificates or metadataUrl, not both" $where }}
{{- else if and (not $idp.certificates) (not $idp.metadataUrl) }}
{{ printf "%s: set certificates (PEM) or metadataUrl (the IdP's metadata, fetched and refreshed by the service)" $where }}
{{- end }}
{{- if and $idp.certificates (not (contains "-----BEGIN CERTIFICATE-----" (toString $idp.certificates))) }}
{{ printf "%s: certificates must be PEM (containing \"-----BEGIN CERTIFICATE-----\")" $where }}
{{- end }}
{{- if and $idp.certificates (not $idp.ssoUrl) }}
{{ printf "%s: ssoUrl is required with certificates (without metadataUrl nothing else says where to sign in)" $where }}
{{- end }}
{{- if and $idp.sloUrl (not (and $given.spSigningKey $given.spSigningCert)) }}
{{ printf "%s: sloUrl (SAML Single Logout) needs secrets.spSigningKey and secrets.spSigningCert: logout messages are signed" $where }}
{{- end }}
{{- end }}
{{- else }}
{{- if not $c.saml.idpIssuer }}
{{ print "config.saml.idpIssuer is required (SAML_IDP_ISSUER): the IdP's entity id; or describe several IdPs with config.saml.idps / idpsExistingConfigMap" }}
{{- end }}
{{- if not $c.saml.idpSsoUrl }}
{{ print "config.saml.idpSsoUrl is required (SAML_IDP_SSO_URL): the IdP's single sign-on URL" }}
{{- end }}
{{- end }}
{{- if and $given.samlDecryptionCert (not $given.samlDecryptionKey) }}
{{ print "secrets.samlDecryptionCert is set without secrets.samlDecryptionKey" }}
{{- end }}
{{- if and $given.spSigningKey (not $given.spSigningCert) }}
{{ print "secrets.spSigningKey is set without secrets.spSigningCert (the IdP verifies with the certificate)" }}
{{- end }}
{{- if and $given.spSigningCert (not $given.spSigningKey) }}
{{ print "secrets.spSigningCert is set without secrets.spSigningKey" }}
{{- end }}
{{- if and $c.saml.idpSloUrl (not $given.spSigningKey) }}
{{ print "config.saml.idpSloUrl (SAML Single Logout) needs secrets.spSigningKey and secrets.spSigningCert: logout messages are signed" }}
{{- end }}
{{- if and $c.saml.signAuthnRequests (not $given.spSigningKey) }}
{{ print "config.saml.signAuthnRequests needs secrets.spSigningKey and secrets.spSigningCert" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.host) }}
{{ print "ingress.host is required when ingress.enabled is true (the public host of config.saml.acsUrl)" }}
{{- end }}
{{- end }}

{{/*
The non-secret environment (the ConfigMap's data), as YAML. Values left empty or null are omitted by
saml-authz-common.env.configMapData, so that the service's own default applies.
*/}}
{{- define "token-service.configEnv" -}}
{{- $c := .Values.config }}
{{- $idpsFile := "" }}
{{- if include "token-service.idps.enabled" . }}{{ $idpsFile = include "token-service.idps.file" . }}{{ end }}
{{- $env := dict
  "PORT" .Values.containerPorts.http
  "METRICS_PORT" .Values.containerPorts.metrics
  "HOST" "0.0.0.0"
  "SHUTDOWN_DELAY_SECONDS" .Values.shutdown.delaySeconds
  "SHUTDOWN_TIMEOUT_SECONDS" .Values.shutdown.timeoutSeconds
  "LOG_LEVEL" $c.logLevel
  "DATABASE_POOL_MAX" $c.databasePoolMax
  "SAML_IDPS_FILE" $idpsFile
  "SAML_IDP_ISSUER" $c.saml.idpIssuer
  "SAML_IDP_SSO_URL" $c.saml.idpSsoUrl
  "SAML_SP_ENTITY_ID" $c.saml.spEntityId
  "SAML_ACS_URL" $c.saml.acsUrl
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
  "JWT_ISSUER" $c.jwt.issuer
  "JWT_AUDIENCE" $c.jwt.audience
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
{{- toYaml $env }}
{{- end }}
