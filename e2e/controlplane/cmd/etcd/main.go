// Command etcd runs etcd's server from go.etcd.io/etcd/server/v3 at the version that the pinned
// k8s.io/kubernetes requires, so the e2e control plane uses the etcd its apiserver is tested with.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
