//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// page is one user's tab, in a browser context of its own, with what it
// sent and received on the network and the errors it reported.
type page struct {
	t       *testing.T
	ctx     context.Context
	name    string
	origin  string // the page's origin: Better Auth's
	rowgate string // rowgate's origin

	mu        sync.Mutex
	requests  []*netRequest // in the order the browser reported them
	byID      map[network.RequestID]*netRequest
	responses int // responses received so far
	errors    []string
}

// netRequest is one request as the DevTools protocol reported it.
type netRequest struct {
	method, url string
	preflight   bool              // sent by the browser itself for CORS
	header      map[string]string // lower-case names
	status      int64             // 0 until a response arrived
	respHeader  map[string]string // lower-case names
	respOrder   int               // responses received before this one
}

// openPage opens origin in a new browser context (cookies, storage and the
// CORS preflight cache of its own) and waits for the sign-in forms.
func openPage(t *testing.T, browser context.Context, name, origin, rowgate string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &page{t: t, ctx: ctx, name: name, origin: origin, rowgate: rowgate, byID: map[network.RequestID]*netRequest{}}
	// Listen opens the tab, which enables the network, log and runtime
	// domains, before the page loads.
	if err := chromedp.Listen(ctx, p.record); err != nil {
		t.Fatalf("%s: open a tab: %v", name, err)
	}
	p.must("open the page", chromedp.Navigate(origin+"/"), chromedp.WaitVisible(chromedp.CSS("#auth")))
	return p
}

// record keeps network events and errors; it runs on chromedp's event
// loop, so it only stores.
func (p *page) record(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		r := &netRequest{method: ev.Request.Method, url: ev.Request.URL, header: lower(ev.Request.Headers),
			preflight: ev.Initiator != nil && ev.Initiator.Type == network.InitiatorTypePreflight}
		p.requests = append(p.requests, r)
		p.byID[ev.RequestID] = r
	case *network.EventResponseReceived:
		if r := p.byID[ev.RequestID]; r != nil {
			r.status, r.respHeader, r.respOrder = ev.Response.Status, lower(ev.Response.Headers), p.responses
		}
		p.responses++
	case *runtime.EventExceptionThrown:
		p.errors = append(p.errors, fmt.Sprintf("exception: %s %s", ev.ExceptionDetails.Text, ev.ExceptionDetails.URL))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var args []string
			for _, a := range ev.Args {
				args = append(args, a.Description+string(a.Value))
			}
			p.errors = append(p.errors, "console.error: "+strings.Join(args, " "))
		}
	case *log.EventEntryAdded:
		// The network source reports every 4xx, which the test causes on
		// purpose (401 before sign-in, 404 for another user's todo).
		if ev.Entry.Level == log.EntryLevelError && ev.Entry.Source != log.EntrySourceNetwork {
			p.errors = append(p.errors, fmt.Sprintf("%s: %s", ev.Entry.Source, ev.Entry.Text))
		}
	}
}

func lower(h network.Headers) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = fmt.Sprint(v)
	}
	return out
}

// must runs actions in the tab and fails the test on error.
func (p *page) must(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.mu.Lock()
		errs := slices.Clone(p.errors)
		p.mu.Unlock()
		p.t.Fatalf("%s: %s: %v\nstatus line: %q\npage errors: %q", p.name, what, err, p.status(), errs)
	}
}

// waitFor waits until the JavaScript expression js is true.
func waitFor(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(20*time.Second))
}

// evaluate runs the JavaScript expression js in the tab and returns its
// value; an error fails the test.
func evaluate[T any](p *page, what, js string, opts ...chromedp.EvaluateOption) T {
	p.t.Helper()
	return evaluateAction(p, what, chromedp.Evaluate[T](js, opts...))
}

func evaluateAction[T any](p *page, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, a)
	if err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, what, err)
	}
	return v
}

func (p *page) status() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("status")?.textContent ?? ""`))
	return s
}

// listed is true when the list is loaded and shows title.
func listed(title string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("#todo-list li span")].some(s => s.textContent === %s)`, strconv.Quote(title))
}

const (
	password   = "correct-horse-battery"
	listLoaded = `document.getElementById("todo-list").getAttribute("aria-busy") === "false"`
)

