package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/scsession/scsession"
)

// The "Your sessions" page: every device the user is logged in on, with a
// button to sign each of the others out. scsession keeps the per-user index
// (WithUserID in newApp); this file only shows it and asks for revocations.

// sessionRow is one line of the sessions page.
type sessionRow struct {
	Info     scsession.SessionInfo
	Device   string // "Firefox on Windows"
	Created  string // "today, 09:41"
	LastSeen string // "5 minutes ago"
}

// sessionsPage is what the sessions page shows.
type sessionsPage struct {
	Rows   []sessionRow
	Others int // rows that are not this device
}

func (a *app) sessionList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	infos, err := a.sessions.Sessions(ctx, a.sessions.Get(ctx).User)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	now := a.now()
	var page sessionsPage
	for _, info := range infos {
		page.Rows = append(page.Rows, sessionRow{
			Info:     info,
			Device:   device(info.Agent),
			Created:  when(info.Created, now),
			LastSeen: when(info.LastSeen, now),
		})
		if !info.Current {
			page.Others++
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	a.render(w, r, http.StatusOK, "sessions", page)
}

// noSessionList is the sessions page with -cookie-store, which cannot list
// sessions: each lives only in its browser's cookie.
func (a *app) noSessionList(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "sessions", nil)
}

// revokeSession signs out one of the user's other sessions. The ID comes
// from a form, so it is only acted on if it is in the user's own list: a
// forged ID cannot end somebody else's session.
func (a *app) revokeSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	infos, err := a.sessions.Sessions(ctx, a.sessions.Get(ctx).User)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	id := r.PostFormValue("id")
	i := slices.IndexFunc(infos, func(s scsession.SessionInfo) bool { return s.ID == id })
	switch {
	case i < 0:
		// Also what a user sees who clicks on a session that has just
		// expired or was signed out from another device.
		a.sessions.Flash(ctx, "error", "That session is not one of yours, or it has ended already.")
	case infos[i].Current:
		a.sessions.Flash(ctx, "error", "That is the session of this device: use Log out to end it.")
	default:
		if err := a.sessions.Revoke(ctx, id); err != nil {
			a.serverError(w, r, err)
			return
		}
		a.sessions.Flash(ctx, "success", "Signed out "+device(infos[i].Agent)+".")
	}
	redirect(w, r, "/sessions")
}

// revokeOtherSessions signs out every session of the user but this one.
func (a *app) revokeOtherSessions(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	n, err := a.sessions.RevokeOthers(ctx)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	switch n {
	case 0:
		a.sessions.Flash(ctx, "info", "There were no other sessions to sign out.")
	case 1:
		a.sessions.Flash(ctx, "success", "Signed out 1 other session.")
	default:
		a.sessions.Flash(ctx, "success", fmt.Sprintf("Signed out %d other sessions.", n))
	}
	redirect(w, r, "/sessions")
}

// A mark is a piece of a User-Agent header and the name it stands for.
type mark struct{ in, name string }

// Browsers, in the order they are tried: most User-Agents name several
// (Edge and Opera say Chrome, Chrome says Safari), so the more specific
// come first.
var browsers = []mark{
	{"Edg/", "Edge"}, {"EdgiOS/", "Edge"}, {"EdgA/", "Edge"},
	{"OPR/", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
	{"CriOS/", "Chrome"}, {"Chrome/", "Chrome"}, {"Chromium/", "Chromium"},
	{"Safari/", "Safari"},
}

// Systems, likewise: iPhones say "like Mac OS X", Android says Linux.
var systems = []mark{
	{"iPhone", "iPhone"}, {"iPad", "iPad"},
	{"Android", "Android"},
	{"CrOS", "ChromeOS"},
	{"Windows", "Windows"},
	{"Macintosh", "macOS"}, {"Mac OS X", "macOS"},
	{"Linux", "Linux"},
}

// Programs that are not browsers, by how their User-Agent starts.
var programs = []mark{
	{"curl/", "curl"},
	{"Wget/", "Wget"},
	{"Go-http-client/", "Go program"},
	{"python-requests/", "Python program"},
	{"HTTPie/", "HTTPie"},
	{"PostmanRuntime/", "Postman"},
}

// device turns a User-Agent header into a short label a person recognises,
// such as "Firefox on Windows" or "curl". It does not try to be complete:
// anything it does not know is named by the first word of the header.
func device(agent string) string {
	agent = strings.TrimSpace(agent)
	if agent == "" {
		return "Unknown device"
	}
	for _, p := range programs {
		if strings.HasPrefix(agent, p.in) {
			return p.name
		}
	}
	browser, system := find(browsers, agent), find(systems, agent)
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "Browser on " + system
	}
	// "SomeTool/1.2 (details)" is named "SomeTool", kept short: the header
	// is the client's to choose.
	name, _, _ := strings.Cut(agent, "/")
	name, _, _ = strings.Cut(name, " ")
	if r := []rune(name); len(r) > 24 {
		name = string(r[:24]) + "…"
	}
	return name
}

func find(marks []mark, agent string) string {
	for _, m := range marks {
		if strings.Contains(agent, m.in) {
			return m.name
		}
	}
	return ""
}

// when says when t was, relative to now, the way the sessions page shows it:
// "just now", "5 minutes ago", "today, 09:41", "Mon 3 Mar, 09:41".
func when(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute: // instances' clocks may differ by a little
		return "just now"
	case d < 2*time.Minute:
		return "a minute ago"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d.Minutes()))
	}
	t = t.In(now.Location())
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("today, 15:04")
	}
	return t.Format("Mon 2 Jan, 15:04")
}
