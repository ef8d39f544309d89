#include <cstdio>

int main() {
  std::puts("thinsnap: not built yet");
  return 1;
}
