package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// WatchRedis adds the Redis client's connection-pool statistics
// (redis_pool_* series); a cluster client reports its nodes' pools summed.
func (m *Metrics) WatchRedis(c interface{ PoolStats() *redis.PoolStats }) {
	if m != nil {
		m.reg.MustRegister(redisPool{c})
	}
}

type redisPool struct {
	c interface{ PoolStats() *redis.PoolStats }
}

func poolDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("redis_pool_"+name, help, nil, nil)
}

var (
	redisHits     = poolDesc("hits_total", "Times a free connection was found in the pool.")
	redisMisses   = poolDesc("misses_total", "Times no free connection was found in the pool.")
	redisTimeouts = poolDesc("timeouts_total", "Times a wait for a pool connection timed out.")
	redisWaits    = poolDesc("waits_total", "Times a request waited for a pool connection.")
	redisWaitSecs = poolDesc("wait_seconds_total", "Time spent waiting for pool connections.")
	redisTotal    = poolDesc("connections", "Connections in the pool.")
	redisIdle     = poolDesc("idle_connections", "Idle connections in the pool.")
	redisStale    = poolDesc("stale_connections_removed_total", "Stale connections removed from the pool.")
)

func (p redisPool) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{redisHits, redisMisses, redisTimeouts, redisWaits, redisWaitSecs, redisTotal, redisIdle, redisStale} {
		ch <- d
	}
}

func (p redisPool) Collect(ch chan<- prometheus.Metric) {
	s := p.c.PoolStats()
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter(redisHits, float64(s.Hits))
	counter(redisMisses, float64(s.Misses))
	counter(redisTimeouts, float64(s.Timeouts))
	counter(redisWaits, float64(s.WaitCount))
	counter(redisWaitSecs, float64(s.WaitDurationNs)/1e9)
	gauge(redisTotal, float64(s.TotalConns))
	gauge(redisIdle, float64(s.IdleConns))
	counter(redisStale, float64(s.StaleConns))
}
