// Written by `host build`; do not edit. The C SDK of pgwasm migrations: thin
// helpers over the wit-bindgen bindings in migration.h.
//
// Ownership: parameters you pass are borrowed for the call (string literals
// and stack arrays are fine); rows a query returns are yours, free them with
// pg_rows_free. Everything an export returns (info, error strings) must be
// heap-allocated: the generated code frees it after the host has read it.
#ifndef PGWASM_H
#define PGWASM_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "migration.h"

typedef pgwasm_migration_types_value_t pg_value;
typedef pgwasm_migration_types_rows_t pg_rows;
typedef pgwasm_migration_types_db_error_t pg_error;

#define PG_NULL PGWASM_MIGRATION_TYPES_VALUE_NULL
#define PG_INT4 PGWASM_MIGRATION_TYPES_VALUE_INT4
#define PG_INT8 PGWASM_MIGRATION_TYPES_VALUE_INT8
#define PG_TEXT PGWASM_MIGRATION_TYPES_VALUE_TEXT

static inline pg_value pg_null(void) { pg_value v = {.tag = PG_NULL}; return v; }
static inline pg_value pg_int4(int32_t i) { pg_value v = {.tag = PG_INT4, .val.int4 = i}; return v; }
static inline pg_value pg_int8(int64_t i) { pg_value v = {.tag = PG_INT8, .val.int8 = i}; return v; }
/// A text value borrowing `s` (NUL-terminated).
static inline pg_value pg_text(const char *s) {
  pg_value v = {.tag = PG_TEXT};
  migration_string_set(&v.val.text, s);
  return v;
}

/// The value at (row, col) of a result.
static inline pg_value *pg_cell(pg_rows *rows, size_t row, size_t col) {
  return &rows->values.ptr[row].ptr[col];
}

/// A text cell as a NUL-terminated copy the caller frees, or NULL for SQL NULL.
static inline char *pg_text_dup(const pg_value *v) {
  if (v->tag == PG_NULL) return NULL;
  const migration_string_t *s = &v->val.text;
  char *out = malloc(s->len + 1);
  memcpy(out, s->ptr, s->len);
  out[s->len] = 0;
  return out;
}

static inline void pg_rows_free(pg_rows *rows) { pgwasm_migration_types_rows_free(rows); }

/// Writes a line to the host's log.
static inline void pg_log(pgwasm_migration_context_level_t level, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  migration_string_t s;
  migration_string_set(&s, buf);
  pgwasm_migration_context_log(level, &s);
}
#define PG_INFO PGWASM_MIGRATION_TYPES_LEVEL_INFO
#define PG_WARN PGWASM_MIGRATION_TYPES_LEVEL_WARN

/// Sets the export's error string and returns false, for `return pg_fail(err, ...)`.
static inline bool pg_fail(migration_string_t *err, const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  migration_string_dup(err, buf);
  return false;
}

/// Turns a database error into the export's error ("what: SQLSTATE message").
static inline bool pg_sql_fail(migration_string_t *err, const char *what, pg_error *e) {
  bool r = pg_fail(err, "%s: %.*s %.*s", what, (int)e->sqlstate.len, (const char *)e->sqlstate.ptr,
                   (int)e->message.len, (const char *)e->message.ptr);
  pgwasm_migration_types_db_error_free(e);
  return r;
}

/// Runs a script of statements without parameters (DDL).
static inline bool pg_batch(const char *script, migration_string_t *err) {
  migration_string_t s;
  pg_error e;
  migration_string_set(&s, script);
  if (!pgwasm_migration_sql_batch(&s, &e)) return pg_sql_fail(err, script, &e);
  return true;
}

/// Runs one statement with `n` parameters; `affected` may be NULL.
static inline bool pg_execute(const char *sql, pg_value *params, size_t n, uint64_t *affected,
                              migration_string_t *err) {
  migration_string_t s;
  pg_error e;
  uint64_t count;
  migration_string_set(&s, sql);
  pgwasm_migration_sql_list_value_t list = {params, n};
  if (!pgwasm_migration_sql_execute(&s, &list, &count, &e)) return pg_sql_fail(err, sql, &e);
  if (affected) *affected = count;
  return true;
}

/// Runs a query with `n` parameters; free `rows` with pg_rows_free.
static inline bool pg_query(const char *sql, pg_value *params, size_t n, pg_rows *rows,
                            migration_string_t *err) {
  migration_string_t s;
  pg_error e;
  migration_string_set(&s, sql);
  pgwasm_migration_sql_list_value_t list = {params, n};
  if (!pgwasm_migration_sql_query(&s, &list, rows, &e)) return pg_sql_fail(err, sql, &e);
  return true;
}

/// Runs one statement per row of `values` (row-major, `cols` per row) in one round trip.
static inline bool pg_execute_many(const char *sql, pg_value *values, size_t nrows, size_t cols,
                                   uint64_t *affected, migration_string_t *err) {
  migration_string_t s;
  pg_error e;
  uint64_t count;
  migration_string_set(&s, sql);
  pgwasm_migration_sql_list_value_t *lists = calloc(nrows ? nrows : 1, sizeof *lists);
  for (size_t r = 0; r < nrows; r++) {
    lists[r].ptr = values + r * cols;
    lists[r].len = cols;
  }
  pgwasm_migration_sql_list_list_value_t all = {lists, nrows};
  bool ok = pgwasm_migration_sql_execute_many(&s, &all, &count, &e);
  free(lists);
  if (!ok) return pg_sql_fail(err, sql, &e);
  if (affected) *affected = count;
  return true;
}

static inline migration_list_string_t pg_strings(const char *const *items, size_t n) {
  migration_list_string_t list = {n ? calloc(n, sizeof(migration_string_t)) : NULL, n};
  for (size_t i = 0; i < n; i++) migration_string_dup(&list.ptr[i], items[i]);
  return list;
}

/// Fills `info()`'s answer; `parents` ends with NULL (empty for a root).
static inline void pg_info(migration_revision_info_t *ret, const char *id,
                           const char *const *parents, const char *message) {
  size_t n = 0;
  while (parents[n]) n++;
  memset(ret, 0, sizeof *ret);
  migration_string_dup(&ret->id, id);
  ret->down_revisions = pg_strings(parents, n);
  migration_string_dup(&ret->message, message);
  ret->transactional = true;
}

#endif
