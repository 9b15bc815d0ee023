package registers

// The raw material of the demo population: names as Berlin's registers
// hold them (with ä, ö, ü, ß, ş, ł, đ and Vietnamese diacritics, particles,
// double and compound names) and vehicle models with typical dimensions.
// Any resemblance of a generated person to a real one is chance: names are
// combined at random.

// origin is a group of names that go together.
type origin struct {
	name          string
	weight        int // per mille of the random population
	female, male  []string
	family        []string
	femaleFamily  func(string) string // the female form of a family name (Polish -ska, Russian -owa), or nil
	secondGivenPM int                 // per mille with two given names
}

var origins = []origin{
	{
		name: "deutsch", weight: 660, secondGivenPM: 220,
		female: []string{
			"Ursula", "Brigitte", "Renate", "Helga", "Monika", "Karin", "Gisela", "Ingrid", "Bärbel", "Sabine",
			"Petra", "Andrea", "Claudia", "Susanne", "Birgit", "Kerstin", "Anja", "Katrin", "Nicole", "Stefanie",
			"Julia", "Katharina", "Anna", "Lena", "Laura", "Lea", "Sophie", "Marie", "Emma", "Mia", "Hannah",
			"Lina", "Ella", "Clara", "Charlotte", "Luise", "Frieda", "Greta", "Jördis", "Dörte", "Käthe",
			"Maren", "Wiebke", "Anke", "Silke", "Franziska", "Johanna", "Theresa", "Antje", "Gesine",
			"Rosemarie", "Hannelore", "Elfriede", "Gudrun", "Ilse", "Anna-Lena", "Marie-Luise", "Lisa-Marie",
			"Anne-Kathrin", "Maria", "Elisabeth", "Margarete",
		},
		male: []string{
			"Klaus", "Jürgen", "Günter", "Dieter", "Horst", "Wolfgang", "Manfred", "Peter", "Uwe", "Bernd",
			"Hans", "Rolf", "Jörg", "Frank", "Thomas", "Michael", "Andreas", "Stefan", "Matthias", "Markus",
			"Sven", "Torsten", "Jan", "Tobias", "Christian", "Sebastian", "Florian", "Lukas", "Felix", "Jonas",
			"Paul", "Leon", "Finn", "Noah", "Elias", "Ben", "Emil", "Anton", "Karl", "Friedrich", "Björn",
			"Sören", "Jörn", "Malte", "Ole", "Till", "Moritz", "Maximilian", "Konstantin", "Henning",
			"Karl-Heinz", "Hans-Jürgen", "Hans-Peter", "Klaus-Dieter", "Georg", "Johannes", "Wilhelm",
		},
		family: []string{
			"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
			"Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
			"Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner",
			"Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann",
			"König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller",
			"Weiß", "Jung", "Hahn", "Schubert", "Vogel", "Friedrich", "Keller", "Günther", "Frank", "Berger",
			"Winkler", "Roth", "Beck", "Lorenz", "Baumann", "Franke", "Albrecht", "Schuster", "Simon",
			"Ludwig", "Böhm", "Winter", "Kraus", "Martin", "Schumacher", "Krämer", "Vogt", "Stein", "Jäger",
			"Otto", "Sommer", "Groß", "Seidel", "Heinrich", "Brandt", "Haas", "Schreiber", "Graf", "Schulte",
			"Dietrich", "Ziegler", "Kuhn", "Kühn", "Pohl", "Engel", "Horn", "Busch", "Bergmann", "Voigt",
			"Sauer", "Arnold", "Wolff", "Pfeiffer", "Strauß", "Voß", "Preuß", "Heß", "Nußbaum", "Roßmann",
			"Kießling", "Lüdtke", "Dörr", "Fröhlich", "Brückner", "Gärtner", "Förster", "Hübner", "Göbel",
			"Rößler", "Jürgens", "Mühlberg", "Schütz", "Büttner", "Lüdenscheidt", "Große", "Süß",
		},
	},
	{
		name: "türkisch", weight: 80, secondGivenPM: 60,
		female: []string{"Ayşe", "Fatma", "Emine", "Zeynep", "Elif", "Merve", "Büşra", "Hülya", "Gülşen", "Özlem", "Derya", "Sevgi", "Yasemin"},
		male:   []string{"Mehmet", "Mustafa", "Ahmet", "Ali", "Hüseyin", "Emre", "Murat", "Can", "Burak", "Yusuf", "Kemal", "Ömer", "Serkan"},
		family: []string{"Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın", "Özdemir", "Arslan", "Doğan", "Kılıç", "Aslan", "Çetin", "Koç", "Kurt", "Özkan", "Şimşek", "Polat"},
	},
	{
		name: "arabisch", weight: 50, secondGivenPM: 80,
		female: []string{"Fatima", "Layla", "Amira", "Noor", "Yasmin", "Mariam", "Rania", "Huda", "Samira", "Aya"},
		male:   []string{"Mohammed", "Ahmad", "Omar", "Khaled", "Yusuf", "Ali", "Hassan", "Karim", "Samir", "Tarek", "Bilal"},
		family: []string{"Al-Hassan", "Haddad", "Khalil", "Nasser", "Saleh", "Abdullah", "Hamdan", "El-Sayed", "Mansour", "Al-Ahmad", "Ibrahim", "Youssef", "Abu-Zaid"},
	},
	{
		name: "polnisch", weight: 50, secondGivenPM: 40,
		female:       []string{"Agnieszka", "Katarzyna", "Małgorzata", "Joanna", "Magdalena", "Ewa", "Zofia", "Barbara", "Aleksandra"},
		male:         []string{"Łukasz", "Piotr", "Krzysztof", "Tomasz", "Paweł", "Michał", "Wojciech", "Marek", "Jakub"},
		family:       []string{"Kowalski", "Wiśniewski", "Lewandowski", "Kamiński", "Zieliński", "Szymański", "Nowak", "Wójcik", "Kowalczyk", "Mazur", "Krawczyk", "Dąbrowski", "Jankowski"},
		femaleFamily: polishFemale,
	},
	{
		name: "osteuropäisch", weight: 40, secondGivenPM: 0,
		female:       []string{"Olga", "Natalia", "Swetlana", "Irina", "Tetiana", "Oksana", "Jelena", "Anastasia", "Julija"},
		male:         []string{"Dmitri", "Sergej", "Alexander", "Oleksandr", "Wladimir", "Andrej", "Jewgeni", "Mykola", "Igor"},
		family:       []string{"Iwanow", "Petrow", "Smirnow", "Schewtschenko", "Kowalenko", "Bondarenko", "Tkatschenko", "Melnyk", "Kusnezow", "Wolkow"},
		femaleFamily: russianFemale,
	},
	{
		name: "vietnamesisch", weight: 30, secondGivenPM: 0, // the lists carry the middle name ("Thị", "Văn")
		female: []string{"Thị Lan", "Thị Hương", "Thị Mai", "Ngọc Anh", "Thu Trang", "Thị Hoa", "Lan", "Mai"},
		male:   []string{"Văn Minh", "Đức Anh", "Quang Huy", "Văn Hùng", "Minh Tuấn", "Thanh Long", "Minh", "Huy"},
		family: []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Nguyen", "Tran", "Pham"},
	},
	{
		name: "italienisch", weight: 20, secondGivenPM: 50,
		female: []string{"Giulia", "Francesca", "Chiara", "Sara", "Valentina", "Federica"},
		male:   []string{"Marco", "Luca", "Giuseppe", "Alessandro", "Matteo", "Niccolò"},
		family: []string{"Rossi", "Russo", "Esposito", "Romano", "De Luca", "Ferrari", "Bianchi", "Ricci", "Di Stefano", "Lo Presti", "Colombo"},
	},
	{
		name: "südosteuropäisch", weight: 30, secondGivenPM: 0,
		female: []string{"Ana", "Milica", "Ivana", "Maja", "Amra", "Emina", "Jovana", "Dragana"},
		male:   []string{"Milan", "Nikola", "Marko", "Dragan", "Emir", "Adnan", "Goran", "Dejan"},
		family: []string{"Jovanović", "Petrović", "Nikolić", "Kovačević", "Horvat", "Hodžić", "Begić", "Đorđević", "Babić", "Marić"},
	},
	{
		name: "westeuropäisch", weight: 40, secondGivenPM: 150,
		female: []string{"Sanne", "Femke", "Lotte", "María José", "Ana Paula", "Chloé", "Zoé", "Eleni", "Emily", "Siobhán", "Åsa", "Ingrid"},
		male:   []string{"Daan", "Bram", "Joost", "José", "João", "François", "Dimitrios", "James", "Seán", "Søren", "Lars"},
		family: []string{"van den Berg", "van der Meer", "de Vries", "de Jong", "van Dijk", "van de Velde", "García", "Fernández", "da Silva", "dos Santos", "Pereira", "Lefèvre", "Dubois", "Moreau", "Papadopoulos", "Georgiou", "O'Brien", "Smith", "McDonald", "Jørgensen", "Ångström", "Lindqvist"},
	},
}

