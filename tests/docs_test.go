package tests

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium finds Debian's Chromium; .ci/run installs it, so in CI its
// absence fails the test, elsewhere it skips it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH (.ci/run installs Debian's chromium)")
	}
	t.Skip("no chromium on PATH: apt-get install -y chromium")
	return ""
}

// A person opening /docs sees every operation of the document rendered,
// POST /auth/login among them, and the page breaks no rule of its CSP.
//
// Not parallel: Chromium takes both cores for seconds, which would push the
// bcrypt calls of parallel tests past their admission wait.
func TestDocsRenderEveryOperationInChromium(t *testing.T) {
	exe := chromium(t)
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	operations := 0
	for _, item := range c.doc.Paths.Map() {
		operations += len(item.Operations())
	}
	e := newEnv(t, nil)

	// The flags keep Chromium off the network: this machine has none, and
	// its background requests would only slow it down.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // root in CI
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 2000),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(ctx)
	defer cancelTab()

	var mu sync.Mutex
	var problems []string // CSP violations, script errors, failed loads
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Source == log.EntrySourceSecurity {
				problems = append(problems, string(ev.Entry.Source)+": "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text+" "+ev.ExceptionDetails.URL)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				problems = append(problems, "console.error")
			}
		}
	}); err != nil {
		t.Fatalf("chromium: %v", err)
	}

	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(e.URL+"/docs"),
		chromedp.WaitVisible(`.opblock-summary-path[data-path="/auth/login"]`),
	)
	if err != nil {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("chromium: %v; the page reported:\n%s", err, strings.Join(problems, "\n"))
	}
	// Swagger UI puts a method and a path side by side; its paths carry
	// zero-width spaces where lines may break.
	found, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll('.opblock')].some(b =>
		b.querySelector('.opblock-summary-method')?.textContent.trim() === 'POST' &&
		b.querySelector('.opblock-summary-path')?.textContent.replace(/\u200b/g, '').trim() === '/auth/login')`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	rendered, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.opblock').length`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	png := filepath.Join(t.TempDir(), "docs.png")
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("DOCS_SCREENSHOT"); p != "" { // to look at it: DOCS_SCREENSHOT=/tmp/docs.png
		_ = os.WriteFile(p, shot, 0o644)
	}
	if !found {
		t.Errorf("no POST /auth/login on the page")
	}
	if rendered != operations {
		t.Errorf("%d operations rendered, the document has %d", rendered, operations)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the page reported:\n%s", strings.Join(problems, "\n"))
	}
}

// The page and its assets allow no inline or evaluated script, no other
// origin and no framing: the browser test above proves the page needs none.
func TestDocsAnswerWithAStrictCSP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, path := range []string{"/docs", "/docs/docs.js", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"} {
		r := e.do("GET", path, nil)
		expect(t, r, http.StatusOK, "")
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.HasPrefix(csp, "default-src 'none';") || strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") ||
			!strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	expect(t, e.do("GET", "/docs/index.html", nil), http.StatusNotFound, "Not found")
	expect(t, e.do("GET", "/docs/SOURCE.md", nil), http.StatusNotFound, "Not found")
}
