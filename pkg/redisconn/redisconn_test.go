package redisconn

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/pkg/config"
	"github.com/redis/go-redis/v9"
)

type env map[string]string

func (m env) lookup(k string) (string, bool) { v, ok := m[k]; return v, ok }

func TestLoad(t *testing.T) {
	tests := []struct {
		name     string
		give     env
		wantMode Mode
		wantErr  string // the setting the error names; empty: no error
	}{
		{"defaults", env{}, Single, ""},
		{"url with password", env{EnvURL: "redis://:pw@10.0.0.1:6379/2"}, Single, ""},
		{"cluster wins over url", env{EnvURL: "redis://x:1/0", EnvClusterAddrs: "a:7000, b:7001"}, Cluster, ""},
		{"sentinel", env{EnvSentinelAddrs: "s1:26379,s2:26379", EnvSentinelMaster: "mymaster", EnvPassword: "pw"}, Sentinel, ""},
		{"both cluster and sentinel", env{EnvClusterAddrs: "a:7000", EnvSentinelAddrs: "s1:26379", EnvSentinelMaster: "m"}, "", EnvClusterAddrs},
		{"sentinel without master", env{EnvSentinelAddrs: "s1:26379"}, "", EnvSentinelMaster},
		{"master without sentinels", env{EnvSentinelMaster: "m"}, "", EnvSentinelAddrs},
		{"address without port", env{EnvClusterAddrs: "a:7000,b"}, "", EnvClusterAddrs},
		{"bad port", env{EnvSentinelAddrs: "s1:99999", EnvSentinelMaster: "m"}, "", EnvSentinelAddrs},
		{"two passwords", env{EnvURL: "redis://:pw@h:1/0", EnvPassword: "other"}, "", EnvPassword},
		{"bad url", env{EnvURL: "http://h:1"}, "", EnvURL},
		{"min replicas", env{EnvMinReplicas: "2"}, Single, ""},
		{"bad min replicas", env{EnvMinReplicas: "-1"}, "", EnvMinReplicas},
		{"wait timeout too small", env{EnvWaitTimeout: "1ms"}, "", EnvWaitTimeout},
		{"password from a missing variable", env{EnvPassword: "env:NOPE"}, "", EnvPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Load(tt.give.lookup)
			if tt.wantErr != "" {
				if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr+":") {
					t.Fatalf("Load = %v, want an error naming %s", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "other") {
					t.Fatalf("error %q shows a password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if s.Mode != tt.wantMode {
				t.Fatalf("mode = %s, want %s", s.Mode, tt.wantMode)
			}
		})
	}
}

func TestSettingsDefaultsAndClients(t *testing.T) {
	s, err := Load(env{}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if s.MinReplicas != AutoReplicas || s.WaitTimeout != DefaultWaitTimeout {
		t.Fatalf("defaults = %d replicas, %s; want auto and %s", s.MinReplicas, s.WaitTimeout, DefaultWaitTimeout)
	}
	tests := []struct {
		give env
		want string // the client's type
	}{
		{env{EnvURL: "redis://127.0.0.1:1/0"}, "*redis.Client"},
		{env{EnvClusterAddrs: "127.0.0.1:1,127.0.0.1:2"}, "*redis.ClusterClient"},
		{env{EnvSentinelAddrs: "127.0.0.1:1", EnvSentinelMaster: "m"}, "*redis.Client"},
	}
	for _, tt := range tests {
		s, err := Load(tt.give.lookup)
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.NewClient(Tuning{PoolSize: 4})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%T", c); got != tt.want {
			t.Errorf("%s: client %s, want %s", s, got, tt.want)
		}
		_ = c.Close()
	}
}

// Credentials go to the client, never into String (which is what the logs show).
func TestCredentialsNotShown(t *testing.T) {
	s, err := Load(env{EnvClusterAddrs: "127.0.0.1:7000", EnvUsername: "app", EnvPassword: "s3cret", EnvWaitTimeout: "5s"}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.String(), "s3cret") || strings.Contains(fmt.Sprintf("%+v", s), "s3cret") {
		t.Fatalf("settings print the password: %s / %+v", s, s)
	}
	c, err := s.NewClient(Tuning{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.(*redis.ClusterClient).Options()
	if o.Username != "app" || o.Password != "s3cret" || o.ReadTimeout < 5*time.Second {
		t.Fatalf("cluster options = user %q, read timeout %s", o.Username, o.ReadTimeout)
	}
	u, err := Load(env{EnvURL: "redis://:urlpw@127.0.0.1:6379/3"}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.String(); got != "single 127.0.0.1:6379/3" {
		t.Fatalf("String = %q", got)
	}
}
