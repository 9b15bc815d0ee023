// Package rules holds one municipality's rules for the Bewohnerparkausweis
// (residential parking permit) and its fee schedule, both as dated versions
// with their legal source, and evaluates an application against them.
//
// A municipality's configuration is a JSON file (see municipalities/ for the
// shipped ones). Load reads it strictly — unknown fields, wrong types,
// amounts that are not whole cents and contradictory versions are rejected,
// each error naming the path of the field at fault, e.g.
// "fees[1].tiers[0].amount_cents" — and returns warnings for what is legally
// doubtful but not malformed: fees set by a Satzung instead of a
// Rechtsverordnung, social or climate reductions, and tiers where a slightly
// larger vehicle pays at least double (all three after BVerwG, Urteil vom
// 13.06.2023 – 9 CN 2.22, Freiburg).
//
// Versions are open-ended: each runs from its ValidFrom until the next one
// starts. RulesAt and FeesAt pick the version in force on a day; an
// application is priced by the fee version in force on the day it was made.
//
// RuleSet.Evaluate checks the facts of one application (gathered by the
// caller from the registers and the form) rule by rule and returns a trace:
// every result names its rule, a German reason for the citizen and the clerk,
// and its legal source, so that a refusal can state its reasons (§ 39 VwVfG).
// Only a clean pass under a rule set whose automation has a legal basis
// (§ 35a VwVfG) is marked automatic; everything else goes to a clerk.
//
// The package deliberately does not fetch register data, look up zones,
// store anything, talk HTTP or know the clock: it is pure functions over
// values, so the same facts give the same outcome in a test, in the demo and
// in a court file. Reductions are recorded and warned about, never applied.
package rules