func polishFemale(f string) string {
	for _, suf := range []string{"ski", "cki", "dzki"} {
		if len(f) > len(suf) && f[len(f)-len(suf):] == suf {
			return f[:len(f)-1] + "a"
		}
	}
	return f
}

func russianFemale(f string) string {
	if len(f) > 2 && (f[len(f)-2:] == "ow" || f[len(f)-2:] == "ew") {
		return f + "a"
	}
	return f
}

// German family names with a particle, as registers write them. A noble
// title is added to some in the generator ("Freiherr von …").
var particleFamilies = []string{
	"von Bülow", "von Arnim", "von der Heyde", "von Alvensleben", "zu Dohna", "von Rohr",
	"von der Schulenburg", "von Hagen", "von Trotha", "von Knobelsdorff", "vom Stein",
	"von Rochow", "von Oppen", "von Saldern", "von der Marwitz", "von Wedel",
}

var nobleFamilies = []string{"von und zu Egloffstein", "von und zu Aufseß", "von Richthofen", "von Stauffenberg"}

// vehicleModel is a type of vehicle with typical register data: length
// and width in mm, technically permissible maximum laden mass in kg.
type vehicleModel struct {
	name          string
	class         string
	length, width int
	mass          int
	fuel          string
}

type vehicleCategory uint8

