// unpackbench: times containerd's unpack of one imported image into one snapshotter, through
// containerd's Go client on containerd's socket: Image.Unpack, the call `ctr image import` and
// `ctr image pull` make once the content is in (containerd 1.6's ctr has no `image unpack`).
// For every layer containerd Prepares a snapshot on the one below, mounts it, applies the layer
// tar with its own Go applier (the walking differ), unmounts and Commits it.
//
// Built by vm-tests/bench/unpack.sh with Debian's Go in GOPATH mode against /usr/share/gocode,
// CGO_ENABLED=0 (a static binary for the VM).
//
// Usage: unpackbench -address SOCK -namespace NS -image REF -snapshotter NAME [-as LABEL]
// [-split [-reps N] [-round R] [-drop-caches]]. The image must already be in containerd (e.g. `ctr image import
// --no-unpack`) and, without -split, not be unpacked for NAME yet. Prints one line, the chain ID
// being the top layer's snapshot:
//
//	LABEL unpack ms=MS chain=sha256:...
//
// -split: where an unpack's time goes. Instead of Image.Unpack, the same steps one by one through
// the same client API, each timed: per layer the snapshotter's Prepare on the layer below, the
// diff service's Apply (containerd mounts the snapshot, writes the layer's files, unmounts) and
// the snapshotter's Commit, under a lease of its own and under names of their own (splitR-N),
// so it runs beside an unpacked image; deleting the lease (synchronously) removes the snapshots
// afterwards. -reps N does that N times (-drop-caches: each after a sync and a cache drop), the
// first numbered -round R (default 1). Prints a line per layer and the sums, per repetition R:
//
//	LABEL splitR L1 prepare=MS apply=MS commit=MS
//	LABEL splitR all prepare=MS apply=MS commit=MS
//	LABEL splitR removed ms=MS
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/leases"
	"github.com/containerd/containerd/platforms"
	"github.com/opencontainers/image-spec/identity"
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "unpackbench: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	address := flag.String("address", "/run/containerd/containerd.sock", "containerd's socket")
	ns := flag.String("namespace", "default", "containerd namespace")
	ref := flag.String("image", "", "image reference")
	sn := flag.String("snapshotter", "", "snapshotter to unpack into")
	label := flag.String("as", "", "label printed instead of the snapshotter's name")
	splitMode := flag.Bool("split", false, "time Prepare, Apply and Commit per layer instead")
	reps := flag.Int("reps", 1, "with -split: how many times")
	round := flag.Int("round", 1, "with -split: the number of the first time (names and labels splitR)")
	drop := flag.Bool("drop-caches", false, "with -split: sync and drop the page cache before each")
	flag.Parse()
	if *ref == "" || *sn == "" {
		die("-image and -snapshotter are required")
	}
	if *label == "" {
		*label = *sn
	}
	client, err := containerd.New(*address, containerd.WithDefaultNamespace(*ns))
	if err != nil {
		die("connect to %s: %v", *address, err)
	}
	defer client.Close()
	ctx := context.Background()
	img, err := client.GetImage(ctx, *ref)
	if err != nil {
		die("image %s: %v", *ref, err)
	}
	if *splitMode {
		for rep := *round; rep < *round+*reps; rep++ {
			if *drop {
				dropCaches()
			}
			split(ctx, client, img, *sn, *label, rep)
		}
		return
	}
	if done, err := img.IsUnpacked(ctx, *sn); err != nil || done {
		die("image %s is already unpacked for %s (or cannot tell: %v)", *ref, *sn, err)
	}
	t0 := time.Now()
	if err := img.Unpack(ctx, *sn); err != nil {
		die("unpack %s into %s: %v", *ref, *sn, err)
	}
	elapsed := time.Since(t0)
	diffIDs, err := img.RootFS(ctx)
	if err != nil {
		die("rootfs of %s: %v", *ref, err)
	}
	fmt.Printf("%s unpack ms=%.1f chain=%s\n", *label, float64(elapsed.Nanoseconds())/1e6,
		identity.ChainID(diffIDs))
}

// dropCaches: sync, then drop the page cache, dentries and inodes (as root).
func dropCaches() {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		die("drop caches: %v", err)
	}
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// split unpacks img's layers into snapshotter sn step by step, timing each step (see -split);
// rep numbers the snapshots' names. Its lease is deleted synchronously at the end, so containerd
// has removed the snapshots (in the snapshotter too) before it returns.
func split(ctx context.Context, client *containerd.Client, img containerd.Image, sn, label string, rep int) {
	ls := client.LeasesService()
	lease, err := ls.Create(ctx, leases.WithRandomID(), leases.WithExpiration(time.Hour))
	if err != nil {
		die("lease: %v", err)
	}
	ctx = leases.WithLease(ctx, lease.ID)
	manifest, err := images.Manifest(ctx, client.ContentStore(), img.Target(), platforms.Default())
	if err != nil {
		die("manifest of %s: %v", img.Name(), err)
	}
	diffIDs, err := img.RootFS(ctx)
	if err != nil || len(diffIDs) != len(manifest.Layers) {
		die("rootfs of %s: %d diff IDs for %d layers (%v)", img.Name(), len(diffIDs), len(manifest.Layers), err)
	}
	snapshotter := client.SnapshotService(sn)
	applier := client.DiffService()
	var sum [3]time.Duration
	parent := ""
	for i, layer := range manifest.Layers {
		key, name := fmt.Sprintf("split%d-%d-active", rep, i+1), fmt.Sprintf("split%d-%d", rep, i+1)
		t0 := time.Now()
		mounts, err := snapshotter.Prepare(ctx, key, parent)
		if err != nil {
			die("prepare %s on %q: %v", key, parent, err)
		}
		t1 := time.Now()
		applied, err := applier.Apply(ctx, layer, mounts)
		if err != nil {
			die("apply layer %d: %v", i+1, err)
		}
		t2 := time.Now()
		if applied.Digest != diffIDs[i] {
			die("layer %d applied as %s, its diff ID is %s", i+1, applied.Digest, diffIDs[i])
		}
		if err := snapshotter.Commit(ctx, name, key); err != nil {
			die("commit %s: %v", name, err)
		}
		t3 := time.Now()
		step := [3]time.Duration{t1.Sub(t0), t2.Sub(t1), t3.Sub(t2)}
		for k := range sum {
			sum[k] += step[k]
		}
		fmt.Printf("%s split%d L%d prepare=%.1f apply=%.1f commit=%.1f\n", label, rep, i+1,
			ms(step[0]), ms(step[1]), ms(step[2]))
		parent = name
	}
	fmt.Printf("%s split%d all prepare=%.1f apply=%.1f commit=%.1f\n", label, rep, ms(sum[0]), ms(sum[1]), ms(sum[2]))
	t0 := time.Now()
	if err := ls.Delete(ctx, lease, leases.SynchronousDelete); err != nil {
		die("delete lease %s: %v", lease.ID, err)
	}
	fmt.Printf("%s split%d removed ms=%.1f\n", label, rep, ms(time.Since(t0)))
}
