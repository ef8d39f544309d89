// execbench: per-exec wall time of programs, each started RUNS times with posix_spawn and waited
// for, the programs interleaved (a, b, a, b, ...) so drift of the machine hits all alike; stdout
// and stderr go to /dev/null. Times with CLOCK_MONOTONIC, from before the spawn to after the wait.
// Built static by vm-tests/bench/cli-start.sh (gcc -static -O2), so its own start is not timed.
//
// Usage: execbench RUNS LABEL=PROGRAM[,ARG...] ...
// Prints per program: "execbench LABEL runs=N median=MS mean=MS min=MS p95=MS max=MS faults=F",
// F the median of the child's minor page faults (wait4's rusage): what TCG makes expensive.
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

enum { kMaxPrograms = 8, kMaxArgs = 16 };

struct program {
  const char* label;
  char* argv[kMaxArgs + 1];
  double* ms;
  double* faults;
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void parse(char* spec, struct program* p) {
  char* eq = strchr(spec, '=');
  if (!eq) {
    fprintf(stderr, "execbench: '%s' is not LABEL=PROGRAM[,ARG...]\n", spec);
    exit(2);
  }
  *eq = '\0';
  p->label = spec;
  int n = 0;
  for (char* tok = strtok(eq + 1, ","); tok && n < kMaxArgs; tok = strtok(NULL, ","))
    p->argv[n++] = tok;
  p->argv[n] = NULL;
}

static double run_once(const struct program* p, const posix_spawn_file_actions_t* fa,
                       double* faults) {
  pid_t pid;
  int status;
  struct rusage ru;
  double t0 = now_ms();
  int err = posix_spawnp(&pid, p->argv[0], fa, NULL, p->argv, environ);
  if (err != 0) {
    fprintf(stderr, "execbench: cannot start %s: %s\n", p->argv[0], strerror(err));
    exit(1);
  }
  if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "execbench: %s did not exit 0\n", p->argv[0]);
    exit(1);
  }
  double ms = now_ms() - t0;
  if (faults) *faults = (double)ru.ru_minflt;
  return ms;
}

static int compare(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static double median_of(double* v, int n) {
  qsort(v, n, sizeof(double), compare);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void report(const struct program* p, int runs) {
  double sum = 0;
  for (int i = 0; i < runs; i++) sum += p->ms[i];
  double faults = median_of(p->faults, runs);
  double median = median_of(p->ms, runs);
  int p95 = (int)(0.95 * runs);
  if (p95 >= runs) p95 = runs - 1;
  printf("execbench %s runs=%d median=%.3f mean=%.3f min=%.3f p95=%.3f max=%.3f faults=%.0f\n",
         p->label, runs, median, sum / runs, p->ms[0], p->ms[p95], p->ms[runs - 1], faults);
}

int main(int argc, char** argv) {
  int runs = argc > 2 ? atoi(argv[1]) : 0;
  int n = argc - 2;
  if (runs < 1 || n < 1 || n > kMaxPrograms) {
    fprintf(stderr, "usage: execbench RUNS LABEL=PROGRAM[,ARG...] ...  (at most %d)\n",
            kMaxPrograms);
    return 2;
  }
  struct program progs[kMaxPrograms];
  for (int i = 0; i < n; i++) {
    parse(argv[i + 2], &progs[i]);
    progs[i].ms = calloc(runs, sizeof(double));
    progs[i].faults = calloc(runs, sizeof(double));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  for (int i = 0; i < n; i++) run_once(&progs[i], &fa, NULL);  // one warm-up each: page cache
  for (int r = 0; r < runs; r++)
    for (int i = 0; i < n; i++) progs[i].ms[r] = run_once(&progs[i], &fa, &progs[i].faults[r]);
  for (int i = 0; i < n; i++) report(&progs[i], runs);
  return 0;
}
