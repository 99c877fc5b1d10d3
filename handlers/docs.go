package handlers

import (
	"io/fs"
	"mime"
	"net/http"
	"path"

	"github.com/gin-gonic/gin"

	"apisec/app/errs"
	"apisec/middleware"
)

// DocsCSP allows exactly what the Swagger UI page needs: its own scripts and
// styles, the document from this origin (and "Try it out" calls to it), and
// the data: images its stylesheet inlines. Nothing may frame it.
const DocsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Docs serves the OpenAPI document and the HTML reference rendered from it.
type Docs struct {
	Spec  []byte // the document as JSON
	Files fs.FS  // index.html and the assets under docs/
}

// OpenAPI answers the document.
func (d *Docs) OpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json; charset=utf-8", d.Spec)
}

// Page answers the HTML reference.
func (d *Docs) Page(c *gin.Context) { d.serve(c, "index.html") }

// Asset answers one file the page loads; index.html is the page's own route.
func (d *Docs) Asset(c *gin.Context) {
	if name := c.Param("asset"); name != "index.html" {
		d.serve(c, name)
		return
	}
	middleware.Abort(c, errs.ErrNotFound)
}

func (d *Docs) serve(c *gin.Context, name string) {
	body, err := fs.ReadFile(d.Files, path.Join("docs", name))
	if err != nil {
		middleware.Abort(c, errs.ErrNotFound)
		return
	}
	c.Header("Content-Security-Policy", DocsCSP)
	c.Header("Cache-Control", "public, max-age=300") // changes only with the binary
	c.Data(http.StatusOK, mime.TypeByExtension(path.Ext(name)), body)
}
