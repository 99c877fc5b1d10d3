// Package ratelimit holds the API's rate limits: exact sliding-window stores
// (Redis and in-process) behind ulule/limiter's Store interface, the
// parsing of the N/DURATION settings, and the limiters of the contract.
package ratelimit

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ulule/limiter/v3"

	"apisec/models"
)

// maxLimit bounds N: the sliding log holds one entry per admitted request,
// so N is also the memory a key may take.
const maxLimit = 1_000_000

// ParseRate parses "N/DURATION" (100/1m, 5/15m, 1000/1h30m; DURATION in Go
// syntax) or "off", which returns off=true and a zero Rate.
func ParseRate(s string) (rate limiter.Rate, off bool, err error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return limiter.Rate{}, true, nil
	}
	n, d, ok := strings.Cut(s, "/")
	if !ok {
		return limiter.Rate{}, false, fmt.Errorf("%q: want N/DURATION (e.g. 100/1m) or off", s)
	}
	limit, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
	if err != nil || limit < 1 || limit > maxLimit {
		return limiter.Rate{}, false, fmt.Errorf("%q: N must be a whole number from 1 to %d", s, maxLimit)
	}
	period, err := time.ParseDuration(strings.TrimSpace(d))
	if err != nil || period < time.Millisecond {
		return limiter.Rate{}, false, fmt.Errorf("%q: DURATION must be a Go duration of at least 1ms, e.g. 1m or 15m", s)
	}
	return limiter.Rate{Formatted: s, Limit: limit, Period: period}, false, nil
}

// ParsePlans parses "free=60/1m,paid=600/1m" into rates by plan name; a
// plan set to off maps to a zero Rate (no limit). An empty string is an
// empty map.
func ParsePlans(s string) (map[string]limiter.Rate, error) {
	plans := make(map[string]limiter.Rate)
	if strings.TrimSpace(s) == "" {
		return plans, nil
	}
	for item := range strings.SplitSeq(s, ",") {
		name, spec, ok := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		if !ok {
			return nil, fmt.Errorf("%q: want PLAN=N/DURATION, e.g. free=60/1m", strings.TrimSpace(item))
		}
		if !models.ValidPlan(name) {
			return nil, fmt.Errorf("plan name %q: use 1-64 of a-z, 0-9, '-' and '_'", name)
		}
		if _, dup := plans[name]; dup {
			return nil, fmt.Errorf("plan %q is listed twice", name)
		}
		rate, _, err := ParseRate(spec)
		if err != nil {
			return nil, fmt.Errorf("plan %q: %w", name, err)
		}
		plans[name] = rate
	}
	return plans, nil
}

// ClientKey is the rate-limit key for a client IP: an IPv4 address as is,
// an IPv4-mapped IPv6 address as its IPv4, any other IPv6 address as its
// /64 (one subscriber usually holds a whole /64, so per-address keys would
// hand out 2^64 budgets), and anything unparsable unchanged.
func ClientKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
