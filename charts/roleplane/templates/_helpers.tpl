{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "roleplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name used as the prefix of every object: the release name, plus the chart name unless the
release name already contains it.
*/}}
{{- define "roleplane.fullname" -}}
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

{{- define "roleplane.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "roleplane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "roleplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "roleplane.labels" -}}
helm.sh/chart: {{ include "roleplane.chart" . }}
{{ include "roleplane.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: roleplane
{{- end }}

{{- define "roleplane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "roleplane.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "roleplane.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
Whether leader election is on: asked for, or needed because more than one replica runs.
Renders "true" or "false".
*/}}
{{- define "roleplane.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{ else }}false{{ end }}
{{- end }}

{{- define "roleplane.leaseName" -}}
{{- default (printf "%s-leader" (include "roleplane.fullname" .)) .Values.leaderElection.leaseName }}
{{- end }}

{{/*
The Roleplane kinds living in a namespace (cluster mode adds clusterproviderconfigs).
*/}}
{{- define "roleplane.namespacedKinds" -}}
- roles
- permissiongroups
- providerconfigs
{{- end }}

{{/*
RBAC rules shared by the ClusterRole (cluster mode) and the per-namespace Roles (namespaced
mode). Argument: a list of resource names (our kinds).
*/}}
{{- define "roleplane.rules" -}}
- apiGroups: ["roleplane.dev"]
  resources:
  {{- range . }}
    - {{ . }}
  {{- end }}
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["roleplane.dev"]
  resources:
  {{- range . }}
    - {{ . }}/status
  {{- end }}
  verbs: ["get", "patch", "update"]
- apiGroups: ["roleplane.dev"]
  resources:
  {{- range . }}
    - {{ . }}/finalizers
  {{- end }}
  verbs: ["update"]
# Secret values are read by name, only for the Secrets that configs reference; one
# metadata-only watch (no values) notices their changes. `patch` only adds and removes the
# finalizer roleplane.dev/credentials, which keeps a Secret readable while a terminating
# namespace still needs it for cleanup (docs/deletion.md); with
# admissionPolicies.secretGuard the API server refuses any other change.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
