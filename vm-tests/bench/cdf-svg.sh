#!/bin/bash
# vm-tests/bench/cdf-svg.sh: an SVG chart of latency CDFs, one line per contender, from ctrbench's
# "NAME-burst-latencies MS MS ..." lines (sorted) in a log; plain awk, no other dependency.
#
# Usage: vm-tests/bench/cdf-svg.sh LOG [TITLE] > chart.svg
# x = latency in ms (linear, 0 to the largest latency), y = fraction of the requests done within
# x; a step line per contender in the order of the log, with a legend giving its median and max.
set -euo pipefail

(($# >= 1)) || { echo "usage: cdf-svg.sh LOG [TITLE]" >&2; exit 2; }
LOG=$1
TITLE=${2:-Prepare+Mounts latency, all requests issued at once}

awk -v title="$TITLE" '
  $1 ~ /-burst-latencies$/ && NF > 1 {
    name = $1
    sub(/-burst-latencies$/, "", name)
    k = ++nc
    names[k] = name
    cnt[k] = NF - 1
    for (i = 2; i <= NF; i++) {
      lat[k, i - 1] = $i + 0
      if ($i + 0 > xmax) xmax = $i + 0
    }
  }
  # nice_step(x): 1, 2 or 5 times a power of ten, about x/5.
  function nice_step(x,   raw, p, m) {
    raw = x / 5
    p = 1
    while (p * 10 <= raw) p *= 10
    while (p > raw) p /= 10
    m = raw / p
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p
  }
  function px(ms) { return L + W * ms / xend }
  function py(f) { return T + H * (1 - f) }
  END {
    if (nc == 0) { print "cdf-svg.sh: no -burst-latencies lines" > "/dev/stderr"; exit 1 }
    split("#1f77b4 #ff7f0e #d62728 #2ca02c #9467bd #8c564b", colors, " ")
    L = 70; T = 40; W = 560; H = 320
    step = nice_step(xmax)
    xend = step * int(xmax / step + 0.999999)
    if (xend < xmax) xend += step
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" " \
      "font-family=\"sans-serif\" font-size=\"12\">\n", L + W + 200, T + H + 60
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
    printf "<text x=\"%d\" y=\"22\" font-size=\"14\" font-weight=\"bold\">%s</text>\n", L, title
    for (x = 0; x <= xend + step / 2; x += step) {
      printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", px(x), T, px(x), T + H
      printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", px(x), T + H + 16, x
    }
    for (f = 0; f <= 1.0001; f += 0.25) {
      printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, py(f), L + W, py(f)
      printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", L - 6, py(f) + 4, f
    }
    printf "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n", L, T, W, H
    printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">latency of one Prepare+Mounts (ms)</text>\n",
      L + W / 2, T + H + 40
    printf "<text transform=\"translate(18 %d) rotate(-90)\" text-anchor=\"middle\">" \
      "fraction of requests done</text>\n", T + H / 2
    for (k = 1; k <= nc; k++) {
      n = cnt[k]
      pts = sprintf("%.1f,%.1f", px(0), py(0))
      for (i = 1; i <= n; i++)
        pts = pts sprintf(" %.1f,%.1f %.1f,%.1f", px(lat[k, i]), py((i - 1) / n), px(lat[k, i]), py(i / n))
      printf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>\n", colors[k], pts
      med = (n % 2) ? lat[k, (n + 1) / 2] : (lat[k, n / 2] + lat[k, n / 2 + 1]) / 2
      ly = T + 10 + 34 * (k - 1)
      printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>\n",
        L + W + 15, ly, L + W + 40, ly, colors[k]
      printf "<text x=\"%d\" y=\"%d\">%s</text>\n", L + W + 46, ly + 4, names[k]
      printf "<text x=\"%d\" y=\"%d\" font-size=\"10\" fill=\"#555\">n=%d median %.0f, max %.0f ms</text>\n",
        L + W + 46, ly + 17, n, med, lat[k, n]
    }
    print "</svg>"
  }' "$LOG"
