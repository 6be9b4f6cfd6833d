package cloud

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// Env is the Lambdas' configuration, read from their environment variables (the
// names are in the cloud contract, docs/ARCHITECTURE.md).
type Env struct {
	TableName       string  // TABLE_NAME
	QueueURL        string  // QUEUE_URL
	BucketName      string  // BUCKET_NAME
	StateMachineARN string  // STATE_MACHINE_ARN (dispatch only)
	InputPrefix     string  // INPUT_PREFIX, default "input/"
	ResultsPrefix   string  // RESULTS_PREFIX, default "results/"
	Provider        string  // EXAMINA_PROVIDER
	Model           string  // EXAMINA_MODEL
	BatchSize       int     // EXAMINA_BATCH_SIZE, default 10
	MinConfidence   float64 // EXAMINA_MIN_CONFIDENCE, default 0.5
	APIKeyParameter string  // EXAMINA_API_KEY_PARAMETER: an SSM SecureString name
	APIKeySecret    string  // EXAMINA_API_KEY_SECRET: a Secrets Manager id
	MaxReceives     int     // EXAMINA_MAX_RECEIVES, default 3
	MaxCostUSD      float64 // EXAMINA_MAX_COST_USD: every new job's cost cap, 0 (default): none
	// MaxWait is the longest the analyze function sleeps for a rate-limit slot or a
	// retry (EXAMINA_MAX_WAIT_MS, default 1000: SQS delays are whole seconds, so a
	// longer sleep is never cheaper than deferring); a longer wait defers the exercise.
	MaxWait time.Duration
	// MaxDefer is how long an exercise may keep being deferred (EXAMINA_MAX_DEFER_SECONDS,
	// default 3600: the fan-out's timeout).
	MaxDefer time.Duration
	// FanOutSecondsPerExercise is EXAMINA_FANOUT_SECONDS_PER_EXERCISE (dispatch
	// only), default 0: nothing added to the fan-out wait.
	FanOutSecondsPerExercise int
	LogLevel                 slog.Level
}

// LoadEnv reads the configuration through getenv (os.Getenv in the mains). It fails
// on malformed numbers and on a results prefix inside the input prefix (results would
// trigger dispatch again); required names are checked by the functions that need them
// (Require).
func LoadEnv(getenv func(string) string) (Env, error) {
	e := Env{
		TableName: getenv("TABLE_NAME"), QueueURL: getenv("QUEUE_URL"), BucketName: getenv("BUCKET_NAME"),
		StateMachineARN: getenv("STATE_MACHINE_ARN"),
		InputPrefix:     orDefault(getenv("INPUT_PREFIX"), "input/"),
		ResultsPrefix:   orDefault(getenv("RESULTS_PREFIX"), "results/"),
		Provider:        getenv("EXAMINA_PROVIDER"), Model: getenv("EXAMINA_MODEL"),
		APIKeyParameter: getenv("EXAMINA_API_KEY_PARAMETER"), APIKeySecret: getenv("EXAMINA_API_KEY_SECRET"),
		BatchSize: 10, MinConfidence: 0.5, MaxReceives: 3,
	}
	var err error
	if e.BatchSize, err = intVar(getenv, "EXAMINA_BATCH_SIZE", 10); err != nil {
		return Env{}, err
	}
	if e.MaxReceives, err = intVar(getenv, "EXAMINA_MAX_RECEIVES", 3); err != nil {
		return Env{}, err
	}
	waitMS, err := intVar(getenv, "EXAMINA_MAX_WAIT_MS", 1000)
	if err != nil {
		return Env{}, err
	}
	deferS, err := intVar(getenv, "EXAMINA_MAX_DEFER_SECONDS", 3600)
	if err != nil {
		return Env{}, err
	}
	e.MaxWait, e.MaxDefer = time.Duration(waitMS)*time.Millisecond, time.Duration(deferS)*time.Second
	if v := getenv("EXAMINA_FANOUT_SECONDS_PER_EXERCISE"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 {
			return Env{}, fmt.Errorf("EXAMINA_FANOUT_SECONDS_PER_EXERCISE=%q: want a whole number >= 0", v)
		}
		e.FanOutSecondsPerExercise = n
	}
	if v := getenv("EXAMINA_MIN_CONFIDENCE"); v != "" {
		f, perr := strconv.ParseFloat(v, 64)
		if perr != nil || f < 0 || f > 1 {
			return Env{}, fmt.Errorf("EXAMINA_MIN_CONFIDENCE=%q: want a number in [0, 1]", v)
		}
		e.MinConfidence = f
	}
	if v := getenv("EXAMINA_MAX_COST_USD"); v != "" {
		f, perr := strconv.ParseFloat(v, 64)
		if perr != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return Env{}, fmt.Errorf("EXAMINA_MAX_COST_USD=%q: want an amount in USD of at least 0 (0: no cap)", v)
		}
		e.MaxCostUSD = f
	}
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := e.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return Env{}, fmt.Errorf("LOG_LEVEL=%q: want DEBUG, INFO, WARN or ERROR", v)
		}
	}
	if strings.HasPrefix(e.ResultsPrefix, e.InputPrefix) || strings.HasPrefix(e.InputPrefix, e.ResultsPrefix) {
		return Env{}, fmt.Errorf("RESULTS_PREFIX %q and INPUT_PREFIX %q overlap: results would trigger dispatch", e.ResultsPrefix, e.InputPrefix)
	}
	return e, nil
}

// Require fails when any of the named settings is empty.
func (e Env) Require(names ...string) error {
	values := map[string]string{"TABLE_NAME": e.TableName, "QUEUE_URL": e.QueueURL, "BUCKET_NAME": e.BucketName,
		"STATE_MACHINE_ARN": e.StateMachineARN, "EXAMINA_PROVIDER": e.Provider}
	var missing []string
	for _, n := range names {
		if values[n] == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing environment variables: %s", strings.Join(missing, ", "))
	}
	return nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func intVar(getenv func(string) string, name string, def int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a positive integer", name, v)
	}
	return n, nil
}

// NewLogger returns the Lambdas' JSON logger at level.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

func discard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
