module github.com/scsession/scsession/e2e

go 1.26.8

require (
	github.com/chromedp/chromedp v0.23.0
	github.com/scsession/scsession v0.0.0-00010101000000-000000000000
)

// The library and its test helpers, from this tree (go.work does the same
// for the workspace; this keeps GOWORK=off builds working).
replace github.com/scsession/scsession => ../

require (
	github.com/alexedwards/scs/v2 v2.9.0 // indirect
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
)
