package store

import (
	"net/url"
	"strings"
)

// redacted replaces a data source name that Redact cannot take apart with
// certainty.
const redacted = "[redacted]"

// secretMask replaces a password.
const secretMask = "xxxxx"

// Redact returns a database URL or key/value DSN fit for logs and messages:
// it never contains a password. It does not rely on the input being valid —
// a URL that fails to parse is exactly the one an error message quotes —
// so it works on the raw text:
//
//   - in "scheme://USERINFO@host/…", USERINFO ends at the last '@', because
//     an unencoded password may hold '#', '/', '?' or '@'; from the first ':'
//     on it is masked;
//   - query parameters and key/value pairs whose (decoded) key contains
//     "password" are masked;
//   - whatever it cannot take apart with certainty becomes "[redacted]".
//
// SQLite URLs carry no credentials and come back unchanged.
func Redact(dsn string) string {
	if strings.HasPrefix(dsn, "sqlite:") {
		return dsn
	}
	if scheme, rest, ok := strings.Cut(dsn, "://"); ok && isScheme(scheme) {
		return redactURL(scheme, rest)
	}
	if strings.Contains(dsn, "=") {
		return redactKeyValues(dsn)
	}
	if strings.Contains(dsn, "@") { // "postgres:/app:pw@db" and other near-URLs
		return redacted
	}
	return dsn
}

func redactURL(scheme, rest string) string {
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	tail := rest
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		userinfo := rest[:at]
		user, _, hasPassword := strings.Cut(userinfo, ":")
		if strings.ContainsAny(user, "/?#") {
			// The '@' is not part of the authority (an '@' in the path or
			// query); where the userinfo ends is guesswork.
			return redacted
		}
		b.WriteString(user)
		if hasPassword {
			b.WriteString(":" + secretMask)
		}
		b.WriteByte('@')
		tail = rest[at+1:]
	}
	hosts, after, _ := cutAny(tail, "/?#")
	if !plainHosts(hosts) {
		// "postgres://app:secret" without host: the password would pass for
		// a port.
		return redacted
	}
	b.WriteString(hosts)
	path, query, hasQuery := strings.Cut(after, "?")
	b.WriteString(path)
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(redactQuery(query))
	}
	return b.String()
}

// cutAny cuts s before the first byte of chars; after keeps that byte.
func cutAny(s, chars string) (before, after string, found bool) {
	if i := strings.IndexAny(s, chars); i >= 0 {
		return s[:i], s[i:], true
	}
	return s, "", false
}

// redactQuery masks the values of password parameters. The whole rest of
// the URL counts as query, fragment included: a '#' in a password value
// would otherwise leave its tail visible.
func redactQuery(q string) string {
	var b strings.Builder
	for len(q) > 0 {
		param, rest, sep := cutAny(q, "&;")
		key, _, hasValue := strings.Cut(param, "=")
		if hasValue && isSecretKey(key) {
			b.WriteString(key + "=" + secretMask)
		} else {
			b.WriteString(param)
		}
		if sep {
			b.WriteByte(rest[0])
			rest = rest[1:]
		}
		q = rest
	}
	return b.String()
}

// isSecretKey reports whether a parameter named key (as written, possibly
// percent-encoded) may hold a secret. A key that does not decode counts as
// secret.
func isSecretKey(key string) bool {
	k, err := url.QueryUnescape(key)
	if err != nil {
		return true
	}
	k = strings.ToLower(k)
	return strings.Contains(k, "password") || k == "sslkey"
}

// plainHosts reports whether s is an empty host or a comma-separated list
// of host[:port] with a numeric port, IPv6 addresses in brackets.
func plainHosts(s string) bool {
	if s == "" {
		return true
	}
	for _, hp := range strings.Split(s, ",") {
		host, port := hp, ""
		if strings.HasPrefix(hp, "[") {
			end := strings.IndexByte(hp, ']')
			if end < 0 {
				return false
			}
			host, port = hp[1:end], hp[end+1:]
			if !onlyChars(host, "0123456789abcdefABCDEF:.%") {
				return false
			}
			if port != "" {
				if port[0] != ':' {
					return false
				}
				port = port[1:]
			}
		} else {
			host, port, _ = strings.Cut(hp, ":")
			if !isHostname(host) {
				return false
			}
		}
		if !onlyChars(port, "0123456789") {
			return false
		}
	}
	return true
}

func isHostname(s string) bool {
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func onlyChars(s, chars string) bool {
	for _, c := range s {
		if !strings.ContainsRune(chars, c) {
			return false
		}
	}
	return true
}

func isScheme(s string) bool {
	if s == "" || !('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z') {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// redactKeyValues masks the password values of a libpq key/value DSN
// ("host=db password='s3 cret'"). Values are taken apart as libpq does:
// single-quoted with backslash escapes, or up to the next space.
func redactKeyValues(s string) string {
	var pairs []string
	i := 0
	skipSpace := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	for {
		skipSpace()
		if i == len(s) {
			break
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		skipSpace()
		if i == len(s) || s[i] != '=' || key == "" {
			return redacted
		}
		i++
		skipSpace()
		start = i
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(s) {
				return redacted // unterminated quote
			}
			i++
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			i = min(i, len(s))
		}
		value := s[start:i]
		if isSecretKey(key) {
			value = secretMask
		}
		pairs = append(pairs, key+"="+value)
	}
	return strings.Join(pairs, " ")
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// urlPassword returns the password of a URL as Redact sees it: after the
// first ':' of everything between "://" and the last '@', percent-decoded.
// ok is false when the URL has no password there.
func urlPassword(rawURL string) (password string, ok bool) {
	_, rest, isURL := strings.Cut(rawURL, "://")
	at := strings.LastIndexByte(rest, '@')
	if !isURL || at < 0 {
		return "", false
	}
	_, pw, ok := strings.Cut(rest[:at], ":")
	if !ok {
		return "", false
	}
	if dec, err := url.PathUnescape(pw); err == nil {
		return dec, true
	}
	return pw, true
}