const (
	catCar vehicleCategory = iota
	catElectric
	catPlugIn
	catMotorcycle
	catLong  // over 5.6 m
	catHeavy // over 3.5 t, not over 5.6 m
	catHistoric
)

var vehicleModels = map[vehicleCategory][]vehicleModel{
	catCar: {
		{"VW Golf", "M1", 4284, 1789, 1880, "petrol"},
		{"VW Golf Variant", "M1", 4633, 1789, 2000, "diesel"},
		{"VW Polo", "M1", 4074, 1751, 1650, "petrol"},
		{"Opel Corsa", "M1", 4060, 1765, 1650, "petrol"},
		{"Opel Astra", "M1", 4374, 1860, 1900, "petrol"},
		{"Škoda Octavia Combi", "M1", 4698, 1829, 2040, "diesel"},
		{"BMW 3er Touring", "M1", 4713, 1827, 2190, "diesel"},
		{"Mercedes-Benz E-Klasse T-Modell", "M1", 4949, 1880, 2550, "diesel"},
		{"Fiat 500", "M1", 3571, 1627, 1390, "petrol"},
		{"Toyota Yaris Hybrid", "M1", 3940, 1745, 1565, "hybrid"},
		{"Toyota Corolla Touring Sports", "M1", 4650, 1790, 1835, "hybrid"},
		{"Ford Focus", "M1", 4378, 1825, 1900, "petrol"},
		{"Renault Clio", "M1", 4053, 1798, 1650, "petrol"},
		{"Dacia Sandero", "M1", 4088, 1848, 1580, "lpg"},
		{"Hyundai i30", "M1", 4340, 1795, 1860, "petrol"},
		{"Mini Cooper", "M1", 3876, 1727, 1700, "petrol"},
		{"VW Passat Variant", "M1", 4917, 1849, 2300, "diesel"},
		{"Audi A6 Avant", "M1", 4939, 1886, 2440, "diesel"},
		{"VW Multivan", "M1", 4973, 1941, 3000, "diesel"},
		{"VW Caddy", "M1", 4500, 1855, 2300, "diesel"},
		{"Seat Leon", "M1", 4368, 1800, 1860, "petrol"},
		{"Dacia Duster", "M1", 4341, 1804, 1820, "lpg"},
		{"Ford Transit Custom", "N1", 5050, 1986, 3200, "diesel"},
		{"Mercedes-Benz S-Klasse lang", "M1", 5289, 1954, 2780, "petrol"},
	},
	catElectric: {
		{"Smart EQ fortwo", "M1", 2695, 1663, 1310, "electric"},
		{"VW ID.3", "M1", 4261, 1809, 2270, "electric"},
		{"Tesla Model 3", "M1", 4720, 1850, 2232, "electric"},
		{"Tesla Model Y", "M1", 4751, 1921, 2450, "electric"},
		{"Renault Zoe", "M1", 4087, 1787, 1988, "electric"},
		{"Hyundai Kona Elektro", "M1", 4205, 1800, 2170, "electric"},
		{"VW e-up!", "M1", 3600, 1645, 1530, "electric"},
		{"BMW i3", "M1", 4011, 1775, 1730, "electric"},
		{"Fiat 500e", "M1", 3632, 1683, 1690, "electric"},
		{"Kia EV6", "M1", 4680, 1880, 2500, "electric"},
	},
	catPlugIn: {
		{"Mitsubishi Outlander PHEV", "M1", 4709, 1862, 2390, "plug-in-hybrid"},
		{"VW Golf GTE", "M1", 4287, 1789, 2000, "plug-in-hybrid"},
		{"Volvo XC60 Recharge", "M1", 4708, 1902, 2650, "plug-in-hybrid"},
		{"BMW 330e Touring", "M1", 4713, 1827, 2325, "plug-in-hybrid"},
	},
	catMotorcycle: {
		{"Honda CB 125 R", "L3e", 2015, 820, 300, "petrol"},
		{"BMW R 1250 GS", "L3e", 2207, 952, 465, "petrol"},
		{"Vespa GTS 300", "L3e", 1950, 755, 370, "petrol"},
		{"Yamaha MT-07", "L3e", 2085, 780, 370, "petrol"},
	},
	catLong: {
		{"Mercedes-Benz Sprinter Kastenwagen lang", "N1", 6967, 2020, 3500, "diesel"},
		{"VW Crafter Kastenwagen", "N1", 5986, 2040, 3500, "diesel"},
		{"Ford Transit Kastenwagen L3", "N1", 5981, 2059, 3500, "diesel"},
		{"Wohnmobil auf Fiat Ducato", "M1", 6363, 2050, 3500, "diesel"},
		{"Ford F-150 Pick-up", "N1", 5885, 2029, 3100, "petrol"},
	},
	catHeavy: {
		{"Kastenwagen-Wohnmobil 4,1 t", "M1", 5410, 2050, 4100, "diesel"},
		{"Iveco Daily Kipper", "N2", 5480, 2050, 5200, "diesel"},
		{"Teilintegriertes Wohnmobil 3,85 t", "M1", 5450, 2120, 3850, "diesel"},
	},
	catHistoric: {
		{"Mercedes-Benz W123 (1980)", "M1", 4725, 1786, 1800, "diesel"},
		{"VW Käfer 1303 (1973)", "M1", 4140, 1585, 1200, "petrol"},
		{"Trabant 601 (1988)", "M1", 3555, 1504, 995, "petrol"},
		{"BMW 3er E30 (1988)", "M1", 4325, 1645, 1600, "petrol"},
		{"Porsche 911 Carrera (1987)", "M1", 4291, 1652, 1600, "petrol"},
	},
}

