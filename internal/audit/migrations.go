package audit

import (
	"embed"
	"io/fs"

	"opencode.de/rathaus/rathaus/internal/store"
)

//go:embed migrations
var migrationFiles embed.FS

var migrationsDir, _ = fs.Sub(migrationFiles, "migrations")

// Migrations is the schema of the audit log. It refers to no other
// component's tables: entries name what they concern by reference.
var Migrations = store.MigrationSet{Component: "audit", FS: migrationsDir}
