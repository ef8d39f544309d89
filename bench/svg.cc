#include "bench/svg.h"

#include "base/strings.h"

namespace thinsnap::bench {

std::string SvgEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string SvgBegin(double width, double height) {
  std::string svg = Printf(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n",
      width, height, width, height);
  svg +=
      "<style>.title{font-size:13px;font-weight:bold}.ylab{font-size:10px;text-anchor:end}"
      ".xlab{font-size:10px;text-anchor:middle}.legend{font-size:11px}"
      ".grid{stroke:#ddd;stroke-width:1}.frame{fill:none;stroke:#444;stroke-width:1}</style>\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  return svg;
}

}  // namespace thinsnap::bench