func signedInAs(email string) string {
	return fmt.Sprintf(`!document.getElementById("todos").hidden && document.getElementById("who-email").textContent === %s && %s`,
		strconv.Quote(email), listLoaded)
}

func (p *page) signUp(name, email string) {
	p.t.Helper()
	p.must("sign up",
		chromedp.SendKeys(chromedp.CSS("#sign-up-name"), name),
		chromedp.SendKeys(chromedp.CSS("#sign-up-email"), email),
		chromedp.SendKeys(chromedp.CSS("#sign-up-password"), password),
		chromedp.Click(chromedp.CSS("#sign-up button[type=submit]")),
		waitFor(signedInAs(email)),
	)
}

func (p *page) signIn(email string) {
	p.t.Helper()
	p.must("sign in",
		chromedp.SendKeys(chromedp.CSS("#sign-in-email"), email),
		chromedp.SendKeys(chromedp.CSS("#sign-in-password"), password),
		chromedp.Click(chromedp.CSS("#sign-in button[type=submit]")),
		waitFor(signedInAs(email)),
	)
}

func (p *page) signOut() {
	p.t.Helper()
	p.must("sign out",
		chromedp.Click(chromedp.CSS("#sign-out")),
		chromedp.WaitVisible(chromedp.CSS("#auth")),
		waitFor(`document.getElementById("todo-list").children.length === 0`),
	)
}

func (p *page) reload() {
	p.t.Helper()
	p.must("reload", chromedp.Reload(), waitFor(`!document.getElementById("todos").hidden && `+listLoaded))
}

// add types title into the new-todo field and presses Enter.
func (p *page) add(title string) {
	p.t.Helper()
	p.must("add "+title,
		chromedp.SendKeys(chromedp.CSS("#new-todo-title"), title+"\r"),
		waitFor(listed(title)),
	)
}

// complete ticks the checkbox whose label is title.
func (p *page) complete(title string) {
	p.t.Helper()
	box := fmt.Sprintf(`//li/label[span=%s]/input[@type="checkbox"]`, strconv.Quote(title))
	p.must("complete "+title,
		chromedp.Click(chromedp.Search(box)),
		waitFor(fmt.Sprintf(`[...document.querySelectorAll("#todo-list li.done span")].some(s => s.textContent === %s)`, strconv.Quote(title))),
	)
}

