{{/* Names and labels shared by every template. */}}

{{- define "mesh-webhooks.fullname" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The revision as Istio writes it in labels: "" is "default". */}}
{{- define "mesh-webhooks.revision" -}}
{{- if eq .Values.revision "default" -}}
{{- fail "revision: \"default\" is the default revision's name; leave revision empty (\"\") for it" -}}
{{- end -}}
{{- .Values.revision | default "default" -}}
{{- end -}}

{{/* The istio.io/rev values this release answers: its revision, then its tags, as JSON. */}}
{{- define "mesh-webhooks.revisionValues" -}}
{{- prepend .Values.revisionTags (include "mesh-webhooks.revision" .) | uniq | toJson -}}
{{- end -}}

{{/* "true" when this release is the default revision: revision "", or the tag "default". */}}
{{- define "mesh-webhooks.isDefault" -}}
{{- or (not .Values.revision) (has "default" .Values.revisionTags) -}}
{{- end -}}

{{- define "mesh-webhooks.revisionSuffix" -}}
{{- if .Values.revision }}-{{ .Values.revision }}{{ end -}}
{{- end -}}

{{- define "mesh-webhooks.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mesh-webhooks.labels" -}}
{{ include "mesh-webhooks.webhookLabels" . }}
istio.io/rev: {{ include "mesh-webhooks.revision" . }}
{{- end -}}

{{/* The webhook configurations' labels: without istio.io/rev, which istiod's caBundle patcher
selects its configurations by. An istiod still running during a migration would otherwise
write its own CA into ours, and the two would fight over caBundle. */}}
{{- define "mesh-webhooks.webhookLabels" -}}
{{ include "mesh-webhooks.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: mesh-webhooks
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app: {{ include "mesh-webhooks.fullname" . }}
{{- end -}}

{{- define "mesh-webhooks.caSecret" -}}
{{- .Values.certificates.caSecretName | default (printf "%s-ca" (include "mesh-webhooks.fullname" .)) -}}
{{- end -}}

{{- define "mesh-webhooks.mutatingName" -}}
{{ include "mesh-webhooks.fullname" . }}-sidecar-injector{{ include "mesh-webhooks.revisionSuffix" . }}
{{- end -}}

{{- define "mesh-webhooks.validatingName" -}}
{{ include "mesh-webhooks.fullname" . }}-validator{{ include "mesh-webhooks.revisionSuffix" . }}
{{- end -}}

{{- define "mesh-webhooks.servingCertificate" -}}
{{ include "mesh-webhooks.fullname" . }}-tls
{{- end -}}

{{/* The Secret with tls.crt/tls.key the server mounts in cert-manager and external modes. */}}
{{- define "mesh-webhooks.tlsSecret" -}}
{{- if eq .Values.certificates.mode "external" -}}
{{ required "certificates.external.secretName is required in external mode" .Values.certificates.external.secretName }}
{{- else -}}
{{ include "mesh-webhooks.servingCertificate" . }}
{{- end -}}
{{- end -}}

{{/* True when a server runs in the cluster (not webhook.url development mode). */}}
{{- define "mesh-webhooks.inCluster" -}}
{{- if not .Values.webhook.url }}true{{ end -}}
{{- end -}}

{{/*
clientConfig of a webhook; the argument is a dict with root and path. caBundle is rendered only
when the user supplies it (external mode or url mode): otherwise the server or cert-manager owns
the field at run time and Helm must never write it (a stale bundle breaks TLS on upgrade).
*/}}
{{- define "mesh-webhooks.clientConfig" -}}
{{- $root := .root -}}
{{- $values := $root.Values -}}
{{- $external := or $values.webhook.url (eq $values.certificates.mode "external") -}}
{{- if and $values.webhook.caBundle (not $external) -}}
{{- fail "webhook.caBundle is only used with certificates.mode=external or webhook.url; in the other modes the caBundle is managed at run time" -}}
{{- end -}}
{{- if $values.webhook.url }}
url: {{ printf "%s%s" (trimSuffix "/" $values.webhook.url) .path | quote }}
{{- else }}
service:
  name: {{ include "mesh-webhooks.fullname" $root }}
  namespace: {{ $root.Release.Namespace }}
  path: {{ .path }}
  port: 443
{{- end }}
{{- if $external }}
caBundle: {{ required "webhook.caBundle is required with certificates.mode=external or webhook.url" $values.webhook.caBundle | quote }}
{{- end }}
{{- end -}}

{{/* Annotations of both webhook configurations. */}}
{{- define "mesh-webhooks.webhookAnnotations" -}}
{{- if and (eq .Values.certificates.mode "cert-manager") (not .Values.webhook.url) }}
annotations:
  cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "mesh-webhooks.servingCertificate" . }}
{{- end }}
{{- end -}}
