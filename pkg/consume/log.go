package consume

// Logger is what the engine logs through: the two levels it uses, with alternating key and value
// arguments. *slog.Logger satisfies it as is; a zap logger does through its sugared form (see
// pkg/logging). Nil discards.
type Logger interface {
	Warn(msg string, keysAndValues ...any)
	Error(msg string, keysAndValues ...any)
}

type discard struct{}

func (discard) Warn(string, ...any)  {}
func (discard) Error(string, ...any) {}
