// Package api holds the OpenAPI 3.1 document of the API (openapi.yaml, the
// one source) and the assets of the HTML reference served at /docs.
package api

import (
	"embed"
	"fmt"
	"sync"

	"github.com/goccy/go-yaml"
)

// YAML is the document as written.
//
//go:embed openapi.yaml
var YAML []byte

// JSON returns the document as JSON, converted on first use: it is what
// GET /openapi.json serves, and the document never changes at run time.
var JSON = sync.OnceValues(func() ([]byte, error) {
	out, err := yaml.YAMLToJSON(YAML)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml to JSON: %w", err)
	}
	return out, nil
})

// Docs holds the files of GET /docs: index.html and the assets it loads,
// which are served at /docs/NAME.
//
//go:embed docs/index.html docs/docs.js docs/swagger-ui-bundle.js docs/swagger-ui.css
var Docs embed.FS
