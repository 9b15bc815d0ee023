// Package geo knows where things are: the parking zones of a municipality,
// its register of address points, and which zones contain a given point.
//
// Zones come from the traffic authority as GeoJSON (WGS84 lon/lat); they may
// overlap, so every lookup answers zero, one or several zones. Addresses come
// from the cadastre (ALKIS Hauskoordinaten) or, in the demo, from
// OpenStreetMap; they are matched after a normalisation that a German user
// expects ("Perleberger Str. 61a" = "perleberger strasse 61 A").
//
// The database is the source of truth; lookups are answered from an
// in-memory snapshot (Index for zones, Gazetteer for addresses) that is
// rebuilt when a tenant's data changes. The package does not decide anything
// about eligibility: that belongs to the Fachverfahren that asks.
package geo

import (
	"time"

	"github.com/paulmach/orb"
)

// Point is a WGS84 position.
type Point struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
}

// Zone is a parking zone (Parkraumbewirtschaftungszone / Bewohnerparkzone)
// ordered by the traffic authority under § 45 Abs. 1b Satz 1 Nr. 2a StVO.
type Zone struct {
	Tenant    string           // ARS of the municipality
	ID        string           // the municipality's own zone identifier, e.g. Berlin "29"
	Name      string           // e.g. "Zone 29"
	District  string           // Bezirk, may be empty
	Geometry  orb.MultiPolygon // WGS84, rings closed, validated on import
	ValidFrom time.Time        // a legal date (UTC midnight)
	ValidTo   *time.Time       // nil: open-ended
	Source    string           // where the geometry came from (file name, WFS URL)
	// Properties keeps the remaining GeoJSON properties of the feature
	// (e.g. Berlin's gebuehr, zeiten, besonderheiten) as they came.
	Properties map[string]any
}

// Address is one address point of the register.
type Address struct {
	Tenant      string
	Street      string // as published, e.g. "Perleberger Straße"
	HouseNumber string // as published, e.g. "61A"
	Postcode    string // five digits, or "" when the source has none
	District    string // may be empty
	Point       Point
	Source      string
}
