#!/usr/bin/env python3
"""Foreign-key cascades on MariaDB: InnoDB logs only the parent's row, so
tagpurge derives the children's tags from the edges it read from
information_schema.  A recording node (capture.py) shows the exact tags of
each transaction:

- UPDATE of categories.id (ON UPDATE CASCADE): the child's FK-only template
  from the old and the new key, plus the child's fallback tags;
- DELETE of a category: the child's FK-only template from the parent's key
  and its fallback tags, the grandchild's fallback tags (its product_id
  values are products.id nobody logged), and the SET NULL child's FK-only
  template from the old value plus its fallback tags;
- a RESTRICT edge purges nothing extra;
- a DELETE of a mapped child purges its own tags as before, plus its children's;
- a foreign key added by DDL after start is followed by the next cascade;
- a statement-format DELETE of a parent purges every mapped table below it (fallback tags);
- cascades are counted (tagpurge_cascade_purges_total), logged at debug, and
  `check --online` lists the edges (and says when the rules are not visible).
"""
import json
import os
import subprocess
import sys

import tp
import tpmy

SCHEMA = """
DROP TABLE IF EXISTS products, names, markers;
CREATE TABLE categories(id int PRIMARY KEY, name varchar(50)) ENGINE=InnoDB;
CREATE TABLE products(id int PRIMARY KEY, category_id int, name varchar(50),
  CONSTRAINT fk_prod_cat FOREIGN KEY (category_id) REFERENCES categories(id)
    ON DELETE CASCADE ON UPDATE CASCADE) ENGINE=InnoDB;
CREATE TABLE product_images(id int PRIMARY KEY, product_id int, url varchar(50),
  CONSTRAINT fk_img_prod FOREIGN KEY (product_id) REFERENCES products(id)
    ON DELETE CASCADE) ENGINE=InnoDB;
CREATE TABLE featured(id int PRIMARY KEY, category_id int NULL,
  CONSTRAINT fk_feat_cat FOREIGN KEY (category_id) REFERENCES categories(id)
    ON DELETE SET NULL) ENGINE=InnoDB;
CREATE TABLE brands(id int PRIMARY KEY) ENGINE=InnoDB;
CREATE TABLE brand_products(id int PRIMARY KEY, brand_id int,
  CONSTRAINT fk_bp_brand FOREIGN KEY (brand_id) REFERENCES brands(id)
    ON DELETE RESTRICT) ENGINE=InnoDB;
CREATE TABLE reviews(id int PRIMARY KEY, product_id int) ENGINE=InnoDB;
CREATE TABLE markers(id int PRIMARY KEY) ENGINE=InnoDB;
INSERT INTO categories VALUES (3, 'c3'), (4, 'c4'), (5, 'c5');
INSERT INTO products VALUES (1, 3, 'p1'), (2, 3, 'p2'), (3, 4, 'p3'), (4, 5, 'p4');
INSERT INTO product_images VALUES (10, 1, 'u10'), (11, 3, 'u11');
INSERT INTO featured VALUES (20, 3), (21, 5);
INSERT INTO brands VALUES (7), (8);
INSERT INTO brand_products VALUES (30, 8);
INSERT INTO reviews VALUES (40, 3), (41, 4);
"""


def mapping(db):
    return {
        f"{db}.products": {"tags": ["product-{id}", "category-{category_id}"],
                           "fallback_tags": ["products"]},
        f"{db}.product_images": {"tags": ["image-{id}", "product-img-{product_id}"],
                                 "fallback_tags": ["images"]},
        f"{db}.featured": {"tags": ["featured-{id}", "featured-cat-{category_id}"],
                           "fallback_tags": ["featured"]},
        f"{db}.brand_products": {"tags": ["bp-{id}", "brand-{brand_id}"],
                                 "fallback_tags": ["brand-products"]},
        f"{db}.reviews": {"tags": ["review-{id}", "review-product-{product_id}"],
                          "fallback_tags": ["reviews"]},
        f"{db}.markers": {"tags": ["marker-{id}"]},
    }


def purged_by(c, node, q, txn):
    """Commit q (as one transaction when txn); the set of tags the node received for it."""
    n = len(node.requests())
    if txn:
        c.wait_confirmed(c.commit(q))
    else:
        c.sql(q)
        c.wait_confirmed(c.position())
    tags = set()
    for _, hdrs, _, _ in node.requests()[n:]:
        tags.update(hdrs["xkey-purge"].split())
    return tags


def expect(c, node, q, want, txn=True):
    got = purged_by(c, node, q, txn)
    tp.check(got == set(want), f"{q}: purged {sorted(got)}, expected {sorted(want)}")


