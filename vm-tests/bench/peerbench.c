/* peerbench: the timing helper of vm-tests/bench/peers.sh (a benchmark, not a test).
 *
 *   peerbench floor POOL ORIGIN_ID FIRST_ID COUNT SECTORS
 *       The floor: what any engine must at least do, as raw libdevmapper calls and nothing else.
 *       COUNT times: message "create_snap ID ORIGIN", message "set_transaction_id N N+1",
 *       create + load ("thin <pool dev> ID") + resume of the thin device (node made by
 *       libdevmapper, udev disabled); then COUNT times: remove the dm device, message "delete ID",
 *       message "set_transaction_id". Prints one summary line per phase, and floor-messages: the
 *       two messages alone of each create (the floor of a create without activation).
 *   peerbench scale POOL ORIGIN_ID FIRST_ID COUNT
 *       The floor of a scale run: COUNT times "create_snap ID ORIGIN" + "set_transaction_id", no
 *       activation; prints the summaries of the first and the last 100 (or COUNT/2).
 *   peerbench exec LABEL COUNT CMD [ARG...]
 *       Runs CMD COUNT times (fork + execvp + wait), "%d" in any ARG replaced by the run's index,
 *       its stdout sent to /dev/null (stderr kept), and prints the summary of the wall times; any
 *       failing run stops it with exit 1.
 *
 * Summary line: "LABEL n=N median=MS p95=MS max=MS" (milliseconds, CLOCK_MONOTONIC).
 * It is deliberately plain C with no error recovery beyond reporting: a failed call ends the run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libdevmapper.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static void summary(const char* label, double* ms, int n) {
  qsort(ms, (size_t)n, sizeof *ms, cmp_double);
  int p95 = (int)(0.95 * n);
  if (p95 >= n) p95 = n - 1;
  double median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
  printf("%s n=%d median=%.2f p95=%.2f max=%.2f\n", label, n, median, ms[p95], ms[n - 1]);
  fflush(stdout);
}

static void die(const char* what, const char* name) {
  fprintf(stderr, "peerbench: %s %s failed (errno %d)\n", what, name, errno);
  exit(1);
}

/* One dm ioctl on NAME; MESSAGE for target messages, TABLE ("thin ..." params) for a load. */
static struct dm_task* run_task(int type, const char* name, const char* message,
                                const char* table_params, uint64_t sectors) {
  struct dm_task* t = dm_task_create(type);
  if (!t || !dm_task_set_name(t, name)) die("dm_task_create/set_name", name);
  if (message && (!dm_task_set_sector(t, 0) || !dm_task_set_message(t, message))) {
    die("set message", name);
  }
  if (table_params && !dm_task_add_target(t, 0, sectors, "thin", table_params)) {
    die("add_target", name);
  }
  if (!dm_task_run(t)) {
    fprintf(stderr, "peerbench: ioctl %d on %s (%s) failed\n", type, name, message ? message : "");
    exit(1);
  }
  return t;
}

static void simple(int type, const char* name, const char* message, const char* params,
                   uint64_t sectors) {
  dm_task_destroy(run_task(type, name, message, params, sectors));
}

static uint64_t pool_transaction_id(const char* pool) {
  struct dm_task* t = run_task(DM_DEVICE_STATUS, pool, NULL, NULL, 0);
  uint64_t start, length;
  char *type, *params;
  dm_get_next_target(t, NULL, &start, &length, &type, &params);
  uint64_t txn = strtoull(params, NULL, 10);
  dm_task_destroy(t);
  return txn;
}

static void message(const char* pool, const char* text) {
  simple(DM_DEVICE_TARGET_MSG, pool, text, NULL, 0);
}

