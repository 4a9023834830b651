"""The sidecar data plane: Envoy bootstrap, the proxy agent, and the iptables init program."""
