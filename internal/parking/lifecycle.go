package parking

import "opencode.de/rathaus/rathaus/internal/store"

// Close stops what the service runs beside requests and jobs: the writers
// that commit enforcement lookups' audit rows and submissions in groups
// (store.Group), after they have committed what is still queued. Call it
// after the HTTP server has shut down (no request waits any more) and
// before the database closes; a lookup or submission after Close is refused
// as Unavailable. Close may be called more than once.
func (s *Service) Close() {
	s.enforcement().audit.Close()
	s.submissions().Close()
}

// AuditStats counts the commits of enforcement lookups' audit rows: Items
// per Batches is how many lookups share a commit.
func (s *Service) AuditStats() store.GroupStats {
	return s.enforcement().audit.Stats()
}
