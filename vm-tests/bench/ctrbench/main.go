// ctrbench: per-operation latency of one containerd snapshotter, measured through containerd's
// own client API (the snapshots and leases services on containerd's socket, as the Go client
// `containerd.New(...).SnapshotService(name)` uses them), so thinsnap (a proxy plugin), the
// built-in devmapper and the overlayfs snapshotter are timed on the same path.
//
// Built by vm-tests/bench/snapshotters.sh with Debian's Go in GOPATH mode against
// /usr/share/gocode, CGO_ENABLED=0 (a static binary: process start is expensive under TCG and is
// paid once here, not per operation).
//
// Usage: ctrbench -address SOCK -snapshotter NAME -count N [-label K=V] [-namespace NS] [-as LABEL]
//
//	ctrbench ... -burst N
//
// One committed parent is made first; then COUNT times Prepare(k, parent) + Mounts(k) (timed as
// one), then for each key Remove(k) (timed; in containerd this only drops the key from its
// metadata) followed by a synchronous garbage collection (timed as remove+gc: that is when
// containerd asks the snapshotter itself to delete). Every snapshot is held by a lease, so the
// collection removes exactly the key just removed. A collection with nothing to remove is
// timed too (gc-idle), as the fixed cost to subtract. Prints one summary line per measurement:
//
//	NAME-OP n=N median=MS p95=MS max=MS
//
// -burst N: N Prepare+Mounts issued at once (N goroutines released together, as Kubernetes
// starting many pods), then N Remove at once and one garbage collection. Prints the wall times
// and the distribution of the N latencies, then every latency (for a CDF):
//
//	NAME-burst n=N wall=MS
//	NAME-burst-prepare+mounts n=N median=MS p95=MS max=MS
//	NAME-burst-remove n=N wall=MS
//	NAME-burst-latencies MS MS ...   (sorted)
//
// -as LABEL prints LABEL instead of NAME (two configurations of one snapshotter in one log).
//
// -scale N: instead, N snapshots straight on thinsnap serve's socket (-address is that socket; no
// containerd, no leases); see scale.go.
//
// Any failed request fails the run (exit 1), as does a snapshot left over.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	leasesapi "github.com/containerd/containerd/api/services/leases/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/leases"
	leasesproxy "github.com/containerd/containerd/leases/proxy"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/pkg/dialer"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/containerd/snapshots/proxy"
	"google.golang.org/grpc"
)

type labelFlags map[string]string

func (l labelFlags) String() string { return fmt.Sprint(map[string]string(l)) }

func (l labelFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("label %q is not K=V", v)
	}
	l[k] = val
	return nil
}

// summary prints "LABEL n=N median=MS p95=MS max=MS" like vm-tests/bench/peerbench.c.
func summary(label string, d []time.Duration) {
	n := len(d)
	ms := make([]float64, n)
	for i, x := range d {
		ms[i] = float64(x.Nanoseconds()) / 1e6
	}
	sort.Float64s(ms)
	p95 := int(0.95 * float64(n))
	if p95 >= n {
		p95 = n - 1
	}
	median := ms[n/2]
	if n%2 == 0 {
		median = (ms[n/2-1] + ms[n/2]) / 2
	}
	fmt.Printf("%s n=%d median=%.2f p95=%.2f max=%.2f\n", label, n, median, ms[p95], ms[n-1])
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "ctrbench: "+format+"\n", args...)
	os.Exit(1)
}

type bench struct {
	sn     snapshots.Snapshotter
	lm     leases.Manager
	ctx    context.Context // namespace and the lease that holds every snapshot
	name   string
	labels map[string]string
}

// syncGC runs one garbage collection and waits for it: deleting a lease with Sync does that.
func (b *bench) syncGC() {
	l, err := b.lm.Create(b.ctx, leases.WithRandomID())
	if err != nil {
		die("create gc lease: %v", err)
	}
	if err := b.lm.Delete(b.ctx, l, leases.SynchronousDelete); err != nil {
		die("delete gc lease (sync): %v", err)
	}
}

