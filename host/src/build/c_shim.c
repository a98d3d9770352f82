// Written by `host build`; do not edit.
//
// wasi-libc calls these WASI preview1 functions to reach the operating
// system. Defining them here links them into the revision, so the component
// imports no WASI at all: the host's sandbox is the only world it sees.
// Each answer is "nothing": no environment, no arguments, no preopened
// directory (so every open fails), end of file on stdin. Attempts to read
// the environment or the file system are written to the host's log through
// the migration's own log import, so an operator sees them. stdout and stderr
// go to the same log. Clocks and random numbers are fixed sequences, so a
// run is reproducible. Only the functions a revision actually calls stay in
// the module (the linker drops the rest).
#include <stdint.h>
#include <string.h>
#include "migration.h"

#define ERRNO_SUCCESS 0
#define ERRNO_BADF 8
#define ERRNO_NOSYS 52
#define ERRNO_SPIPE 70
#define ERRNO_NOTCAPABLE 76

static void shim_log(pgwasm_migration_context_level_t level, const char *text, size_t len) {
  migration_string_t s = {(uint8_t *)text, len};
  pgwasm_migration_context_log(level, &s);
}

static void shim_note(const char *text) {
  shim_log(PGWASM_MIGRATION_TYPES_LEVEL_WARN, text, strlen(text));
}

int32_t __imported_wasi_snapshot_preview1_environ_sizes_get(int32_t count, int32_t size) {
  shim_note("sandbox: the revision read the environment; it is empty");
  *(uint32_t *)(uintptr_t)count = 0;
  *(uint32_t *)(uintptr_t)size = 0;
  return ERRNO_SUCCESS;
}

int32_t __imported_wasi_snapshot_preview1_environ_get(int32_t environ, int32_t buf) {
  (void)environ;
  (void)buf;
  return ERRNO_SUCCESS;
}

int32_t __imported_wasi_snapshot_preview1_args_sizes_get(int32_t count, int32_t size) {
  *(uint32_t *)(uintptr_t)count = 0;
  *(uint32_t *)(uintptr_t)size = 0;
  return ERRNO_SUCCESS;
}

int32_t __imported_wasi_snapshot_preview1_args_get(int32_t argv, int32_t buf) {
  (void)argv;
  (void)buf;
  return ERRNO_SUCCESS;
}

// wasi-libc asks for preopened directories (fd 3, 4, ...) when it starts;
// "bad descriptor" on fd 3 means there are none.
int32_t __imported_wasi_snapshot_preview1_fd_prestat_get(int32_t fd, int32_t buf) {
  (void)fd;
  (void)buf;
  return ERRNO_BADF;
}

// Every open, stat, mkdir... of a path asks wasi-libc which preopened
// directory holds it; `host build` links with --wrap so the question lands
// here, is logged with the path, and gets "none".
int __wrap___wasilibc_find_relpath(const char *path, const char **abs_prefix, char **relative_path,
                                   size_t relative_path_len) {
  (void)abs_prefix;
  (void)relative_path;
  (void)relative_path_len;
  char line[512];
  size_t len = strlen(path);
  static const char before[] = "sandbox: the revision tried to open ";
  static const char after[] = "; there is no file system";
  if (len > sizeof line - sizeof before - sizeof after) len = sizeof line - sizeof before - sizeof after;
  memcpy(line, before, sizeof before - 1);
  memcpy(line + sizeof before - 1, path, len);
  memcpy(line + sizeof before - 1 + len, after, sizeof after);
  shim_note(line);
  return -1;
}

int32_t __imported_wasi_snapshot_preview1_fd_prestat_dir_name(int32_t fd, int32_t path, int32_t len) {
  (void)fd;
  (void)path;
  (void)len;
  return ERRNO_BADF;
}

int32_t __imported_wasi_snapshot_preview1_path_open(int32_t fd, int32_t dirflags, int32_t path,
                                                    int32_t path_len, int32_t oflags, int64_t base,
                                                    int64_t inheriting, int32_t fdflags,
                                                    int32_t opened) {
  (void)fd; (void)dirflags; (void)path; (void)path_len; (void)oflags;
  (void)base; (void)inheriting; (void)fdflags; (void)opened;
  shim_note("sandbox: the revision tried to open a file; there is no file system");
  return ERRNO_NOTCAPABLE;
}

