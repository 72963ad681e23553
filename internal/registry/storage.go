package registry

import (
	"context"
	"fmt"
	"os"

	"github.com/distribution/distribution/v3/configuration"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"gopkg.in/yaml.v2"

	// The storage drivers a configuration may name (distribution's driver factory registers them).
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/s3-aws"
)

// StorageDrivers are the storage drivers the registry is built with.
// (distribution's in-memory driver is not offered: the registry opens its storage twice, and
// two in-memory stores would not be one.)
var StorageDrivers = []string{"filesystem", "s3"}

// Storage is where the registry keeps content: distribution's storage configuration, one
// driver and its parameters, as the `storage:` section of a distribution config.yml:
//
//	s3:
//	  region: us-east-1
//	  bucket: images
//	  regionendpoint: https://minio.example.com
//
// The sections distribution reads beside the driver (cache, redirect, delete, maintenance) are
// Gantry's: an in-memory blob descriptor cache, deletes on (for image pruners), no redirects.
type Storage struct {
	Driver     string
	Parameters map[string]interface{}
}

// LoadStorage reads a storage configuration from a YAML file and checks it names a driver the
// registry has.
func LoadStorage(file string) (*Storage, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("registry storage configuration: %w", err)
	}
	var st configuration.Storage
	if err := yaml.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("registry storage configuration %s: %w", file, err)
	}
	for _, k := range []string{"cache", "redirect", "delete", "maintenance", "tag"} {
		if _, ok := st[k]; ok {
			return nil, fmt.Errorf("registry storage configuration %s: %q is set by Gantry; give only the driver and its parameters", file, k)
		}
	}
	if len(st) == 0 {
		return nil, fmt.Errorf("registry storage configuration %s names no driver; one of %v", file, StorageDrivers)
	}
	s := &Storage{Driver: st.Type(), Parameters: map[string]interface{}(st.Parameters())}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("registry storage configuration %s: %w", file, err)
	}
	return s, nil
}

func (s *Storage) check() error {
	for _, d := range StorageDrivers {
		if d == s.Driver {
			return nil
		}
	}
	return fmt.Errorf("unknown storage driver %q; this registry has %v", s.Driver, StorageDrivers)
}

// FilesystemStorage is storage on local disk under dir.
func FilesystemStorage(dir string) *Storage {
	return &Storage{Driver: "filesystem", Parameters: map[string]interface{}{"rootdirectory": dir}}
}

// configuration is the storage section of the registry application's configuration.
func (s *Storage) configuration() configuration.Storage {
	return configuration.Storage{
		s.Driver: configuration.Parameters(s.Parameters),
		// The registry's clients never leave it for the storage backend: it authorizes every
		// read, and the filesystem driver could not redirect anyway.
		"redirect": configuration.Parameters{"disable": true},
		"cache":    configuration.Parameters{"blobdescriptor": "inmemory"},
		// Manifests and blob links may be deleted (by image pruners, see attributesFor).
		"delete": configuration.Parameters{"enabled": true},
	}
}

// driver opens the storage for the registry's own use (the admin endpoint, reading images
// tagged in from other repositories).
func (s *Storage) driver(ctx context.Context) (storagedriver.StorageDriver, error) {
	d, err := factory.Create(ctx, s.Driver, s.Parameters)
	if err != nil {
		return nil, fmt.Errorf("open registry storage (%s): %w", s.Driver, err)
	}
	return d, nil
}