func (b *bench) prepareMounts(key, parent string) time.Duration {
	t0 := time.Now()
	if _, err := b.sn.Prepare(b.ctx, key, parent, snapshots.WithLabels(b.labels)); err != nil {
		die("%s: prepare %s: %v", b.name, key, err)
	}
	if _, err := b.sn.Mounts(b.ctx, key); err != nil {
		die("%s: mounts %s: %v", b.name, key, err)
	}
	return time.Since(t0)
}

func (b *bench) removeGC(key string) (remove, total time.Duration) {
	t0 := time.Now()
	if err := b.sn.Remove(b.ctx, key); err != nil {
		die("%s: remove %s: %v", b.name, key, err)
	}
	remove = time.Since(t0)
	b.syncGC()
	return remove, time.Since(t0)
}

// run: the committed parent, one untimed warm-up round, then COUNT timed rounds.
func (b *bench) run(count int) {
	base := b.base()
	warm := "ctrbench-" + b.name + "-warmup"
	b.prepareMounts(warm, base)
	b.removeGC(warm)

	var prep, rm, rmgc, idle []time.Duration
	keys := make([]string, count)
	for i := range keys {
		keys[i] = fmt.Sprintf("ctrbench-%s-%d", b.name, i)
		prep = append(prep, b.prepareMounts(keys[i], base))
	}
	for _, k := range keys {
		r, t := b.removeGC(k)
		rm = append(rm, r)
		rmgc = append(rmgc, t)
		t0 := time.Now()
		b.syncGC()
		idle = append(idle, time.Since(t0))
	}
	b.expectOnly(1)
	summary(b.name+"-prepare+mounts", prep)
	summary(b.name+"-remove", rm)
	summary(b.name+"-remove+gc", rmgc)
	summary(b.name+"-gc-idle", idle)
}

// base makes the committed parent every measured snapshot starts from.
func (b *bench) base() string {
	base := "ctrbench-" + b.name + "-base"
	if _, err := b.sn.Prepare(b.ctx, base+"-active", ""); err != nil {
		die("%s: prepare the parent: %v", b.name, err)
	}
	if err := b.sn.Commit(b.ctx, base, base+"-active"); err != nil {
		die("%s: commit the parent: %v", b.name, err)
	}
	return base
}

// all runs fn(0..n-1) in n goroutines released at once; returns each call's duration and the
// wall time from the release to the last return.
func all(n int, fn func(i int) error) ([]time.Duration, time.Duration, []error) {
	var wg, ready sync.WaitGroup
	start := make(chan struct{})
	d := make([]time.Duration, n)
	errs := make([]error, n)
	wg.Add(n)
	ready.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer wg.Done()
			ready.Done()
			<-start
			t0 := time.Now()
			errs[i] = fn(i)
			d[i] = time.Since(t0)
		}(i)
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	wg.Wait()
	return d, time.Since(t0), errs
}

func (b *bench) burst(n int) {
	base := b.base()
	warm := "ctrbench-" + b.name + "-warmup"
	b.prepareMounts(warm, base)
	b.removeGC(warm)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("ctrbench-%s-burst-%d", b.name, i)
	}
	lat, wall, errs := all(n, func(i int) error {
		if _, err := b.sn.Prepare(b.ctx, keys[i], base, snapshots.WithLabels(b.labels)); err != nil {
			return fmt.Errorf("prepare %s: %w", keys[i], err)
		}
		_, err := b.sn.Mounts(b.ctx, keys[i])
		return err
	})
	failed := 0
	for _, err := range errs {
		if err != nil {
			fmt.Fprintf(os.Stderr, "ctrbench: %s: %v\n", b.name, err)
			failed++
		}
	}
	if failed > 0 {
		die("%s: %d of %d requests of the burst failed", b.name, failed, n)
	}
	_, rmWall, errs := all(n, func(i int) error { return b.sn.Remove(b.ctx, keys[i]) })
	for _, err := range errs {
		if err != nil {
			die("%s: remove in the burst: %v", b.name, err)
		}
	}
	b.syncGC()
	b.expectOnly(1)
	fmt.Printf("%s-burst n=%d wall=%.2f\n", b.name, n, float64(wall.Nanoseconds())/1e6)
	summary(b.name+"-burst-prepare+mounts", lat)
	fmt.Printf("%s-burst-remove n=%d wall=%.2f\n", b.name, n, float64(rmWall.Nanoseconds())/1e6)
	ms := make([]float64, n)
	for i, x := range lat {
		ms[i] = float64(x.Nanoseconds()) / 1e6
	}
	sort.Float64s(ms)
	var line strings.Builder
	line.WriteString(b.name + "-burst-latencies")
	for _, x := range ms {
		fmt.Fprintf(&line, " %.2f", x)
	}
	fmt.Println(line.String())
}

