#!/usr/bin/env python3
"""Foreign-key cascades on PostgreSQL: the server logs every cascaded row as
an ordinary change, so tagpurge purges exactly the children's own tags and no
fallback tags (the MySQL/MariaDB cascade logic is not involved:
tagpurge_cascade_purges_total stays 0).  The children need REPLICA IDENTITY
FULL: with the default identity a cascaded DELETE carries only the key, and an
ON UPDATE CASCADE no old row at all, so category-{category_id} and
product-img-{product_id} would fall back.  The same schema as
test_my_fk_cascade.py; a recording node shows the exact tags.
"""
import sys

import tp

SCHEMA = """
DROP TABLE products, names, markers;
CREATE TABLE categories(id int PRIMARY KEY, name text);
CREATE TABLE products(id int PRIMARY KEY, category_id int, name text,
  CONSTRAINT fk_prod_cat FOREIGN KEY (category_id) REFERENCES categories(id)
    ON DELETE CASCADE ON UPDATE CASCADE);
CREATE TABLE product_images(id int PRIMARY KEY, product_id int, url text,
  CONSTRAINT fk_img_prod FOREIGN KEY (product_id) REFERENCES products(id) ON DELETE CASCADE);
CREATE TABLE featured(id int PRIMARY KEY, category_id int NULL,
  CONSTRAINT fk_feat_cat FOREIGN KEY (category_id) REFERENCES categories(id) ON DELETE SET NULL);
CREATE TABLE brands(id int PRIMARY KEY);
CREATE TABLE brand_products(id int PRIMARY KEY, brand_id int,
  CONSTRAINT fk_bp_brand FOREIGN KEY (brand_id) REFERENCES brands(id) ON DELETE RESTRICT);
CREATE TABLE markers(id int PRIMARY KEY);
ALTER TABLE products REPLICA IDENTITY FULL;
ALTER TABLE product_images REPLICA IDENTITY FULL;
ALTER TABLE featured REPLICA IDENTITY FULL;
ALTER TABLE brand_products REPLICA IDENTITY FULL;
INSERT INTO categories VALUES (3, 'c3'), (4, 'c4'), (5, 'c5');
INSERT INTO products VALUES (1, 3, 'p1'), (2, 3, 'p2'), (3, 4, 'p3');
INSERT INTO product_images VALUES (10, 1, 'u10'), (11, 3, 'u11');
INSERT INTO featured VALUES (20, 3), (21, 5);
INSERT INTO brands VALUES (7), (8);
INSERT INTO brand_products VALUES (30, 8);
"""

MAPPING = {
    "public.products": {"tags": ["product-{id}", "category-{category_id}"],
                        "fallback_tags": ["products"]},
    "public.product_images": {"tags": ["image-{id}", "product-img-{product_id}"],
                              "fallback_tags": ["images"]},
    "public.featured": {"tags": ["featured-{id}", "featured-cat-{category_id}"],
                        "fallback_tags": ["featured"]},
    "public.brand_products": {"tags": ["bp-{id}", "brand-{brand_id}"],
                              "fallback_tags": ["brand-products"]},
    "public.markers": {"tags": ["marker-{id}"]},
}


def expect(c, node, q, want):
    n = len(node.requests())
    c.wait_confirmed(c.commit(q))
    got = set()
    for _, hdrs, _, _ in node.requests()[n:]:
        got.update(hdrs["xkey-purge"].split())
    tp.check(got == set(want), f"{q}: purged {sorted(got)}, expected {sorted(want)}")


def body(c):
    c.sql(SCHEMA)
    node = c.stub("node")
    c.config([{"name": "edge", "type": "xkey", "nodes": [node.url]}], mapping=MAPPING)
    c.start()
    # ON UPDATE CASCADE: the server logs product 3's update with its old row.
    expect(c, node, "UPDATE categories SET id = 6 WHERE id = 4",
           ["product-3", "category-4", "category-6"])
    # ON DELETE CASCADE to products 1 and 2 and on to image 10; SET NULL on featured 20.
    expect(c, node, "DELETE FROM categories WHERE id = 3",
           ["product-1", "product-2", "category-3", "image-10", "product-img-1", "featured-20",
            "featured-cat-3"])
    # RESTRICT: nothing beyond the marker.
    expect(c, node, "DELETE FROM brands WHERE id = 7; INSERT INTO markers VALUES (1)",
           ["marker-1"])
    m = c.metrics()
    tp.check(m.get("tagpurge_cascade_purges_total") == 0,
             f"cascade_purges on PostgreSQL: {m.get('tagpurge_cascade_purges_total')}")
    tp.check(m.get("tagpurge_fallback_purges_total") == 0,
             f"fallback purges: {m.get('tagpurge_fallback_purges_total')}")
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_fk_cascade", body))
