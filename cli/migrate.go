package cli

import (
	"context"
	"fmt"

	"apisec/db"
)

func migrate(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return usagef("migrate needs up, down, status, version or create NAME")
	}
	switch cmd := args[0]; cmd {
	case "create":
		if len(args) != 2 {
			return usagef("migrate create takes exactly one NAME")
		}
		path, err := db.CreateMigration(db.MigrationsDir, args[1])
		if err != nil {
			return usagef("%v", err)
		}
		fmt.Fprintln(env.Stdout, "created", path, "(rebuild the binary to embed it)")
		return nil
	case "up", "down", "status", "version":
		if len(args) != 1 {
			return usagef("migrate %s takes no arguments", cmd)
		}
		cfg, err := loadConfig(env)
		if err != nil {
			return err
		}
		gdb, engine, err := db.Open(ctx, cfg.DatabaseURL, db.Options{MaxOpenConns: 2, MaxIdleConns: 1})
		if err != nil {
			return err
		}
		sqlDB, _ := gdb.DB()
		defer sqlDB.Close()
		p, err := db.NewMigrator(sqlDB, engine)
		if err != nil {
			return err
		}
		return db.RunMigrate(ctx, p, cmd, env.Stdout)
	default:
		return usagef("unknown migrate command %q", cmd)
	}
}