// expectOnly fails the run unless exactly `want` snapshots are left (the parent).
func (b *bench) expectOnly(want int) {
	infos := 0
	if err := b.sn.Walk(b.ctx, func(context.Context, snapshots.Info) error {
		infos++
		return nil
	}); err != nil {
		die("%s: walk: %v", b.name, err)
	}
	if infos != want {
		die("%s: %d snapshots left after the run, expected %d", b.name, infos, want)
	}
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

func main() {
	address := flag.String("address", "/run/containerd/containerd.sock", "containerd's socket")
	name := flag.String("snapshotter", "", "snapshotter name (thinsnap, devmapper, overlayfs, ...)")
	ns := flag.String("namespace", "ctrbench", "containerd namespace")
	count := flag.Int("count", 30, "timed operations of each kind")
	burst := flag.Int("burst", 0, "instead: this many Prepare+Mounts at once, then as many Remove")
	as := flag.String("as", "", "name printed in the results (default: the snapshotter's)")
	scale := flag.Int("scale", 0, "instead: this many Prepare+Mounts kept, on thinsnap serve's socket")
	pid := flag.Int("pid", 0, "-scale: the daemon's process id (its VmRSS and VmHWM are read)")
	window := flag.Int("window", 100, "-scale: snapshots timed at each end")
	every := flag.Int("every", 100, "-scale: a progress line per this many snapshots")
	walks := flag.Int("walks", 3, "-scale: List (Walk) calls timed at the end")
	labels := labelFlags{}
	flag.Var(labels, "label", "K=V label on every Prepare (repeatable)")
	flag.Parse()
	if *name == "" || *count < 1 {
		die("usage: ctrbench -snapshotter NAME [-address SOCK] [-count N] [-label K=V]")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := grpc.DialContext(ctx, dialer.DialAddress(*address), grpc.WithInsecure(),
		grpc.WithBlock(), grpc.WithContextDialer(dialer.ContextDialer))
	cancel()
	if err != nil {
		die("connect to containerd at %s: %v", *address, err)
	}
	defer conn.Close()

	bctx := namespaces.WithNamespace(context.Background(), *ns)
	if *scale > 0 {
		if *as == "" {
			*as = *name
		}
		b := &bench{sn: proxy.NewSnapshotter(snapshotsapi.NewSnapshotsClient(conn), *name),
			ctx: bctx, name: *as, labels: labels}
		s := &scaleRun{b: b, pid: *pid, window: *window, every: max1(*every), walks: *walks}
		s.run(*scale)
		return
	}
	lm := leasesproxy.NewLeaseManager(leasesapi.NewLeasesClient(conn))
	hold, err := lm.Create(bctx, leases.WithRandomID())
	if err != nil {
		die("create the lease: %v", err)
	}
	if *as == "" {
		*as = *name
	}
	b := &bench{
		sn:     proxy.NewSnapshotter(snapshotsapi.NewSnapshotsClient(conn), *name),
		lm:     lm,
		ctx:    leases.WithLease(bctx, hold.ID),
		name:   *as,
		labels: labels,
	}
	if *burst > 0 {
		b.burst(*burst)
	} else {
		b.run(*count)
	}
	// The parent goes with the lease.
	if err := lm.Delete(bctx, hold, leases.SynchronousDelete); err != nil {
		die("delete the lease: %v", err)
	}
}
