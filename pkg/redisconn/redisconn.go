// Package redisconn reads how a service reaches Redis — one server (REDIS_URL), a Redis Cluster
// (REDIS_CLUSTER_ADDRS) or a Sentinel-managed primary (REDIS_SENTINEL_ADDRS and
// REDIS_SENTINEL_MASTER), with optional REDIS_USERNAME and REDIS_PASSWORD for all three — and
// builds the matching go-redis UniversalClient (contract section 11). Passwords never reach a
// log: Settings prints without them.
package redisconn

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/redis/go-redis/v9"
)

// Mode is how Redis is deployed.
type Mode string

// Deployments.
const (
	Single   Mode = "single"
	Cluster  Mode = "cluster"
	Sentinel Mode = "sentinel"
)

// Environment variables.
const (
	EnvURL            = "REDIS_URL"
	EnvClusterAddrs   = "REDIS_CLUSTER_ADDRS"
	EnvSentinelAddrs  = "REDIS_SENTINEL_ADDRS"
	EnvSentinelMaster = "REDIS_SENTINEL_MASTER"
	EnvUsername       = "REDIS_USERNAME"
	EnvPassword       = "REDIS_PASSWORD"
	EnvMinReplicas    = "HOOKLINE_REDIS_MIN_REPLICAS"
	EnvWaitTimeout    = "HOOKLINE_REDIS_WAIT_TIMEOUT"
)

// AutoReplicas is MinReplicas when HOOKLINE_REDIS_MIN_REPLICAS is unset: 1 when every primary
// has a replica, else 0, decided once Redis first answers.
const AutoReplicas = -1

// DefaultWaitTimeout bounds how long a write waits for its replicas before the message is
// redelivered instead.
const DefaultWaitTimeout = time.Second

// Settings say where Redis is and how writes are made durable.
type Settings struct {
	Mode Mode
	// URL is REDIS_URL (Single only).
	URL string
	// Addrs are the cluster seed nodes (Cluster) or the sentinels (Sentinel).
	Addrs []string
	// Master is the name the sentinels monitor (Sentinel only).
	Master   string
	Username string
	Password config.Secret
	// MinReplicas is how many replicas must hold a write before the message that made it is
	// acknowledged (HOOKLINE_REDIS_MIN_REPLICAS); AutoReplicas decides from the deployment.
	MinReplicas int
	// WaitTimeout is the WAIT timeout (HOOKLINE_REDIS_WAIT_TIMEOUT).
	WaitTimeout time.Duration
}

