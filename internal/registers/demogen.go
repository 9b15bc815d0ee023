package registers

import (
	"math/bits"
	"strings"
	"time"
	"unicode/utf8"

	"opencode.de/rathaus/rathaus/internal/geo"
)

// rng is SplitMix64: small, fast and — unlike math/rand, whose derived
// functions may change between Go releases — fixed here, so a seed gives
// the same demo population with every Go version.
type rng struct{ s uint64 }

// newRNG returns the stream'th independent generator of a seed: every
// resident has its own, so adding a field to one resident does not
// reshuffle all that follow.
func newRNG(seed, stream uint64) *rng {
	return &rng{s: mix64(seed) ^ mix64(stream+0x632be59bd9b4e019)}
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// intn returns a number in [0, n), n > 0 (Lemire's multiply-shift; the
// bias is below 2⁻³² for the sizes used here).
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// perMille returns true with probability pm/1000.
func (r *rng) perMille(pm int) bool { return r.intn(1000) < pm }

func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

// pickWhere picks among the elements that satisfy ok, or among all if none does.
func pickWhere(r *rng, xs []string, ok func(string) bool) string {
	var c []string
	for _, x := range xs {
		if ok(x) {
			c = append(c, x)
		}
	}
	if len(c) == 0 {
		c = xs
	}
	return pick(r, c)
}

func hasUmlaut(s string) bool     { return strings.ContainsAny(s, "äöüÄÖÜß") }
func isASCII(s string) bool       { return utf8.RuneCountInString(s) == len(s) }
func notHyphenated(s string) bool { return !strings.ContainsAny(s, "- ") }
func beyondLatin1(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r > 0xff }) >= 0
}

type holderKind uint8

const (
	holderSelf holderKind = iota
	holderRelative
	holderCompany
)

type vehiclePlan struct {
	cat            vehicleCategory
	holder         holderKind
	decommissioned bool
}

type nameStyle uint8

const (
	nameRandom   nameStyle = iota
	namePlain              // one given name, ASCII family name
	nameUmlaut             // umlauts or ß in given and family name
	nameParticle           // "von Bülow"
	nameDutch              // "van der Meer"
	nameDouble             // a double family name and two given names
	nameNoble              // "Freiherr von und zu …"
	nameOrigin             // from the origin named in plan.origin, with its special letters
)

// plan is what a resident is to be; the generator fills in the rest.
type plan struct {
	note        string
	style       nameStyle
	origin      string
	minor       bool
	kind        ResidenceKind
	mainOutside bool
	blocked     bool
	vehicles    []vehiclePlan
}

var (
	car = []vehiclePlan{{cat: catCar}}
)

// curated are the first residents: together they show every Expect
// outcome and the name patterns that register matching gets wrong
// elsewhere. Tests check the coverage.
var curated = []plan{
	{note: "Standardfall", style: namePlain, vehicles: car},
	{note: "Umlaut und ß im Namen, Elektroauto mit E-Kennzeichen", style: nameUmlaut, vehicles: []vehiclePlan{{cat: catElectric}}},
	{note: "Auskunftssperre", blocked: true, vehicles: car},
	{note: "minderjährig; das Auto gehört den Eltern", minor: true, vehicles: []vehiclePlan{{cat: catCar, holder: holderRelative}}},
	{note: "Nebenwohnsitz, Hauptwohnsitz außerhalb Berlins", kind: Nebenwohnsitz, mainOutside: true, vehicles: car},
	{note: "Nebenwohnsitz, Hauptwohnsitz ebenfalls in Berlin", kind: Nebenwohnsitz, vehicles: car},
	{note: "ohne Fahrzeug"},
	{note: "Fahrzeug außer Betrieb gesetzt", vehicles: []vehiclePlan{{cat: catCar, decommissioned: true}}},
	{note: "Auto eines Angehörigen", vehicles: []vehiclePlan{{cat: catCar, holder: holderRelative}}},
	{note: "Firmenwagen", vehicles: []vehiclePlan{{cat: catCar, holder: holderCompany}}},
	{note: "Fahrzeug länger als 5,6 m", vehicles: []vehiclePlan{{cat: catLong}}},
	{note: "Fahrzeug schwerer als 3,5 t", vehicles: []vehiclePlan{{cat: catHeavy}}},
	{note: "Familienname mit „von“", style: nameParticle, vehicles: car},
	{note: "Familienname mit „van der“ / „van den“", style: nameDutch, vehicles: car},
	{note: "Doppelname und zwei Vornamen", style: nameDouble, vehicles: car},
	{note: "türkischer Name (ş, ı, ğ, ç)", style: nameOrigin, origin: "türkisch", vehicles: car},
	{note: "Adelsname mit Titel", style: nameNoble, vehicles: car},
	{note: "vietnamesischer Name, Motorrad", style: nameOrigin, origin: "vietnamesisch", vehicles: []vehiclePlan{{cat: catMotorcycle}}},
	{note: "zwei Fahrzeuge, das zweite mit H-Kennzeichen", vehicles: []vehiclePlan{{cat: catCar}, {cat: catHistoric}}},
	{note: "arabischer Name mit Bindestrich, Plug-in-Hybrid mit E-Kennzeichen", style: nameOrigin, origin: "arabisch", vehicles: []vehiclePlan{{cat: catPlugIn}}},
	{note: "polnischer Name (ł, ś, ą)", style: nameOrigin, origin: "polnisch", vehicles: car},
	{note: "südosteuropäischer Name (đ, ć, č)", style: nameOrigin, origin: "südosteuropäisch", vehicles: car},
}

