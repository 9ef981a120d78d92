{{/* Names, labels and shared snippets of the mcp-gateway chart. */}}

{{- define "mcp-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's base name: <release>-mcp-gateway, or the release name if it already says so. */}}
{{- define "mcp-gateway.fullname" -}}
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

{{- define "mcp-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource; the component label is added by each resource. */}}
{{- define "mcp-gateway.baseLabels" -}}
helm.sh/chart: {{ include "mcp-gateway.chart" . }}
app.kubernetes.io/name: {{ include "mcp-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mcp-gateway
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of the gateway's own resources. */}}
{{- define "mcp-gateway.labels" -}}
{{ include "mcp-gateway.baseLabels" . }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "mcp-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcp-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "mcp-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mcp-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the pods read: the existing one, or the one this chart renders. */}}
{{- define "mcp-gateway.secretName" -}}
{{- default (include "mcp-gateway.fullname" .) .Values.secret.existingSecret }}
{{- end }}

{{/* repository[:tag][@digest]; the tag defaults to the chart's appVersion. */}}
{{- define "mcp-gateway.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Names of the bundled development PostgreSQL and Redis (devDependencies). */}}
{{- define "mcp-gateway.postgresName" -}}
{{- printf "%s-postgres" (include "mcp-gateway.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of a bundled development dependency; call with (list $ "dev-postgres"). */}}
{{- define "mcp-gateway.devSelectorLabels" -}}
app.kubernetes.io/name: {{ include "mcp-gateway.name" (index . 0) }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "mcp-gateway.redisName" -}}
{{- printf "%s-redis" (include "mcp-gateway.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A secret value: the one given in values, else the one already stored in the release's Secret (so
upgrades keep it), else a new random one. `helm template` and --dry-run cannot read the cluster
and so show a new random value each time.
Call with (dict "ctx" $ "key" "JWT_SECRET_KEY" "value" .Values.secret.jwtSecretKey).
*/}}
{{- define "mcp-gateway.secretValue" -}}
{{- $ctx := .ctx }}
{{- if .value }}
{{- .value }}
{{- else }}
{{- $existing := lookup "v1" "Secret" $ctx.Release.Namespace (include "mcp-gateway.fullname" $ctx) }}
{{- $stored := dig "data" .key "" ($existing | default dict) }}
{{- if $stored }}
{{- $stored | b64dec }}
{{- else }}
{{- randAlphaNum 64 }}
{{- end }}
{{- end }}
{{- end }}

{{/* FEDERATION_PEERS: name=url,name=url from federation.peers. */}}
{{- define "mcp-gateway.federationPeers" -}}
{{- $entries := list }}
{{- range .Values.federation.peers }}
{{- $entries = append $entries (printf "%s=%s" .name .url) }}
{{- end }}
{{- join "," $entries }}
{{- end }}

{{/* Where the federation token Secrets are mounted (read-only, as directories so that a rotated
Secret reaches the pods; a subPath mount would never be updated). */}}
{{- define "mcp-gateway.peerTokenDir" -}}
/var/run/secrets/mcp-gateway/federation-token
{{- end }}

{{- define "mcp-gateway.peerTokenFile" -}}
{{ include "mcp-gateway.peerTokenDir" . }}/token
{{- end }}

{{- define "mcp-gateway.peerTokensDir" -}}
/var/run/secrets/mcp-gateway/federation-tokens
{{- end }}

{{/* The identity propagation keys (federation.identityPropagation), mounted the same way. */}}
{{- define "mcp-gateway.identityPrivateKeyDir" -}}
/var/run/secrets/mcp-gateway/identity-private-key
{{- end }}

{{- define "mcp-gateway.identityPrivateKeyFile" -}}
{{ include "mcp-gateway.identityPrivateKeyDir" . }}/private.pem
{{- end }}

{{- define "mcp-gateway.identityTrustedKeyDir" -}}
/var/run/secrets/mcp-gateway/identity-trusted-key
{{- end }}

{{- define "mcp-gateway.identityTrustedKeyFile" -}}
{{ include "mcp-gateway.identityTrustedKeyDir" . }}/trusted.pem
{{- end }}

{{/* Whether this release registers peers by itself (federation.peers or discovery). */}}
{{- define "mcp-gateway.federating" -}}
{{- if or .Values.federation.peers .Values.federation.discovery.dnsName }}true{{ end }}
{{- end }}

{{/* The checks a release must pass before anything is rendered. */}}
{{- define "mcp-gateway.validate" -}}
{{- $drain := int .Values.config.shutdownDrainTimeout }}
{{- $grace := int .Values.terminationGracePeriodSeconds }}
{{- $preStop := int .Values.preStopSleepSeconds }}
{{- if le $grace (add $drain $preStop) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + config.shutdownDrainTimeout (%d + %d): otherwise calls still draining are killed" $grace $preStop $drain) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.config.metricsEnabled) }}
{{- fail "serviceMonitor.enabled needs config.metricsEnabled: the gateway serves no /metrics otherwise" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.hosts) }}
{{- fail "ingress.enabled needs at least one entry in ingress.hosts" }}
{{- end }}
{{- $peerNames := list }}
{{- range .Values.federation.peers }}
{{- if has .name $peerNames }}
{{- fail (printf "federation.peers names the peer %q twice" .name) }}
{{- end }}
{{- $peerNames = append $peerNames .name }}
{{- end }}
{{- $identity := .Values.federation.identityPropagation }}
{{- if and $identity.enabled (not (and $identity.privateKeySecret.name $identity.privateKeySecret.key)) }}
{{- fail "federation.identityPropagation.enabled needs federation.identityPropagation.privateKeySecret.name and .key (the Secret with the PEM P-256 private key): the gateway refuses to start with IDENTITY_PROPAGATION_ENABLED and no IDENTITY_PROPAGATION_PRIVATE_KEY_FILE" }}
{{- end }}
{{- if and $identity.trustedKeySecret.name (not $identity.trustedKeySecret.key) }}
{{- fail "federation.identityPropagation.trustedKeySecret.name needs .key (the key holding the PEM public key)" }}
{{- end }}
{{- end }}
