package server

import (
	"context"

	"github.com/gantry-dev/gantry/internal/controller/serviceaccount"
)

// Controllers runs Gantry's controllers: for now the one that gives every project its builder and
// deployer service accounts, their role bindings and registry secrets.
func (m *machine) Controllers(ctx context.Context, ready func()) error {
	cs, err := m.client("controllers")
	if err != nil {
		return err
	}
	ready()
	return serviceaccount.Run(ctx, cs, serviceaccount.Options{RegistryHosts: []string{m.cfg.RegistryAddr}})
}