def body(c):
    c.sql(SCHEMA)
    node = c.stub("node")
    path = c.config([{"name": "edge", "type": "xkey", "nodes": [node.url]}],
                    mapping=mapping(c.db))
    cfg = json.loads(path.read_text())
    cfg["listen"] = "127.0.0.1:0"
    path.write_text(json.dumps(cfg, indent=2))
    env = dict(os.environ, TAGPURGE_MY_PASSWORD="replpw")

    out = subprocess.run([c.bin, "check", "-c", str(path)], capture_output=True, text=True,
                         env=env, timeout=30)
    tp.check(out.returncode == 0 and "foreign-key cascade edges are read from the server at "
             "connect" in out.stdout, f"offline check: {out.returncode} {out.stdout}{out.stderr}")
    # MariaDB shows REFERENTIAL_CONSTRAINTS (the rules) only to a user with more than SELECT:
    # until then every edge counts as CASCADE (more purges), and check --online says so.
    online = [c.bin, "check", "--online", "-c", str(path)]
    out = subprocess.run(online, capture_output=True, text=True, env=env, timeout=30)
    tp.check(out.returncode == 1 and
             f"cascade edge {c.db}.brands(id) -> {c.db}.brand_products(brand_id) [fk_bp_brand] "
             f"ON DELETE UNKNOWN (treated as CASCADE)" in out.stdout and
             "GRANT REFERENCES" in out.stderr, f"check without REFERENCES: {out.returncode} "
             f"{out.stdout}{out.stderr}")
    c.my.sql(f"GRANT REFERENCES ON {c.db}.* TO 'repl'@'127.0.0.1'")
    out = subprocess.run(online, capture_output=True, text=True, env=env, timeout=30)
    for want in (f"cascade edge {c.db}.categories(id) -> {c.db}.products(category_id) "
                 f"[fk_prod_cat] ON DELETE CASCADE ON UPDATE CASCADE",
                 f"cascade edge {c.db}.products(id) -> {c.db}.product_images(product_id) "
                 f"[fk_img_prod] ON DELETE CASCADE ON UPDATE NO ACTION",
                 f"cascade edge {c.db}.categories(id) -> {c.db}.featured(category_id) "
                 f"[fk_feat_cat] ON DELETE SET NULL ON UPDATE NO ACTION",
                 f"cascade edge {c.db}.brands(id) -> {c.db}.brand_products(brand_id) "
                 f"[fk_bp_brand] ON DELETE NO ACTION ON UPDATE NO ACTION"):
        tp.check(want in out.stdout, f"check --online lacks {want!r}:\n{out.stdout}{out.stderr}")

    c.start()
    # ON UPDATE CASCADE: products.category_id 4 -> 6 for product 3, whose id InnoDB did not
    # log: category-4 and category-6 rendered, products (for product-{id}) as fallback.
    # Images reference products.id, which did not change: nothing for them.
    expect(c, node, "UPDATE categories SET id = 6 WHERE id = 4",
           ["category-4", "category-6", "products"])
    # ON DELETE CASCADE to products (1, 2) and on to product_images (10); SET NULL on featured 20.
    expect(c, node, "DELETE FROM categories WHERE id = 3",
           ["category-3", "products", "images", "featured-cat-3", "featured"])
    # RESTRICT edge: deleting a brand without products purges nothing (only the marker).
    expect(c, node, "DELETE FROM brands WHERE id = 7; INSERT INTO markers VALUES (1)",
           ["marker-1"])
    # A mapped child's own row: its tags as before, plus its children's (no FK on reviews yet).
    expect(c, node, "DELETE FROM products WHERE id = 4",
           ["product-4", "category-5", "product-img-4", "images"])
    # DDL after start: the new FK is read again and the next cascade follows it.
    c.sql("DELETE FROM reviews WHERE id = 41; ALTER TABLE reviews ADD CONSTRAINT fk_rev_prod FOREIGN KEY (product_id) "
          "REFERENCES products(id) ON DELETE CASCADE")
    c.wait_confirmed(c.position())  # the DDL itself purges both tables' fallback tags
    expect(c, node, "DELETE FROM products WHERE id = 3",
           ["product-3", "category-6", "product-img-3", "images", "review-product-3", "reviews"])
    tp.check(c.sql("SELECT COUNT(*) FROM reviews") == "0", "the review was not cascaded")
    # A statement-format DELETE of a parent has no rows to derive from: every mapped table
    # below it purges its fallback tags.
    expect(c, node, "SET SESSION binlog_format = STATEMENT; DELETE FROM categories WHERE id = 5",
           ["products", "featured", "images", "reviews"], txn=False)

    m = c.metrics()
    # 1 (update) + 3 (products, images, featured) + 0 + 1 (images) + 2 (images, reviews)
    # + 4 (the statement's closure)
    tp.check(m.get("tagpurge_cascade_purges_total") == 11,
             f"cascade_purges: {m.get('tagpurge_cascade_purges_total')}")
    log = c.log.read_text()
    for want in (f"cascade: logged DELETE of {c.db}.categories -> {c.db}.products (fk_prod_cat) "
                 f"ON DELETE CASCADE",
                 f"cascade: derived DELETE of {c.db}.products -> {c.db}.product_images "
                 f"(fk_img_prod) ON DELETE CASCADE",
                 f"cascade: logged DELETE of {c.db}.products -> {c.db}.reviews (fk_rev_prod)"):
        tp.check(want in log, f"no debug line {want!r}")
    c.stop()
    c.my.sql(f"REVOKE REFERENCES ON {c.db}.* FROM 'repl'@'127.0.0.1'")


if __name__ == "__main__":
    sys.exit(tpmy.run("my_fk_cascade", body))