// randomPlan draws what a resident beyond the curated ones is. The rates
// are rough Berlin figures (about half of households have a car) bent
// towards showing every case often enough to find one.
func randomPlan(r *rng) plan {
	var p plan
	p.minor = r.perMille(30)
	p.kind = Hauptwohnsitz
	if !p.minor && r.perMille(70) {
		p.kind, p.mainOutside = Nebenwohnsitz, r.perMille(500)
	}
	p.blocked = r.perMille(15)
	n := 0
	switch x := r.intn(1000); {
	case p.minor:
		n = r.intn(2)
	case x < 400:
	case x < 950:
		n = 1
	default:
		n = 2
	}
	for range n {
		vp := vehiclePlan{cat: randomCategory(r)}
		switch x := r.intn(1000); {
		case p.minor || x < 40:
			vp.holder = holderRelative
		case x < 70:
			vp.holder = holderCompany
		}
		vp.decommissioned = r.perMille(30)
		p.vehicles = append(p.vehicles, vp)
	}
	return p
}

func randomCategory(r *rng) vehicleCategory {
	x := r.intn(1000)
	for _, c := range []struct {
		cat vehicleCategory
		pm  int
	}{{catCar, 760}, {catElectric, 90}, {catPlugIn, 30}, {catMotorcycle, 50}, {catLong, 30}, {catHeavy, 15}, {catHistoric, 25}} {
		if x < c.pm {
			return c.cat
		}
		x -= c.pm
	}
	return catCar
}

// generator carries what residents share: the address picker, the plates
// handed out, the index being built.
type generator struct {
	d      *Demo
	seed   uint64
	picker addrPicker
	plates map[string]bool
}

// generate fills d with the population for seed at addrs.
func generate(d *Demo, seed uint64, addrs []geo.Address) {
	withPostcode := 0
	for i := range addrs {
		if addrs[i].Postcode != "" {
			withPostcode++
		}
	}
	if withPostcode == 0 {
		d.byAddress, d.byPlate = map[string][]residenceEntry{}, map[string]vehicleEntry{}
		return
	}
	n := max(withPostcode/5, min(withPostcode, 3000), len(curated))
	g := &generator{
		d:      d,
		seed:   seed,
		picker: newAddrPicker(addrs, newRNG(seed, 0)),
		plates: make(map[string]bool, n),
	}
	d.residents = make([]DemoResident, 0, n)
	d.byAddress = make(map[string][]residenceEntry, n+n/10)
	d.byPlate = make(map[string]vehicleEntry, n)
	for i := range n {
		r := newRNG(seed, uint64(i)+1)
		p := curatedOrRandom(r, i)
		g.resident(r, p)
	}
}

func curatedOrRandom(r *rng, i int) plan {
	if i < len(curated) {
		return curated[i]
	}
	return randomPlan(r)
}

// resident generates one resident to plan p and indexes it.
func (g *generator) resident(r *rng, p plan) {
	d := g.d
	ref := d.reference
	idx := len(d.residents)
	addr, key := g.picker.next()
	res := DemoResident{No: idx + 1, Address: addr, Kind: Hauptwohnsitz, Blocked: p.blocked, Note: p.note}
	if p.kind != NotRegistered {
		res.Kind = p.kind
	}

	female := r.perMille(500)
	res.Person = g.name(r, p, female)
	if p.minor {
		res.Person.BirthDate = birthDate(r, ref, 15, 16)
	} else {
		age := 18 + r.intn(30) + r.intn(40) // 18 to 86, most between 35 and 70
		res.Person.BirthDate = birthDate(r, ref, age, age)
	}
	res.Since = moveIn(r, res.Person.BirthDate, ref)

	plateDistrict := "B"
	d.byAddress[key] = append(d.byAddress[key], residenceEntry{resident: idx, kind: res.Kind, postcode: addr.Postcode, since: res.Since})
	if res.Kind == Nebenwohnsitz {
		if p.mainOutside {
			e := pick(r, elsewhere)
			m := e.ref
			res.MainResidence, plateDistrict = &m, e.district
		} else {
			main, mkey := g.picker.next()
			res.MainResidence = &AddressRef{Street: main.Street, HouseNumber: main.HouseNumber, Postcode: main.Postcode}
			since := res.Since.AddDate(0, 0, -r.intn(3650))
			if since.Before(res.Person.BirthDate) {
				since = res.Person.BirthDate
			}
			d.byAddress[mkey] = append(d.byAddress[mkey], residenceEntry{resident: idx, kind: Hauptwohnsitz, postcode: main.Postcode, since: since})
		}
	}

	for vi, vp := range p.vehicles {
		v := g.vehicle(r, vp, res.Person, female, plateDistrict)
		d.byPlate[v.Plate.String()] = vehicleEntry{resident: idx, vehicle: vi}
		res.Vehicles = append(res.Vehicles, v)
	}
	res.Expect = expectFor(&res, ref)
	d.residents = append(d.residents, res)
}

