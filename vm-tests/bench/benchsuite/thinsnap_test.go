// BenchmarkThinsnap: containerd's snapshotter benchmark suite
// (github.com/containerd/containerd/snapshots/benchsuite, Debian's containerd 1.6.20 source)
// against `thinsnap serve`. The suite is one test-only package whose driver,
// benchmarkSnapshotter(b, snapshots.Snapshotter), is unexported, so vm-tests/bench/benchsuite.sh
// copies containerd's benchmark.go and benchmark_test.go unmodified beside this file into one
// package and builds them together: BenchmarkNative, BenchmarkOverlay and BenchmarkDeviceMapper
// are containerd's own (each calls its snapshotter's Go package directly, no containerd daemon),
// and this one drives thinsnap through containerd's proxy snapshotter client on the socket of a
// running `thinsnap serve` (the gRPC path containerd's proxy_plugins take), with no containerd in
// between either.
//
// Usage (the test binary): -test.bench '^BenchmarkThinsnap$' -thinsnap.address SOCK
package benchsuite

import (
	"context"
	"flag"
	"net"
	"testing"
	"time"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/snapshots/proxy"
	"google.golang.org/grpc"
)

var thinsnapAddress string

func init() {
	flag.StringVar(&thinsnapAddress, "thinsnap.address", "", "unix socket of a running `thinsnap serve`")
}

// waitForServer: until something accepts on the socket (the file exists from bind(2), before
// listen(2)), so the first request neither fails nor falls into gRPC's reconnect backoff.
func waitForServer(b *testing.B, path string) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("nothing accepts on %s after 60 s: %v", path, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func BenchmarkThinsnap(b *testing.B) {
	if thinsnapAddress == "" {
		b.Skip("thinsnap benchmark requires the socket of a running `thinsnap serve` (-thinsnap.address)")
	}
	waitForServer(b, thinsnapAddress)
	conn, err := grpc.Dial(thinsnapAddress, grpc.WithInsecure(),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", addr)
		}))
	if err != nil {
		b.Fatalf("dial %s: %v", thinsnapAddress, err)
	}
	defer conn.Close()
	benchmarkSnapshotter(b, proxy.NewSnapshotter(snapshotsapi.NewSnapshotsClient(conn), "thinsnap"))
}
