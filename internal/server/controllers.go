package server

import (
	"context"

	imageclient "github.com/openshift/client-go/image/clientset/versioned"

	"github.com/gantry-dev/gantry/internal/controller/imageimport"
	"github.com/gantry-dev/gantry/internal/controller/serviceaccount"
)

// Controllers runs Gantry's controllers: the one that gives every project its builder and
// deployer service accounts, their role bindings and registry secrets, and the image import
// controller (spec tags from other registries, scheduled imports). When one fails, the other
// is stopped and the error returned.
func (m *machine) Controllers(ctx context.Context, ready func()) error {
	cs, err := m.client("controllers")
	if err != nil {
		return err
	}
	rc, err := m.cfg.openShiftAPIConfig("controllers")
	if err != nil {
		return err
	}
	images, err := imageclient.NewForConfig(rc)
	if err != nil {
		return err
	}
	ready()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	go func() {
		errs <- serviceaccount.Run(ctx, cs, serviceaccount.Options{RegistryHosts: []string{m.cfg.RegistryAddr}})
	}()
	go func() {
		errs <- imageimport.Run(ctx, cs, images, imageimport.Options{ScheduledImportInterval: m.cfg.ScheduledImportInterval})
	}()
	err = <-errs
	cancel()
	if err2 := <-errs; err == nil {
		err = err2
	}
	return err
}
