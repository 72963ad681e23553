// Package login implements `gantry login`, `gantry logout` and `gantry whoami`, which behave as oc's
// do (seed 004, "Authentication"; docs/login.md).
//
// login finds the API server (the argument, or the current context's cluster), settles how to trust
// its certificate (--certificate-authority, the kubeconfig, the CA of a local `gantry start`, or a
// question on the terminal), then gets a token the way oc does: the OAuth server's address comes from
// the API server's /.well-known/oauth-authorization-server, and library-go's tokenrequest answers the
// Basic challenge of the openshift-challenging-client (code grant with PKCE). The token is saved in
// the kubeconfig under oc's names: cluster host-with-dashes:port, user name/cluster, context
// project/cluster/name.
//
// logout revokes the token on the server (useroauthaccesstokens) and removes it from the kubeconfig;
// whoami asks the server who the credentials belong to (users/~).
package login
