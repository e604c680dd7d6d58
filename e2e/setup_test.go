// Package e2e drives the example app (../_example) in headless Chromium.
// It is a module of its own so that chromedp never enters the library's
// go.mod. Run it with ./run, or `go test ./...` here.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/scsession/scsession/internal/sessiontest"
)

// need skips the test when a program it needs is missing, except in CI
// (CI=true), where e2e/run installs it and its absence is a failure.
func need(t *testing.T, names ...string) string {
	t.Helper()
	for _, name := range names {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	msg := fmt.Sprintf("%s is not installed; e2e/run installs it (apt-get install -y %s)", names[0], names[0])
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// exampleBinary builds ../_example once per test run.
func exampleBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "scsession-e2e-")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "example")
		cmd := exec.Command("go", "build", "-o", build.bin, "./_example")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./_example: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

var urlLine = regexp.MustCompile(`^scsession example: (http://\S+?)/?$`)

// startApp runs the example on a free loopback port with the extra
// environment and flags, and returns its URL once it says it is serving.
// Its log is shown if the test fails.
func startApp(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(exampleBinary(t), append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var logs syncBuffer
	cmd.Stderr = &logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop(cmd)
		if t.Failed() {
			t.Logf("log of the app started with %q:\n%s", args, logs.String())
		}
	})

	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case u := <-found:
		return u
	case <-time.After(15 * time.Second):
		t.Fatalf("the app did not print its URL within 15s; its log:\n%s", logs.String())
		return ""
	}
}

// stop ends a process we started: SIGTERM, then SIGKILL after 5s.
func stop(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startRedis runs a redis-server of the test's own on a free loopback port
// and returns its address.
func startRedis(t *testing.T) string {
	t.Helper()
	return sessiontest.StartRedis(t).Addr
}

// newBrowser starts a headless Chromium of the test's own and returns its
// context; the browser stops when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := need(t, "chromium", "chromium-browser")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.DisableGPU,
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})

	// The first Run starts the browser and binds it to its context, so it
	// cannot take a timeout; bound it from outside instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v", path, err)
		}
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("%s did not start within 30s", path)
	}
	return ctx
}
