// Package clusterconfig gives Gantry's standalone components (`gantry
// registry`, `gantry router`) their client configuration: a kubeconfig when
// one is named, else the pod's service account.
package clusterconfig

import (
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Load returns the configuration of the kubeconfig file, or the in-cluster
// one when kubeconfig is empty, with userAgent set.
func Load(kubeconfig, userAgent string) (*rest.Config, error) {
	var rc *rest.Config
	var err error
	if kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			return nil, errors.New("not in a pod: give --kubeconfig")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cluster configuration: %w", err)
	}
	rc.UserAgent = userAgent
	return rc, nil
}
