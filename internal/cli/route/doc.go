// Package route holds oc's route commands for gantry: `gantry expose
// svc/NAME` (a route to a service; other kinds go on to kubectl's expose,
// which makes a service), and `gantry create route edge|passthrough|reencrypt`.
//
// Both live inside kubectl's own command tree (see kubectl.Extension):
// "create" and "expose" are kubectl verbs that gantry runs as they are, and
// these commands are added to or wrapped around them, so that every global
// kubectl flag (-n, --kubeconfig, --context) means the same to them. The
// logic is in Options types with plain clients, which unit tests fill with
// fake clientsets.
package route