// stdout and stderr become log lines (info and warn); any other descriptor
// does not exist.
int32_t __imported_wasi_snapshot_preview1_fd_write(int32_t fd, int32_t iovs, int32_t iovs_len,
                                                   int32_t written) {
  if (fd != 1 && fd != 2) {
    return ERRNO_BADF;
  }
  const struct { uint32_t buf; uint32_t len; } *iov = (const void *)(uintptr_t)iovs;
  uint32_t total = 0;
  for (int32_t i = 0; i < iovs_len; i++) {
    const char *text = (const char *)(uintptr_t)iov[i].buf;
    size_t len = iov[i].len;
    total += iov[i].len;
    while (len > 0 && text[len - 1] == '\n') {
      len--;
    }
    if (len > 0) {
      shim_log(fd == 1 ? PGWASM_MIGRATION_TYPES_LEVEL_INFO : PGWASM_MIGRATION_TYPES_LEVEL_WARN,
               text, len);
    }
  }
  *(uint32_t *)(uintptr_t)written = total;
  return ERRNO_SUCCESS;
}

int32_t __imported_wasi_snapshot_preview1_fd_read(int32_t fd, int32_t iovs, int32_t iovs_len,
                                                  int32_t read) {
  (void)iovs;
  (void)iovs_len;
  if (fd != 0) {
    return ERRNO_BADF;
  }
  *(uint32_t *)(uintptr_t)read = 0;
  return ERRNO_SUCCESS;
}

// A character device for 0-2, so stdio line-buffers like a terminal and
// every line reaches the log before the call returns.
int32_t __imported_wasi_snapshot_preview1_fd_fdstat_get(int32_t fd, int32_t stat) {
  if (fd < 0 || fd > 2) {
    return ERRNO_BADF;
  }
  memset((void *)(uintptr_t)stat, 0, 24);
  *(uint8_t *)(uintptr_t)stat = 2;
  return ERRNO_SUCCESS;
}

int32_t __imported_wasi_snapshot_preview1_fd_fdstat_set_flags(int32_t fd, int32_t flags) {
  (void)fd;
  (void)flags;
  return ERRNO_NOSYS;
}

int32_t __imported_wasi_snapshot_preview1_fd_seek(int32_t fd, int64_t offset, int32_t whence,
                                                  int32_t position) {
  (void)fd; (void)offset; (void)whence; (void)position;
  return ERRNO_SPIPE;
}

int32_t __imported_wasi_snapshot_preview1_fd_close(int32_t fd) {
  (void)fd;
  return ERRNO_SUCCESS;
}

// 2025-01-01T00:00:00Z, a microsecond later at each reading.
static uint64_t shim_clock_ns = 1735689600000000000ull;

int32_t __imported_wasi_snapshot_preview1_clock_time_get(int32_t id, int64_t precision,
                                                         int32_t time) {
  (void)id;
  (void)precision;
  shim_clock_ns += 1000;
  *(uint64_t *)(uintptr_t)time = shim_clock_ns;
  return ERRNO_SUCCESS;
}

int32_t __imported_wasi_snapshot_preview1_clock_res_get(int32_t id, int32_t resolution) {
  (void)id;
  *(uint64_t *)(uintptr_t)resolution = 1000;
  return ERRNO_SUCCESS;
}

// A fixed xorshift sequence: the same bytes every run.
static uint64_t shim_random_state = 0x9e3779b97f4a7c15ull;

int32_t __imported_wasi_snapshot_preview1_random_get(int32_t buf, int32_t len) {
  uint8_t *out = (uint8_t *)(uintptr_t)buf;
  for (int32_t i = 0; i < len; i++) {
    shim_random_state ^= shim_random_state << 13;
    shim_random_state ^= shim_random_state >> 7;
    shim_random_state ^= shim_random_state << 17;
    out[i] = (uint8_t)shim_random_state;
  }
  return ERRNO_SUCCESS;
}

int32_t __imported_wasi_snapshot_preview1_sched_yield(void) {
  return ERRNO_SUCCESS;
}

_Noreturn void __imported_wasi_snapshot_preview1_proc_exit(int32_t code) {
  (void)code;
  shim_note("sandbox: the revision called exit(); stopping it");
  __builtin_trap();
}
