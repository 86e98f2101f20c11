package testdb

import "testing"

func TestWithDB(t *testing.T) {
	for _, tc := range []struct {
		base, db, user, password, want string
	}{
		{"postgres://su:pw@127.0.0.1:5433/postgres?sslmode=disable", "d1", "", "",
			"postgres://su:pw@127.0.0.1:5433/d1?sslmode=disable"},
		{"postgres://su:pw@127.0.0.1:5433/postgres?sslmode=disable", "d1", "app", "s3cret",
			"postgres://app:s3cret@127.0.0.1:5433/d1?sslmode=disable"},
		{"postgresql:///postgres?host=%2Ftmp%2Fx&user=su&dbname=postgres", "d1", "app", "p",
			"postgresql://app:p@/d1?host=%2Ftmp%2Fx"},
		{"host=localhost user=su dbname=postgres", "d1", "app", "it's",
			`host=localhost user=su dbname=postgres dbname='d1' user='app' password='it\'s'`},
		{"host=localhost user=su", "d1", "", "",
			`host=localhost user=su dbname='d1'`},
	} {
		got, err := withDB(tc.base, tc.db, tc.user, tc.password)
		if err != nil || got != tc.want {
			t.Errorf("withDB(%q, %q, %q, %q)\n got %q, %v\nwant %q", tc.base, tc.db, tc.user, tc.password, got, err, tc.want)
		}
	}
}
