package main

// -scale N: thinsnap serve at N snapshots, straight on its socket (-address is thinsnap serve's,
// not containerd's: containerd's proxy snapshotter client with no containerd in between, as
// vm-tests/bench/benchsuite/thinsnap_test.go drives it). One committed parent, then N times
// Prepare(k, parent) + Mounts(k), each timed, none removed; then List (Walk) of all of them.
// -pid PID is the daemon's process: its VmRSS and VmHWM are read from /proc/PID/status.
// Prints (-every E, default 100: a line per E snapshots, for a chart of latency against count):
//
//	NAME-scale-progress snapshots=N p50=MS p95=MS rss_kib=K hwm_kib=K   (the last E)
//	NAME-scale-first n=W median=MS p95=MS max=MS                        (the first W = -window)
//	NAME-scale-last n=W median=MS p95=MS max=MS                         (the last W)
//	NAME-scale-rss snapshots=N vmrss_kib=K vmhwm_kib=K
//	NAME-scale-walk snapshots=N ms=MS                                   (one per -walks)

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/containerd/containerd/snapshots"
)

type scaleRun struct {
	b      *bench
	pid    int
	window int
	every  int
	walks  int
}

// procStatusKiB returns VmRSS and VmHWM of pid in KiB (0, 0 without -pid).
func procStatusKiB(pid int) (rss, hwm int64) {
	if pid <= 0 {
		return 0, 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		die("read the daemon's status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v int64
		if n, _ := fmt.Sscanf(sc.Text(), "VmRSS: %d kB", &v); n == 1 {
			rss = v
		}
		if n, _ := fmt.Sscanf(sc.Text(), "VmHWM: %d kB", &v); n == 1 {
			hwm = v
		}
	}
	return rss, hwm
}

// quantiles: median and p95 in ms, as summary computes them.
func quantiles(d []time.Duration) (median, p95 float64) {
	ms := make([]float64, len(d))
	for i, x := range d {
		ms[i] = float64(x.Nanoseconds()) / 1e6
	}
	sort.Float64s(ms)
	n := len(ms)
	median = ms[n/2]
	if n%2 == 0 {
		median = (ms[n/2-1] + ms[n/2]) / 2
	}
	i := int(0.95 * float64(n))
	if i >= n {
		i = n - 1
	}
	return median, ms[i]
}

// walk times one List of every snapshot and checks how many it saw.
func (s *scaleRun) walk(want int) time.Duration {
	seen := 0
	t0 := time.Now()
	err := s.b.sn.Walk(s.b.ctx, func(context.Context, snapshots.Info) error {
		seen++
		return nil
	})
	d := time.Since(t0)
	if err != nil {
		die("%s: walk: %v", s.b.name, err)
	}
	if seen != want {
		die("%s: walk saw %d snapshots, expected %d", s.b.name, seen, want)
	}
	return d
}

func (s *scaleRun) run(count int) {
	name := s.b.name
	base := s.b.base()
	all := make([]time.Duration, 0, count)
	for i := 0; i < count; i++ {
		all = append(all, s.b.prepareMounts(fmt.Sprintf("ctrbench-scale-%d", i), base))
		if (i+1)%s.every == 0 || i+1 == count {
			last := all[len(all)-1-(len(all)-1)%s.every:]
			med, p95 := quantiles(last)
			rss, hwm := procStatusKiB(s.pid)
			fmt.Printf("%s-scale-progress snapshots=%d p50=%.2f p95=%.2f rss_kib=%d hwm_kib=%d\n",
				name, i+1, med, p95, rss, hwm)
		}
	}
	w := s.window
	if w > count/2 {
		w = count / 2
	}
	if w < 1 {
		w = 1
	}
	summary(name+"-scale-first", all[:w])
	summary(name+"-scale-last", all[count-w:])
	rss, hwm := procStatusKiB(s.pid)
	fmt.Printf("%s-scale-rss snapshots=%d vmrss_kib=%d vmhwm_kib=%d\n", name, count, rss, hwm)
	for i := 0; i < s.walks; i++ {
		d := s.walk(count + 1)
		fmt.Printf("%s-scale-walk snapshots=%d ms=%.2f\n", name, count+1, float64(d.Nanoseconds())/1e6)
	}
	rss, hwm = procStatusKiB(s.pid)
	fmt.Printf("%s-scale-rss-after-walk snapshots=%d vmrss_kib=%d vmhwm_kib=%d\n", name, count, rss, hwm)
}