// companies hold company cars.
var companies = []string{
	"Spree Pflegedienst GmbH", "Kiezbäckerei Schulz OHG", "Beispiel Logistik GmbH",
	"Muster Haustechnik GmbH & Co. KG", "Demo Stadtwerke AG", "Havelland Sanitär GmbH",
}

// elsewhere is where people with a Nebenwohnsitz in Berlin may have their
// Hauptwohnsitz outside Berlin: a street, a real postcode and the district
// code their car is registered under.
var elsewhere = []struct {
	ref      AddressRef
	district string
}{
	{AddressRef{Street: "Lindenallee", HouseNumber: "4", Postcode: "20259"}, "HH"},
	{AddressRef{Street: "Am Brauhaus", HouseNumber: "12", Postcode: "01099"}, "DD"},
	{AddressRef{Street: "Kirchgasse", HouseNumber: "7", Postcode: "80331"}, "M"},
	{AddressRef{Street: "Rheinuferweg", HouseNumber: "21", Postcode: "50667"}, "K"},
	{AddressRef{Street: "Gartenstraße", HouseNumber: "3a", Postcode: "04109"}, "L"},
	{AddressRef{Street: "Neckarhalde", HouseNumber: "15", Postcode: "72070"}, "TÜ"},
	{AddressRef{Street: "Am Strande", HouseNumber: "9", Postcode: "18055"}, "HRO"},
}
