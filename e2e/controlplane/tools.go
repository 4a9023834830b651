//go:build tools

// Package tools records the commands this module exists to build, so that `go mod tidy`
// keeps their dependencies and `go build k8s.io/kubernetes/cmd/...` works from here.
// The build tag keeps the file out of every real build (commands cannot be imported).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
