// containerd's own snapshotter test suite (github.com/containerd/containerd/snapshots/testsuite,
// from Debian's golang-github-containerd-containerd-dev) against `thinsnap serve`, through
// containerd's proxy snapshotter client: the same gRPC path containerd's proxy_plugins take.
//
// Every test gets its own root from the suite; the factory makes a small loopback pool there,
// starts one `thinsnap serve` on a socket in it, and the cleanup stops it with SIGTERM (it must
// exit 0), runs `pool check` and destroys the pool. Built by build-suite.sh (GOPATH mode, static)
// and run by vm-tests/scenarios/containerd_suite.sh with -test.root.
package vmtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/containerd/snapshots/proxy"
	"github.com/containerd/containerd/snapshots/testsuite"
	"google.golang.org/grpc"
)

func thinsnapBin() string {
	if b := os.Getenv("THINSNAP_BIN"); b != "" {
		return b
	}
	return "thinsnap"
}

func thinsnap(root string, args ...string) error {
	cmd := exec.Command(thinsnapBin(), append([]string{"--root", root}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("thinsnap %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Waits until the server accepts on its socket (the file appears at bind(2), before listen(2)),
// so that the first RPC neither fails nor falls into gRPC's reconnect backoff.
func waitForSocket(path string, exited <-chan error) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("thinsnap serve exited before serving: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fmt.Errorf("nothing accepts on %s after 60 s", path)
}

// A proxy snapshotter client on the unix socket `sock`.
func dial(sock string) (snapshots.Snapshotter, *grpc.ClientConn, error) {
	conn, err := grpc.Dial(sock, grpc.WithInsecure(),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", addr)
		}))
	if err != nil {
		return nil, nil, err
	}
	return proxy.NewSnapshotter(snapshotsapi.NewSnapshotsClient(conn), "thinsnap"), conn, nil
}

func newThinsnap(ctx context.Context, root string) (snapshots.Snapshotter, func() error, error) {
	// THINSNAP_SUITE_ADDRESS=SOCK: test a `thinsnap serve` that is already running there (its
	// root and pool belong to the caller, e.g. after a crash: vm.containerd_faults).
	if sock := os.Getenv("THINSNAP_SUITE_ADDRESS"); sock != "" {
		if err := waitForSocket(sock, nil); err != nil {
			return nil, nil, err
		}
		sn, conn, err := dial(sock)
		if err != nil {
			return nil, nil, err
		}
		return sn, conn.Close, nil
	}
	// The pool's files live outside the suite's directory: on a failure the suite reads every
	// file under it into memory (testutil.DumpDir), 1 GiB loop file included.
	state, err := os.MkdirTemp("", "thinsnap-suite-pool-")
	if err != nil {
		return nil, nil, err
	}
	if err := thinsnap(state, "pool", "create", "--loopback", "--data-size", "1G",
		"--metadata-size", "16M", "--base-size", "32M"); err != nil {
		return nil, nil, err
	}
	sock := filepath.Join(root, "containerd.sock")
	serve := exec.Command(thinsnapBin(), "--root", state, "serve", "--address", sock)
	serve.Stdout = os.Stderr
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		return nil, nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	if err := waitForSocket(sock, exited); err != nil {
		serve.Process.Kill()
		return nil, nil, err
	}
	sn, conn, err := dial(sock)
	if err != nil {
		serve.Process.Kill()
		return nil, nil, err
	}
	cleanup := func() error {
		conn.Close()
		serve.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				return fmt.Errorf("thinsnap serve after SIGTERM: %v", err)
			}
		case <-time.After(30 * time.Second):
			serve.Process.Kill()
			return fmt.Errorf("thinsnap serve did not stop within 30 s of SIGTERM")
		}
		if err := thinsnap(state, "pool", "check"); err != nil {
			return err
		}
		if err := thinsnap(state, "pool", "destroy", "--force"); err != nil {
			return err
		}
		return os.RemoveAll(state)
	}
	return sn, cleanup, nil
}

func TestThinsnapSnapshotter(t *testing.T) {
	testsuite.SnapshotterSuite(t, "thinsnap", newThinsnap)
}