// Load reads the Redis settings; an error names the setting and wraps config.ErrInvalid.
func Load(lookup config.Lookup) (Settings, error) {
	e := config.NewEnv(lookup)
	s := Settings{
		Mode:        Single,
		URL:         e.String(EnvURL, config.DefaultRedisURL),
		Username:    e.String(EnvUsername, ""),
		WaitTimeout: e.Duration(EnvWaitTimeout, DefaultWaitTimeout),
		MinReplicas: AutoReplicas,
	}
	if v := e.String(EnvMinReplicas, "auto"); v != "auto" {
		s.MinReplicas = e.Int(EnvMinReplicas, 0, 0, 16)
	}
	if s.WaitTimeout < 10*time.Millisecond || s.WaitTimeout > time.Minute {
		e.Fail(EnvWaitTimeout, "want a duration from 10ms to 1m, got %s", s.WaitTimeout)
	}
	if v := e.String(EnvPassword, ""); v != "" {
		p, err := config.ResolveSecret(v, lookup)
		if err != nil {
			e.Fail(EnvPassword, "%v", err)
		}
		s.Password = p
	}
	cluster, sentinels := addrs(e, EnvClusterAddrs), addrs(e, EnvSentinelAddrs)
	s.Master = e.String(EnvSentinelMaster, "")
	switch {
	case len(cluster) > 0 && (len(sentinels) > 0 || s.Master != ""):
		e.Fail(EnvClusterAddrs, "set either %s or %s (with %s), not both", EnvClusterAddrs, EnvSentinelAddrs, EnvSentinelMaster)
	case len(cluster) > 0:
		s.Mode, s.Addrs, s.URL = Cluster, cluster, ""
	case len(sentinels) > 0 && s.Master == "":
		e.Fail(EnvSentinelMaster, "required with %s: the master name the sentinels monitor", EnvSentinelAddrs)
	case len(sentinels) == 0 && s.Master != "":
		e.Fail(EnvSentinelAddrs, "required with %s: host:port of the sentinels, comma-separated", EnvSentinelMaster)
	case len(sentinels) > 0:
		s.Mode, s.Addrs, s.URL = Sentinel, sentinels, ""
	default:
		o, err := redis.ParseURL(s.URL)
		switch {
		case err != nil:
			e.Fail(EnvURL, "want redis://[user:password@]host:port/db, rediss://… or unix://…: %v", redactErr(err, s.URL))
		case o.Password != "" && !s.Password.IsZero():
			e.Fail(EnvPassword, "%s already carries a password; set only one of them", EnvURL)
		case o.Username != "" && s.Username != "":
			e.Fail(EnvUsername, "%s already carries a user name; set only one of them", EnvURL)
		}
	}
	if err := e.Err(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

func addrs(e *config.Env, name string) []string {
	list := e.List(name)
	for _, a := range list {
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			e.Fail(name, "want host:port, comma-separated, got %q", a)
			return nil
		}
	}
	return list
}

// redactErr keeps a URL's password out of a parse error.
func redactErr(err error, url string) string {
	msg := err.Error()
	if i := strings.Index(url, "@"); i >= 0 {
		msg = strings.ReplaceAll(msg, url[:i], "…")
	}
	return msg
}

// String describes the deployment without credentials, for logs.
func (s Settings) String() string {
	switch s.Mode {
	case Cluster:
		return "cluster " + strings.Join(s.Addrs, ",")
	case Sentinel:
		return "sentinel " + s.Master + " via " + strings.Join(s.Addrs, ",")
	default:
		if o, err := redis.ParseURL(s.URL); err == nil {
			return "single " + o.Addr + "/" + strconv.Itoa(o.DB)
		}
		return "single (unparsable " + EnvURL + ")"
	}
}

// Tuning are a service's client defaults; REDIS_URL query parameters win over them.
type Tuning struct {
	// PoolSize is the connection pool size (per node on a cluster); 0 keeps go-redis's.
	PoolSize int
	// DialerRetries is how often a failed dial is retried before the command fails; 0 keeps
	// go-redis's.
	DialerRetries int
}

// NewClient connects as s says: a *redis.Client, *redis.ClusterClient or a failover
// *redis.Client. The read timeout leaves room for WAIT.
func (s Settings) NewClient(t Tuning) (redis.UniversalClient, error) {
	read := max(3*time.Second, s.WaitTimeout+2*time.Second)
	switch s.Mode {
	case Cluster:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: s.Addrs, Username: s.Username, Password: string(s.Password.Bytes()),
			PoolSize: t.PoolSize, DialerRetries: t.DialerRetries, ReadTimeout: read,
		}), nil
	case Sentinel:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: s.Master, SentinelAddrs: s.Addrs, Username: s.Username, Password: string(s.Password.Bytes()),
			PoolSize: t.PoolSize, DialerRetries: t.DialerRetries, ReadTimeout: read,
		}), nil
	}
	o, err := redis.ParseURL(s.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s", config.ErrInvalid, EnvURL, redactErr(err, s.URL))
	}
	if s.Username != "" {
		o.Username = s.Username
	}
	if !s.Password.IsZero() {
		o.Password = string(s.Password.Bytes())
	}
	if o.PoolSize == 0 {
		o.PoolSize = t.PoolSize
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = t.DialerRetries
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = read
	}
	return redis.NewClient(o), nil
}
