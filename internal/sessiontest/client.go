package sessiontest

import (
	"testing"

	"github.com/scsession/scsession/internal/browser"
)

// Client and Response are the browser in miniature that the tests of every
// module share.
type (
	Client   = browser.Client
	Response = browser.Response
)

// NewClient returns a browser with an empty cookie jar; a failed request
// fails t.
func NewClient(t testing.TB) *Client { return browser.New(t) }
