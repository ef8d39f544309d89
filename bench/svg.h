// Small helpers the benchmarks' SVG writers share (bench cow, bench drivers).
#ifndef THINSNAP_BENCH_SVG_H_
#define THINSNAP_BENCH_SVG_H_

#include <string>

namespace thinsnap::bench {

// `text` with &, <, > and " escaped, for SVG text and attribute values.
std::string SvgEscape(const std::string& text);

// The opening <svg> element of a self-contained chart (white background, sans-serif) of the
// given size, with the classes both charts use: title, ylab, xlab, legend, grid, frame.
std::string SvgBegin(double width, double height);

}  // namespace thinsnap::bench

#endif  // THINSNAP_BENCH_SVG_H_
