package tenant

import (
	"embed"
	"io/fs"

	"opencode.de/rathaus/rathaus/internal/store"
)

//go:embed migrations
var migrationFiles embed.FS

// fs.Sub fails only for an invalid directory name; a missing directory
// shows when the set is read.
var migrationsDir, _ = fs.Sub(migrationFiles, "migrations")

// Migrations is the schema of the municipalities table. It comes first in
// every list of sets: the tables of all other components refer to it.
var Migrations = store.MigrationSet{Component: "tenant", FS: migrationsDir}
