package identity

import (
	"embed"
	"io/fs"

	"opencode.de/rathaus/rathaus/internal/store"
)

//go:embed migrations
var migrationFiles embed.FS

var migrationsDir, _ = fs.Sub(migrationFiles, "migrations")

// Migrations is the schema of staff sign-in: sessions and sign-ins under
// way. It refers to no other component's tables.
var Migrations = store.MigrationSet{Component: "identity", FS: migrationsDir}
