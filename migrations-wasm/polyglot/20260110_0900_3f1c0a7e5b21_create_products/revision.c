// Create products: the root of the polyglot chain, with legacy text columns
// the next revisions (C, Python, JavaScript) turn into proper types.
#include "pgwasm.h"

void exports_migration_info(migration_revision_info_t *ret) {
  static const char *const parents[] = {NULL};
  pg_info(ret, "3f1c0a7e5b21", parents, "Create products");
}

bool exports_migration_upgrade(migration_string_t *err) {
  if (!pg_batch("CREATE TABLE products ("
                "  id int4 PRIMARY KEY,"
                "  name text NOT NULL,"
                "  price text,"   // \"12.50\": legacy, becomes cents
                "  tags text,"    // \"office,light\": legacy, becomes text[]
                "  attrs text"    // \"color=red;size=M\": legacy, becomes json
                ")",
                err))
    return false;
  // Seed rows, sent as parameters (never spliced into the SQL).
  static const struct { int32_t id; const char *name, *price, *tags, *attrs; } seed[] = {
      {1, "Espresso cup", "4.50", "kitchen,ceramic", "color=white;size=S"},
      {2, "Desk lamp", "29.99", "office,light", "color=black;watts=40"},
      {3, "Notebook", "3.00", "office", "pages=120"},
      {4, "Tea kettle", "45.10", "", "color=red;volume=1.7"},
      {5, "Gift card", NULL, NULL, NULL},
  };
  enum { ROWS = sizeof seed / sizeof seed[0], COLS = 5 };
  pg_value values[ROWS * COLS];
  for (size_t r = 0; r < ROWS; r++) {
    pg_value *row = &values[r * COLS];
    row[0] = pg_int4(seed[r].id);
    row[1] = pg_text(seed[r].name);
    row[2] = seed[r].price ? pg_text(seed[r].price) : pg_null();
    row[3] = seed[r].tags ? pg_text(seed[r].tags) : pg_null();
    row[4] = seed[r].attrs ? pg_text(seed[r].attrs) : pg_null();
  }
  uint64_t inserted = 0;
  if (!pg_execute_many("INSERT INTO products (id, name, price, tags, attrs) VALUES ($1, $2, $3, $4, $5)",
                       values, ROWS, COLS, &inserted, err))
    return false;
  pg_log(PG_INFO, "seeded %llu products", (unsigned long long)inserted);
  return true;
}

bool exports_migration_downgrade(migration_string_t *err) {
  return pg_batch("DROP TABLE products", err);
}
