// Prices in cents: the legacy text price ("12.50") becomes an int8 number of
// cents, computed row by row in C; the downgrade writes the text back.
#include <errno.h>
#include <stdlib.h>
#include "pgwasm.h"

void exports_migration_info(migration_revision_info_t *ret) {
  static const char *const parents[] = {"3f1c0a7e5b21", NULL};
  pg_info(ret, "8d24c6e0a913", parents, "Prices in cents");
}

// "12.50" -> 1250; false for anything that is not digits, a dot and two digits.
static bool parse_cents(const char *text, int64_t *cents) {
  char *end;
  errno = 0;
  long long units = strtoll(text, &end, 10);
  if (errno || end == text || end[0] != '.' || end[1] < '0' || end[1] > '9' || end[2] < '0' ||
      end[2] > '9' || end[3] != 0)
    return false;
  *cents = units * 100 + (end[1] - '0') * 10 + (end[2] - '0');
  return true;
}

// The sandbox gives a revision no environment and no files; this shows it in
// the log (the host's shim logs each attempt too).
static void show_sandbox(void) {
  const char *home = getenv("HOME");
  FILE *f = fopen("/etc/passwd", "r");
  pg_log(PG_INFO, "sandbox check: getenv(\"HOME\") = %s, fopen(\"/etc/passwd\") = %s",
         home ? home : "NULL", f ? "opened" : strerror(errno));
  if (f) fclose(f);
}

bool exports_migration_upgrade(migration_string_t *err) {
  show_sandbox();
  if (!pg_batch("ALTER TABLE products ADD COLUMN price_cents int8", err)) return false;
  pg_rows rows;
  if (!pg_query("SELECT id, price FROM products WHERE price IS NOT NULL ORDER BY id", NULL, 0,
                &rows, err))
    return false;
  size_t n = rows.values.len;
  pg_value *updates = calloc(n ? n * 2 : 1, sizeof *updates);
  bool ok = true;
  for (size_t r = 0; r < n && ok; r++) {
    char *price = pg_text_dup(pg_cell(&rows, r, 1));
    int64_t cents;
    if (!parse_cents(price, &cents)) {
      ok = pg_fail(err, "product %d has price %s, expected digits, a dot and two digits",
                   pg_cell(&rows, r, 0)->val.int4, price);
    } else {
      updates[2 * r] = pg_int4(pg_cell(&rows, r, 0)->val.int4);
      updates[2 * r + 1] = pg_int8(cents);
    }
    free(price);
  }
  uint64_t changed = 0;
  ok = ok && pg_execute_many("UPDATE products SET price_cents = $2 WHERE id = $1", updates, n, 2,
                             &changed, err);
  free(updates);
  pg_rows_free(&rows);
  if (!ok) return false;
  pg_log(PG_INFO, "%llu prices converted to cents", (unsigned long long)changed);
  return pg_batch("ALTER TABLE products DROP COLUMN price", err);
}

bool exports_migration_downgrade(migration_string_t *err) {
  if (!pg_batch("ALTER TABLE products ADD COLUMN price text", err)) return false;
  pg_rows rows;
  if (!pg_query("SELECT id, price_cents FROM products WHERE price_cents IS NOT NULL ORDER BY id",
                NULL, 0, &rows, err))
    return false;
  size_t n = rows.values.len;
  pg_value *updates = calloc(n ? n * 2 : 1, sizeof *updates);
  char (*texts)[32] = calloc(n ? n : 1, sizeof *texts);
  for (size_t r = 0; r < n; r++) {
    int64_t cents = pg_cell(&rows, r, 1)->val.int8;
    snprintf(texts[r], sizeof texts[r], "%lld.%02lld", (long long)(cents / 100),
             (long long)(cents % 100));
    updates[2 * r] = pg_int4(pg_cell(&rows, r, 0)->val.int4);
    updates[2 * r + 1] = pg_text(texts[r]);
  }
  bool ok = pg_execute_many("UPDATE products SET price = $2 WHERE id = $1", updates, n, 2, NULL,
                            err);
  free(updates);
  free(texts);
  pg_rows_free(&rows);
  return ok && pg_batch("ALTER TABLE products DROP COLUMN price_cents", err);
}
