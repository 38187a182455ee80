// Package all is the one place the built-in providers are registered: one line each. Adding a
// provider is a folder under pkg/providers and a line here (docs/providers.md).
package all

import (
	"sync"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/petstore"
	"github.com/hookline/hookline/pkg/providers/shopify"
	"github.com/hookline/hookline/pkg/providers/standardwebhooks"
)

// builtins lists the built-in providers, in the order they are listed (help, docs, bench).
func builtins() []providers.Provider {
	return []providers.Provider{
		petstore.Provider{},
		bunjang.Provider{},
		shopify.Provider{},
	}
}

// New returns a registry of the built-in providers plus extra (tests add throwaway ones); the
// Standard Webhooks provider serves the tenants file's sources.
func New(extra ...providers.Provider) (*providers.Registry, error) {
	return providers.NewRegistry(standardwebhooks.Provider{}, append(builtins(), extra...)...)
}

var defaultRegistry = sync.OnceValue(func() *providers.Registry {
	r, err := New()
	if err != nil {
		// The built-in list is fixed: TestRegistry proves it builds.
		return nil
	}
	return r
})

// Registry returns the registry of the built-in providers, built once.
func Registry() *providers.Registry { return defaultRegistry() }
