package mail

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

// Migrations is the schema of the outbox. It refers to no other
// component's tables.
var Migrations = store.MigrationSet{Component: "mail", FS: migrationsDir}
