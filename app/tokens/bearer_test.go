package tokens

import (
	"strings"
	"testing"
)

func TestParseBearer(t *testing.T) {
	t.Parallel()
	const jwtLike = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln-_"
	longest := strings.Repeat("a", MaxTokenLen)
	cases := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Bearer " + jwtLike, jwtLike, true},
		{"bearer " + jwtLike, jwtLike, true},
		{"BEARER " + jwtLike, jwtLike, true},
		{"bEaReR x", "x", true},
		{"Bearer " + longest, longest, true},
		{"Bearer " + longest + "a", longest + "a", true}, // well-formed; Verify refuses its length
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearer  " + jwtLike, "", false},
		{"Bearer " + jwtLike + " ", "", false},
		{"Bearer " + jwtLike + " extra", "", false},
		{" Bearer " + jwtLike, "", false},
		{"Bearer\t" + jwtLike, "", false},
		{"Bearer:" + jwtLike, "", false},
		{"Bearerx " + jwtLike, "", false},
		{"Basic dXNlcjpwYXNz", "", false},
		{"Token " + jwtLike, "", false},
		{jwtLike, "", false},
		{"Bearer abc+def/ghi~==", "abc+def/ghi~==", true},
		{"Bearer ==", "", false},
		{"Bearer a=b", "", false},
		{"Bearer abc\x00", "", false},
		{"Bearer abc\n", "", false},
		{"Bearer é", "", false},
		{"Beare\u0280 x", "", false},
	}
	for _, c := range cases {
		got, ok := ParseBearer(c.header)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseBearer(%q) = %q, %v; want %q, %v", c.header, got, ok, c.want, c.ok)
		}
	}
}
