package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"apisec/app"
	"apisec/app/config"
	"apisec/app/connlimit"
	"apisec/routes"
)

// Server timeouts: a slow client cannot hold a connection open for free.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	shutdownTimeout   = 20 * time.Second
)

func serve(ctx context.Context, env Env) error {
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	if err := cfg.CheckServe(); err != nil {
		return err
	}
	log := newLogger(cfg, env.Stdout)
	// The live heap is small (tens of MB) and allocation per request high:
	// collecting at 200 % growth instead of Go's 100 % gave S2 +13 % req/s
	// and S1/S3 +5 % (bench/ab.sh, interleaved) for ~7 MB more peak RSS.
	// The runtime's own GOGC, when set, wins.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(200)
	}
	if cfg.Env != config.Development {
		gin.SetMode(gin.ReleaseMode)
	}
	a, err := app.New(ctx, cfg, log, app.Options{Migrate: !cfg.Production()})
	if err != nil {
		return err
	}
	defer a.Close()
	handler, err := routes.New(a)
	if err != nil {
		return err
	}
	tcp, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on HOST=%q PORT=%d: %w", cfg.Host, cfg.Port, err)
	}
	ln := connlimit.Wrap(tcp, connlimit.Limits{
		Total:  cfg.MaxConnections,
		PerIP:  cfg.MaxConnectionsPerIP,
		Exempt: cfg.TrustedProxyPrefixes(),
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	if cfg.PprofAddr != "" {
		stop, err := servePprof(cfg.PprofAddr)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
		log.Info("pprof listening", "addr", cfg.PprofAddr)
	}
	if a.Metrics != nil {
		// Its own listener: the public one never answers /metrics.
		ms, err := a.Metrics.Serve(cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return err
		}
		defer ms.Close()
		log.Info("metrics listening", "addr", ms.Addr())
	}
	if cfg.PurgeInterval > 0 {
		// Stopped, and waited for, before the deferred a.Close closes the database.
		pctx, stopPurge := context.WithCancel(ctx)
		purged := make(chan struct{})
		go func() { defer close(purged); a.Purger.Every(pctx, cfg.PurgeInterval) }()
		defer func() { stopPurge(); <-purged }()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "env", cfg.Env, "database", string(a.Engine), "redis", a.Redis != nil)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Stop accepting, let in-flight requests finish, then close storage.
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// servePprof serves net/http/pprof on a loopback address only: profiles
// expose internals and must never face the network.
func servePprof(addr string) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("PPROF_ADDR: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("PPROF_ADDR must be a loopback address, not %q", addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("PPROF_ADDR: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout}
	go srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed on stop
	return func() { srv.Close() }, nil
}
