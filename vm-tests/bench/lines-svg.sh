#!/bin/bash
# vm-tests/bench/lines-svg.sh: an SVG line chart (e.g. latency against snapshot count), one or
# more panels stacked over one x axis, one line per series; plain awk, in the style of
# cdf-svg.sh and bars-svg.sh.
#
# Usage: producer | vm-tests/bench/lines-svg.sh > chart.svg
# Input, tab-separated lines, in this order per panel:
#   title<TAB>TEXT          once, first          subtitle<TAB>TEXT   (any number)
#   xlabel<TAB>TEXT         the shared x axis
#   panel<TAB>Y AXIS LABEL  starts a panel       series<TAB>NAME     starts a line in it
#   pt<TAB>X<TAB>Y          a point of the current series (x ascending)
# Both axes start at 0; each panel's y axis ends at a round value above its largest y.
set -euo pipefail

awk -F '\t' '
  $1 == "title" { title = $2 }
  $1 == "subtitle" { sub_[++nsub] = $2 }
  $1 == "xlabel" { xlabel = $2 }
  $1 == "panel" { np++; ylabel[np] = $2; ns[np] = 0; ymax[np] = 0 }
  $1 == "series" { s = ++ns[np]; sname[np, s] = $2; npt[np, s] = 0 }
  $1 == "pt" {
    s = ns[np]; k = ++npt[np, s]; px_[np, s, k] = $2 + 0; py_[np, s, k] = $3 + 0
    if ($2 + 0 > xmax) xmax = $2 + 0
    if ($3 + 0 > ymax[np]) ymax[np] = $3 + 0
  }
  # nice_step(x): 1, 2 or 5 times a power of ten, about x/5.
  function nice_step(x,   raw, p, m) {
    raw = x / 5
    if (raw <= 0) return 1
    p = 1
    while (p * 10 <= raw) p *= 10
    while (p > raw) p /= 10
    m = raw / p
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p
  }
  function round_up(x, step) { return step * int(x / step + 0.999999) }
  function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); return s }
  END {
    if (np == 0) { print "lines-svg.sh: no panel" > "/dev/stderr"; exit 1 }
    split("#1f77b4 #ff7f0e #d62728 #2ca02c #9467bd #8c564b", colors, " ")
    L = 80; W = 560; H = 200; GAP = 50
    T = 40 + 16 * nsub
    xstep = nice_step(xmax); xend = round_up(xmax, xstep)
    if (xend <= 0) xend = 1
    height = T + np * (H + GAP) + 30
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" " \
      "font-family=\"sans-serif\" font-size=\"12\">\n", L + W + 200, height
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
    printf "<text x=\"%d\" y=\"22\" font-size=\"14\" font-weight=\"bold\">%s</text>\n", L, esc(title)
    for (i = 1; i <= nsub; i++)
      printf "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#555\">%s</text>\n", L, 22 + 16 * i, esc(sub_[i])
    for (p = 1; p <= np; p++) {
      top = T + (p - 1) * (H + GAP)
      ystep = nice_step(ymax[p]); yend = round_up(ymax[p], ystep)
      if (yend <= 0) yend = 1
      for (x = 0; x <= xend + xstep / 2; x += xstep) {
        X = L + W * x / xend
        printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", X, top, X, top + H
        printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", X, top + H + 16, x
      }
      for (y = 0; y <= yend + ystep / 2; y += ystep) {
        Y = top + H * (1 - y / yend)
        printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, Y, L + W, Y
        printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", L - 6, Y + 4, y
      }
      printf "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n", L, top, W, H
      printf "<text transform=\"translate(20 %d) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
        top + H / 2, esc(ylabel[p])
      if (p == np)
        printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", L + W / 2, top + H + 36, esc(xlabel)
      for (s = 1; s <= ns[p]; s++) {
        pts = ""
        for (k = 1; k <= npt[p, s]; k++)
          pts = pts sprintf("%s%.1f,%.1f", k > 1 ? " " : "", L + W * px_[p, s, k] / xend,
            top + H * (1 - py_[p, s, k] / yend))
        printf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>\n", colors[s], pts
        ly = top + 10 + 22 * (s - 1)
        printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>\n",
          L + W + 15, ly, L + W + 40, ly, colors[s]
        printf "<text x=\"%d\" y=\"%d\">%s</text>\n", L + W + 46, ly + 4, esc(sname[p, s])
      }
    }
    print "</svg>"
  }'
