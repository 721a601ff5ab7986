{{/* Chart name, overridable with nameOverride. */}}
{{- define "licheng.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; components append -web, -worker, -migrate. */}}
{{- define "licheng.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 55 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 55 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 55 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "licheng.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: (dict "ctx" $ "component" "web"). The component is part of
every selector, so the web PodDisruptionBudget and Service never match worker
or migration pods.
*/}}
{{- define "licheng.selectorLabels" -}}
app.kubernetes.io/name: {{ include "licheng.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* Common labels: (dict "ctx" $ "component" "web"); component may be empty. */}}
{{- define "licheng.labels" -}}
helm.sh/chart: {{ include "licheng.chart" .ctx }}
{{ include "licheng.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: licheng
{{- end }}

{{- define "licheng.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "licheng.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "licheng.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret holding LICHENG_DATABASE_URL, _STORAGE_URL, _SECRET_KEY, _DATA_KEY. */}}
{{- define "licheng.secretName" -}}
{{- default (include "licheng.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* storage.url, or an s3:// URL built from storage.s3 (credentials URL-escaped). */}}
{{- define "licheng.storageUrl" -}}
{{- $s3 := .Values.storage.s3 }}
{{- if .Values.storage.url }}
{{- .Values.storage.url }}
{{- else if and $s3.endpoint $s3.bucket }}
{{- $auth := "" }}
{{- if $s3.accessKey }}
{{- $auth = printf "%s:%s@" ($s3.accessKey | urlquery) ($s3.secretKey | urlquery) }}
{{- end }}
{{- printf "s3://%s%s/%s?secure=%t&create_bucket=%t" $auth $s3.endpoint $s3.bucket $s3.secure $s3.createBucket }}
{{- with $s3.region }}&region={{ . | urlquery }}{{ end }}
{{- with $s3.publicEndpoint }}&public={{ . | urlquery }}{{ end }}
{{- end }}
{{- end }}

{{- define "licheng.baseUrl" -}}
{{- if .Values.config.baseUrl }}
{{- .Values.config.baseUrl }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- printf "https://%s" (first .Values.ingress.hosts).host }}
{{- end }}
{{- end }}

{{/*
Refuse to render a release that would run without its external services:
with an empty database URL every pod would fall back to a private SQLite file.
*/}}
{{- define "licheng.validate" -}}
{{- if not .Values.existingSecret }}
{{- if not .Values.database.url }}
{{- fail "set database.url (postgres://USER:PASSWORD@HOST:5432/DB) or existingSecret" }}
{{- end }}
{{- if not (include "licheng.storageUrl" .) }}
{{- fail "set storage.url, or storage.s3.endpoint and storage.s3.bucket, or existingSecret" }}
{{- end }}
{{- if lt (len .Values.secrets.secretKey) 32 }}
{{- fail "set secrets.secretKey to 32+ random characters, or existingSecret" }}
{{- end }}
{{- if lt (len .Values.secrets.dataKey) 32 }}
{{- fail "set secrets.dataKey to 32+ random characters, or existingSecret" }}
{{- end }}
{{- end }}
{{- if not .Values.oidc.keySecret }}
{{- fail "set oidc.keySecret: a Secret with oidc-rsa.pem, shared by every pod (docs/api.md)" }}
{{- end }}
{{- end }}

{{/* Non-secret LICHENG_* settings: the ConfigMap's data (and its checksum). */}}
{{- define "licheng.configData" -}}
LICHENG_LOG_LEVEL: {{ .Values.config.logLevel | quote }}
LICHENG_DEBUG: {{ .Values.config.debug | toString | quote }}
LICHENG_DATA_DIR: "/data"
{{- with include "licheng.baseUrl" . }}
LICHENG_BASE_URL: {{ . | quote }}
{{- end }}
{{- with .Values.config.plugins }}
LICHENG_PLUGINS: {{ . | quote }}
{{- end }}
{{- if .Values.oidc.keySecret }}
LICHENG_OIDC_PRIVATE_KEY_FILE: "/etc/licheng/oidc/oidc-rsa.pem"
{{- end }}
{{- if .Values.oidc.previousKey }}
LICHENG_OIDC_PREVIOUS_KEY_FILE: "/etc/licheng/oidc/oidc-rsa-previous.pem"
{{- end }}
{{- range $key, $value := .Values.config.extra }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* Secret LICHENG_* settings, base64-encoded: the Secret's data (and its checksum). */}}
{{- define "licheng.secretData" -}}
LICHENG_DATABASE_URL: {{ .Values.database.url | b64enc | quote }}
LICHENG_STORAGE_URL: {{ include "licheng.storageUrl" . | b64enc | quote }}
LICHENG_SECRET_KEY: {{ .Values.secrets.secretKey | b64enc | quote }}
LICHENG_DATA_KEY: {{ .Values.secrets.dataKey | b64enc | quote }}
{{- end }}

{{/* Pod annotations that roll the pods when their configuration changes. */}}
{{- define "licheng.checksums" -}}
checksum/config: {{ include "licheng.configData" . | sha256sum }}
{{- if not .Values.existingSecret }}
checksum/secret: {{ include "licheng.secretData" . | sha256sum }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by web, worker and migration pods. */}}
{{- define "licheng.podCommon" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ .Values.tmpSizeLimit }}
  - name: data
    emptyDir:
      sizeLimit: 64Mi
  {{- with .Values.oidc.keySecret }}
  - name: oidc-key
    secret:
      secretName: {{ . }}
      defaultMode: 0440
  {{- end }}
  {{- with .Values.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/*
Container settings shared by every container of the chart:
(dict "ctx" $ "configMap" NAME "secret" NAME "env" LIST).
*/}}
{{- define "licheng.containerCommon" -}}
{{- $root := .ctx -}}
image: {{ include "licheng.image" $root }}
imagePullPolicy: {{ $root.Values.image.pullPolicy }}
securityContext:
  {{- toYaml $root.Values.securityContext | nindent 2 }}
envFrom:
  - configMapRef:
      name: {{ .configMap }}
  - secretRef:
      name: {{ .secret }}
{{- with concat (.env | default list) $root.Values.extraEnv }}
env:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: data
    mountPath: /data
  {{- if $root.Values.oidc.keySecret }}
  - name: oidc-key
    mountPath: /etc/licheng/oidc
    readOnly: true
  {{- end }}
  {{- with $root.Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