// name draws a name to the plan's style.
func (g *generator) name(r *rng, p plan, female bool) Person {
	o := origins[0]
	switch p.style {
	case nameRandom:
		x := r.intn(1000)
		for _, c := range origins {
			if x < c.weight {
				o = c
				break
			}
			x -= c.weight
		}
	case nameOrigin:
		for _, c := range origins {
			if c.name == p.origin {
				o = c
			}
		}
	}
	given := o.male
	if female {
		given = o.female
	}
	var first, family string
	switch p.style {
	case namePlain:
		first = pickWhere(r, given, func(s string) bool { return isASCII(s) && notHyphenated(s) })
		family = pickWhere(r, o.family, isASCII)
	case nameUmlaut:
		first = pickWhere(r, given, hasUmlaut)
		family = pickWhere(r, o.family, func(s string) bool { return strings.ContainsRune(s, 'ß') && strings.ContainsAny(s, "äöü") })
	case nameOrigin:
		// Letters beyond Latin-1 (DIN 91379) are what older systems lose.
		first = pickWhere(r, given, beyondLatin1)
		family = pickWhere(r, o.family, func(s string) bool {
			if o.name == "arabisch" {
				return strings.Contains(s, "-")
			}
			return beyondLatin1(s)
		})
	default:
		first = pick(r, given)
		family = pick(r, o.family)
	}
	if o.secondGivenPM > 0 && (p.style == nameDouble || p.style == nameRandom && r.perMille(o.secondGivenPM)) {
		if second := pick(r, given); second != first {
			first += " " + second
		}
	}
	switch {
	case p.style == nameParticle || p.style == nameRandom && o.name == "deutsch" && r.perMille(30):
		family = pick(r, particleFamilies)
	case p.style == nameDutch:
		family = pickWhere(r, origins[len(origins)-1].family, func(s string) bool { return strings.HasPrefix(s, "van d") })
	case p.style == nameNoble || p.style == nameRandom && o.name == "deutsch" && r.perMille(5):
		title := "Freiherr "
		if female {
			title = "Freifrau "
		}
		family = title + pick(r, nobleFamilies)
	case p.style == nameDouble || p.style == nameRandom && o.name == "deutsch" && r.perMille(40):
		if second := pick(r, o.family); second != family {
			family += "-" + second
		}
	}
	if female && o.femaleFamily != nil {
		family = o.femaleFamily(family)
	}
	return Person{GivenNames: first, FamilyName: family}
}

// birthDate draws a date on which someone is between minAge and maxAge
// years old on ref (and stays so until the day before the next birthday).
func birthDate(r *rng, ref time.Time, minAge, maxAge int) time.Time {
	if maxAge < minAge {
		minAge, maxAge = maxAge, minAge
	}
	age := minAge + r.intn(maxAge-minAge+1)
	return ref.AddDate(-age, 0, -r.intn(365))
}

// moveIn draws the date someone moved in: at the earliest at birth, and
// for adults usually at or after 18, up to 35 years back, at least two
// weeks before ref.
func moveIn(r *rng, birth, ref time.Time) time.Time {
	earliest := birth.AddDate(18, 0, 0)
	if earliest.After(ref) || r.perMille(100) {
		earliest = birth
	}
	if back := ref.AddDate(-35, 0, 0); earliest.Before(back) {
		earliest = back
	}
	days := int(ref.Sub(earliest).Hours()/24) - 14
	if days < 1 {
		return earliest
	}
	return earliest.AddDate(0, 0, r.intn(days))
}

