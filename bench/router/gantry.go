package main

import (
	"context"
	"os/exec"
)

// gantry measures Gantry's own router, which runs as its own process
// (`gantry router --kubeconfig K --http-port P --https-port Q --stats-port
// S`) against a cluster of `gantry start`, so that its CPU is measured
// alone. Until the binary has the router command (branch h-watch), the
// report says so instead of measuring anything.
func (b *bench) gantry(ctx context.Context) error {
	if b.o.gantryBin == "" {
		b.notes = append(b.notes, "Gantry's router: not measured (no gantry binary; build it with `make build` or pass -gantry)")
		return nil
	}
	if err := exec.CommandContext(ctx, b.o.gantryBin, "router", "--help").Run(); err != nil {
		b.notes = append(b.notes, "Gantry's router: not measured: "+b.o.gantryBin+" has no `router` command yet (it lands with `gantry router`, issue 6)")
		return nil
	}
	b.notes = append(b.notes, "Gantry's router: the binary has `gantry router`, but this harness does not drive it yet (cluster, Services, EndpointSlices on the node IP and routes still to be written)")
	return nil
}
