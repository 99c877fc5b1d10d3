package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// Adding a setting is a line in Load plus its line in .env.example and its
// row in the README's Configuration table: this finds every variable Load
// reads (the rate limiters' too) and fails on one either file lacks.
func TestEverySettingIsInEnvExampleAndTheReadme(t *testing.T) {
	t.Parallel()
	var read []string
	if _, err := Load(func(k string) string { read = append(read, k); return "" }); err != nil {
		t.Fatal(err)
	}
	if len(read) < 40 {
		t.Fatalf("Load read only %d variables: %v", len(read), read)
	}
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range read {
		if !regexp.MustCompile(`(?m)^(# )?` + k + `=`).Match(example) {
			t.Errorf(".env.example has no line %s=… (commented out if it has no default)", k)
		}
		if !strings.Contains(string(readme), "`"+k+"`") {
			t.Errorf("README.md's Configuration table does not name `%s`", k)
		}
	}
}
