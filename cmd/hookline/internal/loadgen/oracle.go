package loadgen

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// Oracle is what a bench run expects the pipeline to end with: for every order (Petstore) or
// order item (Bunjang) it acknowledged an event for, the provider status of the highest-ranked
// acknowledged event. With the contract's rules that is the final state whatever the arrival
// order: a higher rank arriving later applies, a lower one arriving later is stale.
type Oracle struct {
	RunID  string `json:"runId"`
	Tenant string `json:"tenant"`
	// Orders maps "petstore/<order>" and "bunjang/<order>/<item>" to the expected provider status.
	Orders map[string]string `json:"orders"`
	// Uncertain lists keys with a request that was never acknowledged: it may or may not have
	// been stored, so their end state is not judged.
	Uncertain    []string `json:"uncertain"`
	Acknowledged int64    `json:"acknowledged"`
}

// Oracle returns the run's expectations.
func (r *Result) Oracle(s Scenario) Oracle {
	o := Oracle{RunID: s.RunID, Tenant: s.Tenant, Orders: make(map[string]string, len(r.Expected)), Acknowledged: r.Acked}
	if o.Tenant == "" {
		o.Tenant = "default"
	}
	for k, v := range r.Expected {
		o.Orders[k] = v.Status
	}
	for k := range r.Uncertain {
		o.Uncertain = append(o.Uncertain, k)
	}
	sort.Strings(o.Uncertain)
	return o
}

// WriteOracle saves o as JSON.
func WriteOracle(path string, o Oracle) error {
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode oracle: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write oracle: %w", err)
	}
	return nil
}

// ReadOracle loads an oracle written by WriteOracle.
func ReadOracle(path string) (Oracle, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Oracle{}, fmt.Errorf("read oracle: %w", err)
	}
	var o Oracle
	if err := json.Unmarshal(b, &o); err != nil {
		return Oracle{}, fmt.Errorf("decode oracle %s: %w", path, err)
	}
	return o, nil
}
