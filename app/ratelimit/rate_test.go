package ratelimit

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"
)

func TestParseRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		limit   int64
		period  time.Duration
		off     bool
		wantErr string
	}{
		{in: "100/1m", limit: 100, period: time.Minute},
		{in: "5/15m", limit: 5, period: 15 * time.Minute},
		{in: "300/1m", limit: 300, period: time.Minute},
		{in: " 10 / 1h30m ", limit: 10, period: 90 * time.Minute},
		{in: "2/500ms", limit: 2, period: 500 * time.Millisecond},
		{in: "off", off: true},
		{in: "OFF", off: true},
		{in: "", wantErr: "want N/DURATION"},
		{in: "100", wantErr: "want N/DURATION"},
		{in: "100-M", wantErr: "want N/DURATION"},
		{in: "0/1m", wantErr: "N must be a whole number"},
		{in: "-1/1m", wantErr: "N must be a whole number"},
		{in: "1.5/1m", wantErr: "N must be a whole number"},
		{in: "2000000/1m", wantErr: "N must be a whole number"},
		{in: "100/m", wantErr: "DURATION must be"},
		{in: "100/0s", wantErr: "DURATION must be"},
		{in: "100/-1m", wantErr: "DURATION must be"},
		{in: "100/1m/2", wantErr: "DURATION must be"},
	}
	for _, tt := range tests {
		rate, off, err := ParseRate(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseRate(%q) error = %v, want a one-line error with %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || off != tt.off || rate.Limit != tt.limit || rate.Period != tt.period {
			t.Errorf("ParseRate(%q) = %d/%s off=%t err=%v, want %d/%s off=%t",
				tt.in, rate.Limit, rate.Period, off, err, tt.limit, tt.period, tt.off)
		}
	}
}

func TestParsePlans(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    map[string]limiter.Rate
		wantErr string
	}{
		{in: "", want: map[string]limiter.Rate{}},
		{in: "  ", want: map[string]limiter.Rate{}},
		{in: "free=60/1m,paid=600/1m", want: map[string]limiter.Rate{
			"free": {Formatted: "60/1m", Limit: 60, Period: time.Minute},
			"paid": {Formatted: "600/1m", Limit: 600, Period: time.Minute},
		}},
		{in: " free = 60/1m , enterprise=off", want: map[string]limiter.Rate{
			"free":       {Formatted: "60/1m", Limit: 60, Period: time.Minute},
			"enterprise": {},
		}},
		{in: "free", wantErr: "want PLAN=N/DURATION"},
		{in: "free=60/1m,", wantErr: "want PLAN=N/DURATION"},
		{in: "=60/1m", wantErr: `plan name ""`},
		{in: "fr ee=60/1m", wantErr: `plan name "fr ee"`},
		{in: "free=60/1m,free=10/1m", wantErr: `plan "free" is listed twice`},
		{in: "free=60", wantErr: `plan "free": "60": want N/DURATION`},
	}
	for _, tt := range tests {
		got, err := ParsePlans(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePlans(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got == nil || !maps.Equal(got, tt.want) {
			t.Errorf("ParsePlans(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"203.0.113.7":                 "203.0.113.7",
		"::ffff:203.0.113.7":          "203.0.113.7",
		"2001:db8:1:2:aaaa:bbbb:cc:d": "2001:db8:1:2::/64",
		"2001:db8:1:2::1":             "2001:db8:1:2::/64",
		"2001:db8:1:3::1":             "2001:db8:1:3::/64",
		"fe80::1%eth0":                "fe80::/64",
		"::1":                         "::/64",
		"not an ip":                   "not an ip",
		"":                            "",
	}
	for in, want := range tests {
		if got := ClientKey(in); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", in, got, want)
		}
	}
}
