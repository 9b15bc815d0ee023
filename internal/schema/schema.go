// Package schema lists the database schema of the whole binary: the
// migration sets of all components, in dependency order. It is the one
// place a new component's set is added; the sets themselves live with
// their components.
//
// It holds no SQL and no migration logic (that is store's).
package schema

import (
	"opencode.de/rathaus/rathaus/internal/amtsnetz/msglog"
	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/identity"
	"opencode.de/rathaus/rathaus/internal/mail"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

// Sets returns the migration sets of all components in dependency order:
// a set may refer only to the tables of the sets before it.
func Sets() []store.MigrationSet {
	return []store.MigrationSet{
		tenant.Migrations,
		audit.Migrations,
		identity.Migrations,
		mail.Migrations,
		geo.Migrations,
		parking.Migrations,
		msglog.Migrations, // Rathaus's end of the Amtsnetz message log
	}
}