// vehicle draws a vehicle to the plan.
func (g *generator) vehicle(r *rng, vp vehiclePlan, owner Person, female bool, district string) DemoVehicle {
	m := pick(r, vehicleModels[vp.cat])
	v := DemoVehicle{
		Model: m.name, Class: m.class, LengthMM: m.length, WidthMM: m.width, MassKg: m.mass, Fuel: m.fuel,
		Holder: owner, Decommissioned: vp.decommissioned,
	}
	switch vp.holder {
	case holderRelative:
		// A parent for the young, a grown-up child for the old.
		givens := origins[0].male
		if r.perMille(500) {
			givens = origins[0].female
		}
		age := ageOn(owner.BirthDate, g.d.reference)
		birth := owner.BirthDate.AddDate(-22-r.intn(14), 0, -r.intn(365))
		if age > 55 {
			birth = owner.BirthDate.AddDate(22+r.intn(14), 0, r.intn(365))
		}
		v.Holder = Person{GivenNames: pick(r, givens), FamilyName: owner.FamilyName, BirthDate: birth}
		if v.Holder.GivenNames == owner.GivenNames {
			v.Holder.GivenNames = pick(r, origins[0].female) + " " + pick(r, origins[0].male)
		}
	case holderCompany:
		v.Holder, v.Company = Person{FamilyName: pick(r, companies)}, true
	}
	suffix := ""
	switch {
	case vp.cat == catHistoric:
		suffix = "H"
	case m.fuel == "electric" && r.perMille(850), m.fuel == "plug-in-hybrid" && r.perMille(400):
		suffix = "E"
	}
	v.Plate = g.plate(r, district, suffix)
	return v
}

// plate hands out a new plate of the district: one or two letters, a
// number as long as the eight characters of the FZV allow.
func (g *generator) plate(r *rng, district, suffix string) Plate {
	for {
		nl := 2
		if r.perMille(150) {
			nl = 1
		}
		b := make([]byte, nl)
		for i := range b {
			b[i] = byte('A' + r.intn(26))
		}
		letters := string(b)
		if forbiddenLetters[letters] {
			continue
		}
		digits := min(4, MaxPlateChars-utf8.RuneCountInString(district)-nl)
		limit := 9
		for range digits - 1 {
			limit = limit*10 + 9
		}
		p := Plate{District: district, Letters: letters, Number: 1 + r.intn(limit), Suffix: suffix}
		if s := p.String(); !g.plates[s] {
			g.plates[s] = true
			return p
		}
	}
}

// expectFor says what the resident gets under the demo rules (see the
// Expect… constants), checked in this order.
func expectFor(res *DemoResident, ref time.Time) string {
	switch {
	case res.Blocked:
		return ExpectBlocked
	case ageOn(res.Person.BirthDate, ref) < 18:
		return ExpectMinor
	case res.Kind == Nebenwohnsitz:
		return ExpectSecondary
	case len(res.Vehicles) == 0:
		return ExpectNoVehicle
	}
	v := res.Vehicles[0]
	switch {
	case v.Decommissioned:
		return ExpectDecommissioned
	case v.Company:
		return ExpectCompanyCar
	case v.Holder != res.Person:
		return ExpectNotHolder
	case v.LengthMM > DemoMaxLengthMM:
		return ExpectTooLong
	case v.MassKg > DemoMaxMassKg:
		return ExpectTooHeavy
	}
	return ExpectEligible
}

// ageOn returns the age in completed years on day at.
func ageOn(birth, at time.Time) int {
	age := at.Year() - birth.Year()
	if at.Month() < birth.Month() || at.Month() == birth.Month() && at.Day() < birth.Day() {
		age--
	}
	return age
}

// addrPicker draws addresses without repetition (a lazy Fisher–Yates
// shuffle), starting over when all are used. Addresses without postcode
// or without a valid street and house number key are skipped.
type addrPicker struct {
	addrs []geo.Address
	perm  []int32
	pos   int
	r     *rng
}

func newAddrPicker(addrs []geo.Address, r *rng) addrPicker {
	perm := make([]int32, len(addrs))
	for i := range perm {
		perm[i] = int32(i)
	}
	return addrPicker{addrs: addrs, perm: perm, r: r}
}

// next returns an address and its key. The caller has made sure there is
// one with a postcode.
func (p *addrPicker) next() (geo.Address, string) {
	for tries := 0; ; tries++ {
		if p.pos == len(p.perm) {
			p.pos = 0
		}
		j := p.pos + p.r.intn(len(p.perm)-p.pos)
		p.perm[p.pos], p.perm[j] = p.perm[j], p.perm[p.pos]
		a := p.addrs[p.perm[p.pos]]
		p.pos++
		if a.Postcode == "" {
			continue
		}
		if key, ok := addressKey(a.Street, a.HouseNumber); ok {
			return a, key
		}
		if tries > 4*len(p.perm) {
			// Only addresses without a valid key: index under the raw
			// text, which no query finds, rather than loop for ever.
			return a, a.Street + "|" + a.HouseNumber
		}
	}
}