// delete presses the button named "Delete “title”".
func (p *page) delete(title string) {
	p.t.Helper()
	p.must("delete "+title,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label=%s]`, strconv.Quote("Delete “"+title+"”")))),
		waitFor("!"+listed(title)),
	)
}

// todoRow is a todo as the page shows it.
type todoRow struct {
	Title string `json:"title"`
	Done  bool   `json:"done"`
}

func (p *page) todos() []todoRow {
	p.t.Helper()
	return evaluate[[]todoRow](p, "read the list", `[...document.querySelectorAll("#todo-list li")].map(li => ({
		title: li.querySelector("span").textContent,
		done: li.classList.contains("done") && li.querySelector("input").checked,
	}))`)
}

func (p *page) expectTodos(want []todoRow) {
	p.t.Helper()
	if got := p.todos(); !slices.Equal(got, want) {
		p.t.Errorf("%s sees %v, want %v", p.name, got, want)
	}
}

// todoID is the id of the todo the page shows as title.
func (p *page) todoID(title string) string {
	p.t.Helper()
	id := evaluate[string](p, "read an id", fmt.Sprintf(
		`[...document.querySelectorAll("#todo-list li")].find(li => li.querySelector("span").textContent === %s)?.dataset.id ?? ""`,
		strconv.Quote(title)))
	if id == "" {
		p.t.Fatalf("%s: no todo %q on the page", p.name, title)
	}
	return id
}

// fetchStatus sends method path to rowgate from the page, with a JWT of
// the page's session, and returns the status.
func (p *page) fetchStatus(method, path string) int {
	p.t.Helper()
	js := fmt.Sprintf(`(async () => {
		const { token } = await (await fetch("/api/auth/token")).json();
		const res = await fetch(%s, { method: %s, headers: { authorization: "Bearer " + token } });
		return res.status;
	})()`, strconv.Quote(p.rowgate+path), strconv.Quote(method))
	return evaluate[int](p, method+" "+path, js, chromedp.EvalAwaitPromise)
}

// screenshot saves the tab's viewport as a PNG.
func (p *page) screenshot(path string) {
	p.t.Helper()
	// No focus, so no blinking caret: the same page gives the same picture.
	evaluate[chromedp.Void](p, "blur", `document.activeElement?.blur()`)
	png := evaluateAction(p, "screenshot", chromedp.CaptureScreenshot())
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("saved %s (%d bytes)", path, len(png))
}

func (p *page) expectNoErrors() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.errors {
		p.t.Errorf("%s's page reported %s", p.name, e)
	}
}

// scopeLoaded is true when the scope selector shows label and the list of
// that scope is loaded.
func scopeLoaded(label string) string {
	return fmt.Sprintf(`(s => s.options[s.selectedIndex]?.text === %s)(document.getElementById("scope")) && %s`,
		strconv.Quote(label), listLoaded)
}

// createOrganization types name into the new-organization field and
// presses Enter; the page then shows that organization's (empty) list,
// with the user as its owner.
func (p *page) createOrganization(name string) {
	p.t.Helper()
	p.must("create organization "+name,
		chromedp.SendKeys(chromedp.CSS("#new-org-name"), name+"\r"),
		waitFor(scopeLoaded(name+" (owner)")),
	)
}

// switchTo picks the scope whose option reads label, as choosing it in the
// selector does (the value changes, then a change event), and waits for
// its list. (Typing the label into the focused selector works too, but
// Chrome's type-ahead joins keys typed within a second of each other.)
func (p *page) switchTo(label string) {
	p.t.Helper()
	pick := fmt.Sprintf(`(s => {
		const o = [...s.options].find(o => o.text === %s);
		if (!o) return false;
		s.value = o.value;
		s.dispatchEvent(new Event("change", { bubbles: true }));
		return true;
	})(document.getElementById("scope"))`, strconv.Quote(label))
	if !evaluate[bool](p, "switch to "+label, pick) {
		p.t.Fatalf("%s: no scope %q to switch to", p.name, label)
	}
	p.must("switch to "+label, waitFor(scopeLoaded(label)))
}

// scope returns the value of the selected scope: "" for Personal, else
// the organization's id.
func (p *page) scope() string {
	p.t.Helper()
	return evaluate[string](p, "read the scope", `document.getElementById("scope").value`)
}

func (p *page) expectScopes(want ...string) {
	p.t.Helper()
	got := evaluate[[]string](p, "read the scopes", `[...document.getElementById("scope").options].map(o => o.text)`)
	if !slices.Equal(got, want) {
		p.t.Errorf("%s can pick %q, want %q", p.name, got, want)
	}
}

// deleteRefused presses the button named "Delete “title”", which rowgate
// refuses: the status line must show an error containing reason, and the
// todo must stay.
func (p *page) deleteRefused(title, reason string) {
	p.t.Helper()
	p.must("delete "+title+" (refused)",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label=%s]`, strconv.Quote("Delete “"+title+"”")))),
		waitFor(fmt.Sprintf(`(s => s.classList.contains("error") && s.textContent.includes(%s))(document.getElementById("status"))`,
			strconv.Quote(reason))),
	)
	if !evaluate[bool](p, "find "+title, listed(title)) {
		p.t.Errorf("%s: the refused delete removed %q from the page", p.name, title)
	}
}

// authPost posts body to Better Auth's /api/auth+path from the page, with
// the page's session cookie, and returns the JSON answer; anything but 200
// fails the test.
func (p *page) authPost(path string, body map[string]any) map[string]any {
	p.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		p.t.Fatal(err)
	}
	js := fmt.Sprintf(`(async () => {
		const res = await fetch("/api/auth" + %s, { method: "POST", headers: { "content-type": "application/json" }, body: %s });
		return { status: res.status, body: await res.json().catch(() => null) };
	})()`, strconv.Quote(path), strconv.Quote(string(raw)))
	res := evaluate[struct {
		Status int            `json:"status"`
		Body   map[string]any `json:"body"`
	}](p, "POST "+path, js, chromedp.EvalAwaitPromise)
	if res.Status != 200 {
		p.t.Fatalf("%s: POST /api/auth%s: %d %v", p.name, path, res.Status, res.Body)
	}
	return res.Body
}
