package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/url"
	"strings"

	"opencode.de/rathaus/rathaus/internal/demo"
)

// requestPaths builds lookup URLs from the real address points of the demo:
// each as the register spells it and in a variant a user would type.
func requestPaths(ars, kind string) ([]string, error) {
	r := csv.NewReader(bytes.NewReader(demo.Addresses()))
	rows, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	var paths []string
	prefix := "/api/v1/municipalities/" + ars + "/zone-lookup?"
	for i, row := range rows {
		if i == 0 || len(row) < 10 || row[0] == "" || row[1] == "" {
			continue
		}
		number, street, postcode, lon, lat := row[0], row[1], strings.TrimSuffix(row[2], ".0"), row[8], row[9]
		switch kind {
		case "point":
			paths = append(paths, prefix+url.Values{"lat": {lat}, "lon": {lon}}.Encode())
		default:
			text := street + " " + number
			if postcode != "" {
				text += ", " + postcode
			}
			if i%2 == 0 {
				text = strings.ToLower(strings.Replace(text, "straße", "str.", 1))
			}
			paths = append(paths, prefix+url.Values{"address": {text}}.Encode())
		}
		if len(paths) >= 5000 {
			break
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no addresses in the demo data")
	}
	return paths, nil
}