static int floor_run(const char* pool, unsigned origin, unsigned first, int count,
                     uint64_t sectors) {
  char pool_dev[300], name[300], params[400], text[128];
  snprintf(pool_dev, sizeof pool_dev, "/dev/mapper/%s", pool);
  uint64_t txn = pool_transaction_id(pool);
  double* create_ms = calloc((size_t)count, sizeof(double));
  double* remove_ms = calloc((size_t)count, sizeof(double));
  double* messages_ms = calloc((size_t)count, sizeof(double));
  for (int i = 0; i < count; ++i) {
    unsigned id = first + (unsigned)i;
    snprintf(name, sizeof name, "%s-floor-%u", pool, id);
    snprintf(params, sizeof params, "%s %u", pool_dev, id);
    double t0 = now_ms();
    snprintf(text, sizeof text, "create_snap %u %u", id, origin);
    message(pool, text);
    snprintf(text, sizeof text, "set_transaction_id %" PRIu64 " %" PRIu64, txn, txn + 1);
    message(pool, text);
    ++txn;
    messages_ms[i] = now_ms() - t0;
    simple(DM_DEVICE_CREATE, name, NULL, NULL, 0);
    simple(DM_DEVICE_RELOAD, name, NULL, params, sectors);
    simple(DM_DEVICE_RESUME, name, NULL, NULL, 0);
    dm_task_update_nodes();
    create_ms[i] = now_ms() - t0;
    snprintf(params, sizeof params, "/dev/mapper/%s", name);
    if (access(params, F_OK) != 0) die("device node", params);
  }
  for (int i = 0; i < count; ++i) {
    unsigned id = first + (unsigned)i;
    snprintf(name, sizeof name, "%s-floor-%u", pool, id);
    double t0 = now_ms();
    simple(DM_DEVICE_REMOVE, name, NULL, NULL, 0);
    dm_task_update_nodes();
    snprintf(text, sizeof text, "delete %u", id);
    message(pool, text);
    snprintf(text, sizeof text, "set_transaction_id %" PRIu64 " %" PRIu64, txn, txn + 1);
    message(pool, text);
    ++txn;
    remove_ms[i] = now_ms() - t0;
  }
  summary("floor-create", create_ms, count);
  summary("floor-remove", remove_ms, count);
  summary("floor-messages", messages_ms, count);
  free(create_ms);
  free(remove_ms);
  free(messages_ms);
  return 0;
}

static int scale_run(const char* pool, unsigned origin, unsigned first, int count) {
  char text[128];
  uint64_t txn = pool_transaction_id(pool);
  int window = count / 2 < 100 ? count / 2 : 100;
  if (window < 1) window = 1;
  double* first_ms = calloc((size_t)window, sizeof(double));
  double* last_ms = calloc((size_t)window, sizeof(double));
  for (int i = 0; i < count; ++i) {
    double t0 = now_ms();
    snprintf(text, sizeof text, "create_snap %u %u", first + (unsigned)i, origin);
    message(pool, text);
    snprintf(text, sizeof text, "set_transaction_id %" PRIu64 " %" PRIu64, txn, txn + 1);
    message(pool, text);
    ++txn;
    double ms = now_ms() - t0;
    if (i < window) first_ms[i] = ms;
    if (i >= count - window) last_ms[i - (count - window)] = ms;
  }
  summary("floor-scale-first", first_ms, window);
  summary("floor-scale-last", last_ms, window);
  free(first_ms);
  free(last_ms);
  return 0;
}

static int exec_run(const char* label, int count, char** argv) {
  double* ms = calloc((size_t)count, sizeof(double));
  int argc = 0;
  while (argv[argc]) ++argc;
  char** args = calloc((size_t)argc + 1, sizeof(char*));
  for (int i = 0; i < count; ++i) {
    for (int a = 0; a < argc; ++a) {
      char* pct = strstr(argv[a], "%d");
      if (!pct) {
        args[a] = argv[a];
        continue;
      }
      if (asprintf(&args[a], "%.*s%d%s", (int)(pct - argv[a]), argv[a], i, pct + 2) < 0) {
        die("asprintf", label);
      }
    }
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) die("fork", label);
    if (pid == 0) {
      int null_fd = open("/dev/null", O_WRONLY);
      if (null_fd >= 0) dup2(null_fd, STDOUT_FILENO);
      execvp(args[0], args);
      fprintf(stderr, "peerbench: exec %s: %s\n", args[0], strerror(errno));
      _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) die("waitpid", label);
    ms[i] = now_ms() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "peerbench: %s run %d: %s exited with status %d\n", label, i, args[0],
              WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      return 1;
    }
    for (int a = 0; a < argc; ++a) {
      if (args[a] != argv[a]) free(args[a]);
    }
  }
  summary(label, ms, count);
  free(args);
  free(ms);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 7 && strcmp(argv[1], "floor") == 0) {
    dm_udev_set_sync_support(0);
    int rc = floor_run(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]), atoi(argv[5]),
                       strtoull(argv[6], NULL, 10));
    dm_lib_release();
    return rc;
  }
  if (argc == 6 && strcmp(argv[1], "scale") == 0) {
    int rc = scale_run(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]), atoi(argv[5]));
    dm_lib_release();
    return rc;
  }
  if (argc >= 5 && strcmp(argv[1], "exec") == 0) return exec_run(argv[2], atoi(argv[3]), argv + 4);
  fprintf(stderr,
          "usage: peerbench floor POOL ORIGIN_ID FIRST_ID COUNT SECTORS\n"
          "       peerbench scale POOL ORIGIN_ID FIRST_ID COUNT\n"
          "       peerbench exec LABEL COUNT CMD [ARG...]   (%%d in an ARG = the run's index)\n");
  return 2;
}
