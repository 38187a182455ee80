package cli

import "github.com/hookline/hookline/pkg/config"

// Development secrets: `hookline dev` uses them when the environment sets none, and `hookline
// send` signs with them in that case, so the two work together out of the box. Never use them
// outside a laptop.
var devDefaults = map[string]string{
	"HOOKLINE_PETSTORE_SECRETS": "dev-petstore-secret",
	"HOOKLINE_BUNJANG_SECRETS":  "dev-bunjang-secret",
	"HOOKLINE_SHOPIFY_SECRETS":  "dev-shopify-secret",
	"HOOKLINE_JWT_SECRET":       "dev-jwt-secret",
	"HOOKLINE_CALLBACK_SECRET":  "dev-callback-secret",
	// The worker's web console, on its loopback admin port; the banner prints it.
	devConsoleEnv: devConsoleToken,
}

const (
	devConsoleEnv   = "HOOKLINE_CONSOLE_TOKEN"
	devConsoleToken = "dev-console-token"
)

// consoleNote is the banner's console line: the URL, and the token when it is the dev one.
func consoleNote(env Env, workerURL string) string {
	if v, ok := env.Lookup(devConsoleEnv); ok && v != "" {
		return workerURL + "/console/ (token: your " + devConsoleEnv + ")"
	}
	return workerURL + "/console/ (token: " + devConsoleToken + ")"
}

// withDevDefaults wraps lookup so unset development secrets take their dev value.
func withDevDefaults(lookup config.Lookup) config.Lookup {
	return func(name string) (string, bool) {
		if v, ok := lookup(name); ok && v != "" {
			return v, true
		}
		v, ok := devDefaults[name]
		return v, ok
	}
}

// signingSecret returns the first secret the ingress holds for provider and tenant (empty: the
// default tenant; one the tenants file does not name falls back to it too), as config.Load read
// it: env: and file: references resolved, exactly as the services resolve them. nil: none set.
func signingSecret(cfg *config.Config, tenant, provider string) []byte {
	id, _ := config.NormalizeTenantID(tenant)
	t := cfg.Tenants[id]
	if t == nil {
		t = cfg.Tenants[config.DefaultTenant]
	}
	if t == nil {
		return nil
	}
	if p := t.Providers[provider]; p != nil && len(p.Secrets) > 0 {
		return p.Secrets[0].Bytes()
	}
	return nil
}
