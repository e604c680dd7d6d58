package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// A screen the layout test looks at the app on.
type screen struct {
	name          string
	width, height int64
	phone         bool
	doc           string // with UPDATE_DOCS=1, the logged-in home page is saved here
}

var screens = []screen{
	{name: "phone", width: 390, height: 844, phone: true, doc: "example-phone.png"},
	{name: "desktop", width: 1000, height: 800, doc: "example.png"},
}

// TestBrowserLayout opens every page, logged out and logged in, on a phone
// (390 px, as an iPhone 14) and on a desktop, and checks what a user would
// see go wrong: a page that scrolls sideways, a navigation item or a button
// broken over lines, the brand against the top edge, flash banners wider
// than the card under them.
//
// With UPDATE_DOCS=1 it also refreshes ../docs/example.png and
// ../docs/example-phone.png, the README's pictures of the app.
func TestBrowserLayout(t *testing.T) {
	app := startApp(t, nil)
	ctx := newBrowser(t)
	for _, sc := range screens {
		t.Run(sc.name, func(t *testing.T) {
			// Two more devices, so that the sessions page has rows with buttons.
			loginElsewhere(t, app, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0")
			loginElsewhere(t, app, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")
			u := newUser(t, ctx, app)
			opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
			if sc.phone {
				opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))
			}
			u.run("set the screen", chromedp.EmulateViewport(sc.width, sc.height, opts...))
			defer u.run("reset the screen", chromedp.ResetViewport())
			layoutFlow(t, u, sc)
		})
	}
}

func layoutFlow(t *testing.T, u *user, sc screen) {
	// Logged out, with something in the cart so that its table shows.
	u.visit("/")
	u.submit("#add-special")
	for _, path := range []string{"/", "/cart", "/login", "/api"} {
		u.visit(path)
		u.laidOut()
	}
	u.shot("logged-out")
	u.visit("/members") // to the login page, with a flash
	u.at("/login")
	u.laidOut()
	u.flashesFitCard()

	u.fill("#username", "demo")
	u.fill("#password", "wrong")
	u.submit("#login")
	u.laidOut()
	u.flashesFitCard()
	u.shot("login-wrong")
	u.fill("#username", "demo")
	u.fill("#password", "demo")
	u.submit("#login")
	u.at("/members")
	u.laidOut()

	u.visit("/")
	u.submit("#add-special")
	u.submit("#add-tea")
	for _, path := range []string{"/members", "/cart", "/sessions", "/login", "/nowhere"} {
		u.visit(path)
		u.laidOut()
		u.shot(strings.Trim(path, "/"))
	}
	u.sees("There is no page at this address.")
	u.visit("/sessions")
	u.rows("#sessions tbody tr", 3)

	u.visit("/")
	u.sees("Hello, demo!", "Sessions", "Log out demo")
	u.laidOut()
	home := u.shot("home")
	if os.Getenv("UPDATE_DOCS") == "1" {
		png, err := os.ReadFile(home)
		if err == nil {
			err = os.WriteFile(filepath.Join("..", "docs", sc.doc), png, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	u.visit("/sessions")
	u.submit("#revoke-others")
	u.submit("#logout")
	u.sees("You have been logged out.")
	u.laidOut()
}

// layoutProblems is a script that lists what is wrong with the page's
// layout, in words, or returns an empty list.
const layoutProblems = `(() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth) {
    const wide = [...document.querySelectorAll("body *")]
      .filter(e => e.getBoundingClientRect().right > doc.clientWidth + 0.5)
      .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : ""));
    problems.push("the page scrolls sideways: " + doc.scrollWidth + " px wide in " + doc.clientWidth + " px; past the edge: " + wide.slice(0, 6).join(", "));
  }
  // One line each: an element's content is no taller than one line of it.
  const oneLine = [...document.querySelectorAll("header .brand, nav a, nav button, button, .badge, .tag")];
  for (const e of oneLine) {
    const st = getComputedStyle(e);
    const content = e.getBoundingClientRect().height - parseFloat(st.paddingTop) - parseFloat(st.paddingBottom)
      - parseFloat(st.borderTopWidth) - parseFloat(st.borderBottomWidth);
    const line = parseFloat(st.lineHeight) || 1.2 * parseFloat(st.fontSize);
    if (content > 1.5 * line) {
      problems.push("'" + e.innerText.trim() + "' wraps: " + Math.round(content) + " px high, its line is " + Math.round(line) + " px");
    }
  }
  // The badge sits beside its label, not under it.
  const cart = document.querySelector('nav a[href="/cart"]'), badge = document.querySelector("#cart-count");
  if (cart && badge) {
    const c = cart.getBoundingClientRect(), b = badge.getBoundingClientRect();
    if (b.top > c.top + c.height / 2) problems.push("the cart badge is below its label");
  }
  const brand = document.querySelector(".brand");
  if (brand && brand.getBoundingClientRect().top < 8) {
    problems.push("the brand is " + Math.round(brand.getBoundingClientRect().top) + " px from the top edge");
  }
  return problems;
})()`

// laidOut checks the page against layoutProblems.
func (u *user) laidOut() {
	u.t.Helper()
	problems := u.eval("the layout", `JSON.stringify(`+layoutProblems+`)`)
	var list []string
	if err := json.Unmarshal([]byte(problems), &list); err != nil {
		u.fail("reading the layout: %v", err)
	}
	if len(list) > 0 {
		path := u.eval("the location", "location.pathname")
		u.fail("%s: %s", path, strings.Join(list, "; "))
	}
}

// flashesFitCard checks that the flash banners are no wider than the card
// under them.
func (u *user) flashesFitCard() {
	u.t.Helper()
	got := u.eval("the flashes", `(() => {
  const f = document.querySelector(".flashes"), c = document.querySelector("main .card");
  if (!f || !c) return "no flash";
  const fr = f.getBoundingClientRect(), cr = c.getBoundingClientRect();
  return (fr.left >= cr.left - 0.5 && fr.right <= cr.right + 0.5) ? "" : "flashes " + Math.round(fr.left) + "-" + Math.round(fr.right) + ", card " + Math.round(cr.left) + "-" + Math.round(cr.right);
})()`)
	if got != "" {
		u.fail("%s", fmt.Sprintf("the flash banners are not within the card: %s", got))
	}
}
