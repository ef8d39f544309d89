#!/bin/bash
# vm-tests/bench/bars-svg.sh: an SVG chart of horizontal bars, one panel per question, each bar
# stacked from named segments (the same name keeps its colour in every panel); plain awk, no other
# dependency. Used by benchsuite.sh and unpack.sh.
#
# Usage: vm-tests/bench/bars-svg.sh [SPEC] > chart.svg   (SPEC: a file, default stdin)
# SPEC holds tab-separated records, in order:
#   title<TAB>TEXT                   the chart's title (once, first)
#   subtitle<TAB>TEXT                a grey line under it (optional, any number)
#   panel<TAB>TEXT<TAB>UNIT          a new panel; its bars share one linear scale from 0, in UNIT
#   bar<TAB>LABEL<TAB>NOTE           a new bar in the panel; NOTE is printed right of the panel
#   seg<TAB>NAME<TAB>VALUE           a segment of the current bar (left to right)
# Each bar is labelled with its total; a legend of the segment names is drawn when a chart has
# more than one.
set -euo pipefail

(($# <= 1)) || { echo "usage: bars-svg.sh [SPEC] > chart.svg" >&2; exit 2; }

awk -F '\t' '
  function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); return s }
  $1 == "title" { title = $2 }
  $1 == "subtitle" { sub_[++nsub] = $2 }
  $1 == "panel" { p = ++np; ptitle[p] = $2; punit[p] = $3; pbars[p] = 0; pmax[p] = 0 }
  $1 == "bar" {
    b = ++pbars[p]; blabel[p, b] = $2; bnote[p, b] = $3; bsegs[p, b] = 0; btotal[p, b] = 0
    if (length($3) > maxnote) maxnote = length($3)
  }
  $1 == "seg" {
    s = ++bsegs[p, b]
    sname[p, b, s] = $2
    sval[p, b, s] = $3 + 0
    btotal[p, b] += $3 + 0
    if (btotal[p, b] > pmax[p]) pmax[p] = btotal[p, b]
    if (!($2 in color)) { color[$2] = palette[++ncolors]; legend[ncolors] = $2 }
  }
  BEGIN { split("#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf #aec7e8 #ffbb78", palette, " ") }
  # nice_step(x): 1, 2 or 5 times a power of ten, about x/5.
  function nice_step(x,   raw, q, m) {
    raw = x / 5
    if (raw <= 0) return 1
    q = 1
    while (q * 10 <= raw) q *= 10
    while (q > raw) q /= 10
    m = raw / q
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * q
  }
  function fmt(v) { return v >= 100 ? sprintf("%.0f", v) : v >= 10 ? sprintf("%.1f", v) : sprintf("%.2f", v) }
  END {
    if (np == 0) { print "bars-svg.sh: no panel records" > "/dev/stderr"; exit 1 }
    # The notes column is as wide as the longest note (about 6.6 px a character at 12 px).
    L = 150; W = 430; BH = 20; GAP = 8
    NOTEW = 48 + int(6.6 * maxnote)
    if (NOTEW < 300) NOTEW = 300
    # The legend wraps to as many rows as it needs.
    rows = 0
    if (ncolors > 1) {
      rows = 1; lx = L
      for (i = 1; i <= ncolors; i++) {
        w = 28 + 7 * length(legend[i])
        if (lx > L && lx + w > L + W + NOTEW - 10) { rows++; lx = L }
        lrow[i] = rows; lxat[i] = lx; lx += w
      }
    }
    y = 34 + 16 * nsub + 22 * rows
    top = y
    # First pass: the height.
    for (i = 1; i <= np; i++) y += 26 + pbars[i] * (BH + GAP) + 30
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" " \
      "font-family=\"sans-serif\" font-size=\"12\">\n", L + W + NOTEW, y + 6
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
    printf "<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">%s</text>\n", esc(title)
    for (i = 1; i <= nsub; i++)
      printf "<text x=\"10\" y=\"%d\" fill=\"#555\">%s</text>\n", 22 + 16 * i, esc(sub_[i])
    for (i = 1; i <= ncolors && ncolors > 1; i++) {
      ly = top - 20 - 22 * (rows - lrow[i])
      printf "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", lxat[i], ly, color[legend[i]]
      printf "<text x=\"%d\" y=\"%d\">%s</text>\n", lxat[i] + 16, ly + 10, esc(legend[i])
    }
    y = top
    for (i = 1; i <= np; i++) {
      printf "<text x=\"10\" y=\"%d\" font-size=\"13\" font-weight=\"bold\">%s</text>\n", y + 16, esc(ptitle[i])
      y += 26
      step = nice_step(pmax[i])
      xend = step * int(pmax[i] / step + 0.999999)
      if (xend < pmax[i] || xend == 0) xend += step
      h = pbars[i] * (BH + GAP)
      for (x = 0; x <= xend + step / 2; x += step) {
        px = L + W * x / xend
        printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", px, y - 4, px, y + h
        printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">%g</text>\n", px, y + h + 14, x
      }
      printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">%s</text>\n", L + W / 2, y + h + 27, esc(punit[i])
      for (j = 1; j <= pbars[i]; j++) {
        by = y + (j - 1) * (BH + GAP)
        printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", L - 8, by + BH / 2 + 4, esc(blabel[i, j])
        x0 = L
        for (s = 1; s <= bsegs[i, j]; s++) {
          w = W * sval[i, j, s] / xend
          printf "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>%s %s</title></rect>\n",
            x0, by, w, BH, color[sname[i, j, s]], esc(sname[i, j, s]), fmt(sval[i, j, s])
          x0 += w
        }
        printf "<text x=\"%.1f\" y=\"%d\" font-weight=\"bold\">%s</text>\n", x0 + 4, by + BH / 2 + 4, fmt(btotal[i, j])
        printf "<text x=\"%d\" y=\"%d\" fill=\"#333\">%s</text>\n", L + W + 48, by + BH / 2 + 4, esc(bnote[i, j])
      }
      y += h + 30
    }
    print "</svg>"
  }' "${1:-/dev/stdin}"
