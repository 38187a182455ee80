package orders

import (
	"github.com/hookline/hookline/pkg/providers/bunjang"
	"github.com/hookline/hookline/pkg/providers/petstore"
)

// Provider names the tests use (the lifecycles are the providers' own, in pkg/providers).
const (
	ProviderPetstore = petstore.Name
	ProviderBunjang  = bunjang.Name
)
