// hello: the static baseline of vm-tests/bench/cli-start.sh (gcc -static -O2): start, print a line
// as `thinsnap --version` does, exit.
#include <stdio.h>

int main(void) {
  puts("hello 0.1.0");
  return 0;
}
