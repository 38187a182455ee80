// Package deploy holds no code: it is the module of Hookline's deployment checks. Its tests load
// ../docker-compose.yml with compose-go (the loader Docker Compose uses), render the kustomize
// overlays under base/ and overlays/ with kustomize's Go API and decode every object strictly into
// its Kubernetes API type, check the Dockerfiles and the NATS Helm values, so a misspelt field
// fails CI. They need no network, no Docker engine and no cluster.
//
// The module also holds healthcheck, the static probe binary copied into every service image.
// The heavy dependencies (compose-go, kustomize, k8s.io/api) live here only, so the services'
// modules never carry them.
package deploy
