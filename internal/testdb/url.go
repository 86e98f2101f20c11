package testdb

import (
	"fmt"
	"net/url"
	"strings"
)

// withDB returns base (a libpq URL or keyword/value connection string) with
// its database replaced by db and, when user is not empty, its user and
// password replaced by user and password.
func withDB(base, db, user, password string) (string, error) {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("testdb: parse URL: %w", err)
		}
		u.Path = "/" + db
		u.RawPath = ""
		q := u.Query()
		q.Del("dbname")
		if user != "" {
			q.Del("user")
			q.Del("password")
			if password != "" {
				u.User = url.UserPassword(user, password)
			} else {
				u.User = url.User(user)
			}
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	// Keyword/value form: later keywords override earlier ones.
	s := base + " dbname=" + quoteKV(db)
	if user != "" {
		s += " user=" + quoteKV(user)
		if password != "" {
			s += " password=" + quoteKV(password)
		}
	}
	return s, nil
}

// quoteKV quotes v as a value of a keyword/value connection string.
func quoteKV(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `\'`)
	return "'" + v + "'"
}

// socketURL is the URL of database db as user on the unix socket in dir.
func socketURL(dir, user, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(user),
		Path:     "/" + db,
		RawQuery: "host=" + url.QueryEscape(dir) + "&sslmode=disable",
	}
	return u.String()
}
