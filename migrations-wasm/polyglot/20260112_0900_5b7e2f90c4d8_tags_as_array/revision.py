"""Tags as an array: the legacy comma-separated `tags` text becomes a
`tag_list text[]`, split in Python; the downgrade joins it back."""

import os

from pgwasm import Level, Revision, Value_Text, Value_TextArray, batch, execute_many, info, log, query


def show_sandbox():
    """The sandbox gives a revision no environment and no files: log what it sees."""
    try:
        with open("/etc/passwd") as f:
            opened = f"read {len(f.read())} bytes"
    except OSError as e:
        opened = f"{type(e).__name__}: {e.strerror}"
    log(f"sandbox check: os.environ has {len(os.environ)} variable(s), open('/etc/passwd') -> {opened}")


class WitWorld(Revision):
    def info(self):
        return info("5b7e2f90c4d8", ["8d24c6e0a913"], "Tags as an array")

    def upgrade(self):
        show_sandbox()
        batch("ALTER TABLE products ADD COLUMN tag_list text[]")
        updates = []
        for product_id, tags in query("SELECT id, tags FROM products WHERE tags IS NOT NULL ORDER BY id"):
            items = tags.value.split(",") if tags.value else []
            updates.append([product_id, Value_TextArray(items)])
        changed = execute_many("UPDATE products SET tag_list = $2 WHERE id = $1", updates)
        log(f"{changed} tag lists split")
        batch("ALTER TABLE products DROP COLUMN tags")

    def downgrade(self):
        batch("ALTER TABLE products ADD COLUMN tags text")
        updates = [
            [product_id, Value_Text(",".join(tag_list.value))]
            for product_id, tag_list in query("SELECT id, tag_list FROM products WHERE tag_list IS NOT NULL ORDER BY id")
        ]
        execute_many("UPDATE products SET tags = $2 WHERE id = $1", updates)
        batch("ALTER TABLE products DROP COLUMN tag_list")
        log(f"{len(updates)} tag lists joined", Level.INFO)
