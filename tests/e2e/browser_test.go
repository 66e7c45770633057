//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rowgate/rowgate/internal/devdb"
)

// screenshotPath is where TestWebPage saves what the first user sees, for
// the README. Every run rewrites it; with the same chromium and fonts the
// bytes stay the same (nothing on the page is random), so commit it when
// the page changes.
const screenshotPath = "docs/web-page.png"

// TestWebPage drives the page of examples/better-auth/public in Debian's
// chromium, headless, over the DevTools protocol: two users, each in a
// browser context of their own (own cookies, own cache), sign up, add,
// complete and delete todos, reload, sign out and in again, and each sees
// only their own todos. Then Alice creates an organization on the page and
// Bob joins it (an invitation through Better Auth's API, sent from each
// one's page): both switch to it and see its todos, Bob may complete
// Alice's todo there but not delete it, and each one's Personal list still
// shows only their own. The page is served by Better Auth and calls rowgate
// on another origin, so every call to rowgate is preceded by a CORS
// preflight, which the test watches on the network.
func TestWebPage(t *testing.T) {
	browser := chromiumPath(t)
	port, err := devdb.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	rowgateBase := "http://127.0.0.1:" + strconv.Itoa(port)
	ba := startOrgBetterAuth(t, "ROWGATE_URL="+rowgateBase)
	rg := startRowgate(t, wiredTo(ba), true, "LISTEN_ADDR=127.0.0.1:"+strconv.Itoa(port), "CORS_ALLOWED_ORIGINS="+ba.base)
	if rg.base != rowgateBase {
		t.Fatalf("rowgate listens on %s, want %s", rg.base, rowgateBase)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	browserCtx := startChromium(ctx, t, browser)
	alice := openPage(t, browserCtx, "alice", ba.base, rg.base)
	bob := openPage(t, browserCtx, "bob", ba.base, rg.base)

	alice.signUp("Alice", "alice@example.com")
	bob.signUp("Bob", "bob@example.com")
	for _, title := range []string{"Buy milk", "Water the plants", "Write the report"} {
		alice.add(title)
	}
	bob.add("Fix the bike")
	alice.complete("Buy milk")
	alice.delete("Water the plants")

	wantAlice := []todoRow{{"Write the report", false}, {"Buy milk", true}}
	wantBob := []todoRow{{"Fix the bike", false}}
	alice.expectTodos(wantAlice)
	bob.expectTodos(wantBob)

	// What the page shows is what rowgate keeps for each user.
	alice.reload()
	bob.reload()
	alice.expectTodos(wantAlice)
	bob.expectTodos(wantBob)

	// Bob cannot reach Alice's todo by its id either.
	if status := bob.fetchStatus("DELETE", "/v1/todos/"+alice.todoID("Buy milk")); status != 404 {
		t.Errorf("bob deleting alice's todo by id: %d, want 404", status)
	}

	bob.signOut()
	bob.signIn("bob@example.com")
	bob.expectTodos(wantBob)

	// An organization: Alice creates it and a todo in it; Bob joins and
	// reloads, which lists it beside Personal.
	alice.createOrganization("Acme")
	alice.expectScopes("Personal", "Acme (owner)")
	alice.expectTodos(nil)
	alice.add("Plan the offsite")
	inv := alice.authPost("/organization/invite-member",
		map[string]any{"email": "bob@example.com", "role": "member", "organizationId": alice.scope()})
	bob.authPost("/organization/accept-invitation", map[string]any{"invitationId": inv["id"]})
	bob.reload()
	bob.expectScopes("Personal", "Acme (member)")
	bob.expectTodos(wantBob)
	// Both work in the organization's list; Personal lists stay apart.
	bob.switchTo("Acme (member)")
	bob.expectTodos([]todoRow{{"Plan the offsite", false}})
	bob.add("Book the venue")
	bob.complete("Plan the offsite")
	bob.deleteRefused("Plan the offsite", "only its creator, or an owner or admin of its organization, may delete it")
	wantAcme := []todoRow{{"Book the venue", false}, {"Plan the offsite", true}}
	bob.expectTodos(wantAcme)
	bob.switchTo("Personal")
	bob.expectTodos(wantBob)
	alice.switchTo("Personal")
	alice.expectTodos(wantAlice)
	alice.switchTo("Acme (owner)")
	alice.expectTodos(wantAcme)

	alice.screenshot(filepath.Join(env.root, screenshotPath))
	alice.expectPreflights("GET", "POST", "PATCH", "DELETE")
	bob.expectPreflights("GET", "POST", "PATCH", "DELETE")
	alice.expectNoErrors()
	bob.expectNoErrors()
}

// chromiumPath returns Debian's chromium, and skips the test without it,
// except in CI (CI set), where it fails.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium is not installed (Debian/Ubuntu: apt-get install chromium)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI must run the browser test")
	}
	t.Skip(msg)
	return ""
}

// startChromium starts a headless chromium with a fresh profile and
// returns a context for it; the browser ends with the test. Background
// networking, component updates and sync are off: the browser talks only
// to the servers of the test.
func startChromium(ctx context.Context, t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(900, 640),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return browser
}
