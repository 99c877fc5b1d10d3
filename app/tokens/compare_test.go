package tokens

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// notSecrets are the comparisons of two variable strings this package may
// make, by their source text, with the reason.
var notSecrets = map[string]string{
	"filepath.Clean(privPath) == filepath.Clean(pubPath)": "two file paths",
}

// Token material (tokens, their hashes, MACs, key ids, signatures) must be
// compared in constant time: == and != on strings or byte arrays stop at the
// first differing byte, which lets an attacker time a guess byte by byte.
// This type-checks the package's own code and refuses == and != between two
// operands that are both variable (neither a constant nor nil) when they are
// strings or arrays, and bytes.Equal; use crypto/subtle or hmac.Equal.
func TestNoVariableTimeComparisonsOfStrings(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	var files []*ast.File
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	for _, bad := range variableTimeComparisons(t, fset, files) {
		t.Errorf("%s: %s compares secrets in variable time; use crypto/subtle", bad.pos, bad.expr)
	}
}

// The check itself finds what it is for.
func TestTheComparisonCheckFindsStringEquality(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "bad.go", `package tokens
import "bytes"
func a(x, y string) bool { return x == y }
func b(x, y [32]byte) bool { return x != y }
func c(x, y []byte) bool { return bytes.Equal(x, y) }
func ok(x string, n int) bool { return x == "" || x != "RS256" || n == len(x) }
`, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := variableTimeComparisons(t, fset, []*ast.File{f})
	if len(got) != 3 {
		t.Fatalf("found %v, want the three in a, b and c", got)
	}
}

type comparison struct {
	pos  token.Position
	expr string
}

// variableTimeComparisons type-checks files as one package, importing its
// dependencies from the build's export data, and returns the comparisons
// that may take time depending on a secret.
func variableTimeComparisons(t *testing.T, fset *token.FileSet, files []*ast.File) []comparison {
	t.Helper()
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Uses: map[*ast.Ident]types.Object{}}
	exports, err := exportData()
	if err != nil {
		t.Fatal(err)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("%s: no export data", path)
		}
		return os.Open(file)
	})}
	if _, err := conf.Check("apisec/app/tokens", fset, files, info); err != nil {
		t.Fatal(err)
	}
	variable := func(e ast.Expr) bool {
		tv := info.Types[e]
		if tv.Value != nil || tv.IsNil() {
			return false
		}
		switch u := tv.Type.Underlying().(type) {
		case *types.Basic:
			return u.Info()&types.IsString != 0
		case *types.Array:
			return true
		}
		return false
	}
	var found []comparison
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BinaryExpr:
				if (n.Op == token.EQL || n.Op == token.NEQ) && variable(n.X) && variable(n.Y) {
					found = append(found, comparison{fset.Position(n.Pos()), types.ExprString(n)})
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
					if fn, ok := info.Uses[sel.Sel].(*types.Func); ok && fn.Pkg() != nil && fn.Pkg().Path() == "bytes" && fn.Name() == "Equal" {
						found = append(found, comparison{fset.Position(n.Pos()), types.ExprString(n)})
					}
				}
			}
			return true
		})
	}
	kept := found[:0]
	for _, c := range found {
		if _, ok := notSecrets[c.expr]; !ok {
			kept = append(kept, c)
		}
	}
	return kept
}

// exportData maps each dependency of this package to its compiled export
// data, which `go list -export` builds (from the build cache when warm).
var exportData = sync.OnceValues(func() (map[string]string, error) {
	out, err := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}={{.Export}}", ".").Output()
	if err != nil {
		return nil, fmt.Errorf("go list -export: %w", err)
	}
	files := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, file, ok := strings.Cut(line, "="); ok && file != "" {
			files[path] = file
		}
	}
	return files, nil
})
