"""Generate text_to_sql's databases and question/SQL rows, deterministically (stdlib only).

    python environments/text_to_sql/data/generate.py [--out DIR]      # default: this folder

Writes, byte for byte the same on every run:
- `shop.sql`: the shop database the model sees (schema + data as one SQL script);
- `shop_holdout.sql`: a twin with the same schema, the same customer and product names, and different
  seeded data (cities, prices, orders). `verify` runs every answer on both, so a query that hard-codes
  values it looked up is right on the first and wrong on the second;
- `example.jsonl` (5 rows, with scripts for gymbox's scripted test model), `train.jsonl`, `validation.jsonl`.

Questions come from ~30 templates over the vocabulary below. A candidate question is kept only when its
reference query gives one unambiguous answer on both databases: a non-empty result with no NULLs, no ties
where the question orders or limits rows, and the same result when SQLite scans tables in reverse.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MAIN_SEED, HOLDOUT_SEED, SPLIT_SEED = 1, 2, 3
N_VALIDATION = 60
FAMILY_CAP = 25  # at most this many questions per template, so per-customer templates do not swamp the rest
EXAMPLE_SCRIPT = "example"

FIRST_NAMES = (
    "Ada",
    "Bruno",
    "Chiara",
    "Dmitri",
    "Elena",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Karin",
    "Luca",
    "Marta",
    "Nils",
    "Olga",
    "Pablo",
    "Rania",
    "Sven",
    "Tomas",
    "Ulla",
    "Vera",
    "Wim",
    "Yusuf",
    "Zofia",
    "Anouk",
    "Bram",
    "Carmen",
    "Diego",
    "Emma",
    "Felix",
)
LAST_NAMES = (
    "Almeida",
    "Berger",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ivanova",
    "Jansen",
    "Keller",
    "Lopez",
    "Moreau",
    "Novak",
    "Olsen",
    "Peters",
    "Rossi",
    "Schmidt",
    "Torres",
    "Weber",
)
CITIES = {
    "Paris": "France",
    "Lyon": "France",
    "Berlin": "Germany",
    "Munich": "Germany",
    "Madrid": "Spain",
    "Seville": "Spain",
    "Rome": "Italy",
    "Milan": "Italy",
    "Lisbon": "Portugal",
    "Amsterdam": "Netherlands",
}
COUNTRIES = tuple(sorted(set(CITIES.values())))
PRODUCTS = {
    "Books": (
        "Atlas of Rivers",
        "Baking Basics",
        "City of Glass",
        "Deep Work Notes",
        "Garden Year",
        "Night Trains",
        "Quiet Stars",
        "The Last Harbor",
    ),
    "Electronics": (
        "4K Monitor",
        "Action Camera",
        "Bluetooth Speaker",
        "E-Reader",
        "Noise-Cancelling Headphones",
        "Smart Watch",
        "USB-C Hub",
        "Wireless Mouse",
    ),
    "Garden": (
        "Compost Bin",
        "Garden Hose",
        "Hedge Trimmer",
        "Herb Planter",
        "Pruning Shears",
        "Rain Barrel",
        "Seed Starter Kit",
        "Watering Can",
    ),
    "Kitchen": (
        "Cast Iron Pan",
        "Chef Knife",
        "Coffee Grinder",
        "Cutting Board",
        "Espresso Maker",
        "Mixing Bowls",
        "Stand Mixer",
        "Tea Kettle",
    ),
    "Toys": (
        "Building Blocks",
        "Kite",
        "Marble Run",
        "Plush Bear",
        "Puzzle 1000",
        "Remote Car",
        "Wooden Train",
        "Yo-yo",
    ),
}
PRICE_CENTS = {
    "Books": (800, 4500),
    "Electronics": (1500, 45000),
    "Garden": (500, 15000),
    "Kitchen": (1000, 30000),
    "Toys": (500, 12000),
}
PRICE_THRESHOLDS = {
    "Books": (15, 25),
    "Electronics": (100, 200, 300),
    "Garden": (30, 60),
    "Kitchen": (50, 100, 150),
    "Toys": (20, 50),
}
STATUSES = ("pending", "shipped", "delivered", "cancelled")
STATUS_WEIGHTS = (10, 15, 55, 20)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
ORDER_YEARS = (2023, 2024)
SIGNUP_YEARS = (2021, 2022, 2023, 2024)
N_CUSTOMERS, N_ACTIVE, N_PRODUCTS, N_SOLD, N_ORDERS = 60, 52, 36, 31, 240

SCHEMA = """\
CREATE TABLE customers (
  customer_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  city TEXT NOT NULL,
  country TEXT NOT NULL,
  signup_date TEXT NOT NULL -- YYYY-MM-DD
);
CREATE TABLE products (
  product_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  category TEXT NOT NULL, -- Books, Electronics, Garden, Kitchen or Toys
  price REAL NOT NULL -- current list price in EUR
);
CREATE TABLE orders (
  order_id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(customer_id),
  order_date TEXT NOT NULL, -- YYYY-MM-DD
  status TEXT NOT NULL -- 'pending', 'shipped', 'delivered' or 'cancelled'
);
CREATE TABLE order_items (
  order_id INTEGER NOT NULL REFERENCES orders(order_id),
  product_id INTEGER NOT NULL REFERENCES products(product_id),
  quantity INTEGER NOT NULL,
  unit_price REAL NOT NULL, -- the price paid per unit, in EUR
  PRIMARY KEY (order_id, product_id)
);
"""

PROMPT = """\
Write one SQLite query that answers a question about an online shop's database.

Schema:
{schema}
Notes:
- An order's value is the sum of quantity * unit_price over its rows in order_items. unit_price is what the \
customer paid, which can be below the product's current price.
- Dates are TEXT in YYYY-MM-DD form.

Question: {question}

Return exactly the columns the question asks for (their names do not matter). Row order only counts when the \
question asks for one, and numbers are compared to 2 decimal places. The query is graded on this database and \
on a hidden one with the same schema but different data, so it must answer the question in general, not \
hard-code values. You may try read-only queries with the run_query tool first. Give your final answer as a \
single SELECT statement in a ```sql code block."""

VALUE = "oi.quantity * oi.unit_price"
NOT_CANCELLED = "o.status <> 'cancelled'"


# ------------------------------------------------------------------------------------------ databases


def customer_names() -> list[str]:
    rng = random.Random(0)
    pairs = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    return sorted(rng.sample(pairs, N_CUSTOMERS))


def all_products() -> list[tuple[str, str]]:
    return [(name, category) for category, names in PRODUCTS.items() for name in names]


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def database_sql(seed: int) -> str:
    """One shop database as an SQL script: the shared schema and this seed's rows."""
    rng = random.Random(seed)
    names = customer_names()
    rng.shuffle(names)
    cities = sorted(CITIES)
    customers = []
    for customer_id, name in enumerate(names, start=1):
        city = rng.choice(cities)
        signup = datetime.date(rng.choice(SIGNUP_YEARS), rng.randint(1, 12), rng.randint(1, 28))
        customers.append((customer_id, name, city, CITIES[city], signup.isoformat()))
    products = rng.sample(all_products(), N_PRODUCTS)
    prices = {}
    product_rows = []
    for product_id, (name, category) in enumerate(products, start=1):
        prices[product_id] = rng.randint(*PRICE_CENTS[category])
        product_rows.append((product_id, name, category, prices[product_id]))
    active = rng.sample(range(1, N_CUSTOMERS + 1), N_ACTIVE)
    sold = sorted(rng.sample(range(1, N_PRODUCTS + 1), N_SOLD))
    first_day = datetime.date(ORDER_YEARS[0], 1, 1)
    span = (datetime.date(ORDER_YEARS[-1], 12, 31) - first_day).days
    dates = sorted(first_day + datetime.timedelta(days=rng.randint(0, span)) for _ in range(N_ORDERS))
    orders, items = [], []
    for order_id, day in enumerate(dates, start=1):
        status = rng.choices(STATUSES, weights=STATUS_WEIGHTS)[0]
        orders.append((order_id, rng.choice(active), day.isoformat(), status))
        for product_id in sorted(rng.sample(sold, rng.choice((1, 1, 2, 2, 3, 4)))):
            paid = prices[product_id] * 9 // 10 if rng.random() < 0.15 else prices[product_id]
            items.append((order_id, product_id, rng.choice((1, 1, 1, 2, 2, 3, 5)), paid))
    lines = [f"-- The shop database, seed {seed}. Generated by generate.py: do not edit.", SCHEMA.rstrip()]
    lines.append(
        insert("customers", [f"({i}, {quote(n)}, {quote(c)}, {quote(k)}, {quote(s)})" for i, n, c, k, s in customers])
    )
    lines.append(insert("products", [f"({i}, {quote(n)}, {quote(c)}, {money(p)})" for i, n, c, p in product_rows]))
    lines.append(insert("orders", [f"({i}, {c}, {quote(d)}, {quote(s)})" for i, c, d, s in orders]))
    lines.append(insert("order_items", [f"({o}, {p}, {q}, {money(u)})" for o, p, q, u in items]))
    return "\n".join(lines) + "\n"


def insert(table: str, values: list[str]) -> str:
    return f"INSERT INTO {table} VALUES\n  " + ",\n  ".join(values) + ";"


def open_database(sql: str) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.executescript(sql)
    return conn


# ------------------------------------------------------------------------------------------ questions


@dataclass(frozen=True)
class Question:
    family: str
    question: str
    sql: str
    order_matters: bool = False
    # SQL giving the ordering key of every candidate row, best first; the first `distinct_top` keys (all when
    # None) plus the next one must be distinct, so LIMIT and ORDER BY pick one answer.
    key_sql: str | None = None
    distinct_top: int | None = None


def month_filter(year: int, month: int) -> str:
    return f"strftime('%Y-%m', o.order_date) = '{year}-{month:02d}'"


def questions() -> Iterator[Question]:
    """Every candidate question, template by template, in a stable order."""
    yield from customer_questions()
    yield from product_questions()
    yield from order_questions()
    yield from named_questions()


def customer_questions() -> Iterator[Question]:
    for city in CITIES:
        yield Question(
            "customers_in_city",
            f"How many customers live in {city}?",
            f"SELECT COUNT(*) FROM customers WHERE city = {quote(city)}",
        )
        yield Question(
            "distinct_products_by_city",
            f"How many different products have been ordered by customers who live in {city}?",
            "SELECT COUNT(DISTINCT oi.product_id) FROM customers c JOIN orders o ON o.customer_id = "
            "c.customer_id JOIN order_items oi ON oi.order_id = o.order_id "
            f"WHERE c.city = {quote(city)}",
        )
    for country in COUNTRIES:
        yield Question(
            "customers_in_country_sorted",
            f"List the names of all customers from {country}, in alphabetical order.",
            f"SELECT name FROM customers WHERE country = {quote(country)} ORDER BY name",
            order_matters=True,
        )
        yield Question(
            "customers_without_orders_in_country",
            f"List the names of the customers from {country} who have never placed an order.",
            f"SELECT name FROM customers WHERE country = {quote(country)} "
            "AND customer_id NOT IN (SELECT customer_id FROM orders)",
        )
        for year in SIGNUP_YEARS:
            yield Question(
                "signups_by_country_and_year",
                f"How many customers from {country} signed up in {year}?",
                f"SELECT COUNT(*) FROM customers WHERE country = {quote(country)} "
                f"AND strftime('%Y', signup_date) = '{year}'",
            )
        for category in PRODUCTS:
            yield Question(
                "customers_who_bought_category",
                f"List the names of the customers from {country} who have bought at least one "
                f"{category} product (in an order of any status).",
                "SELECT DISTINCT c.name FROM customers c JOIN orders o ON o.customer_id = c.customer_id "
                "JOIN order_items oi ON oi.order_id = o.order_id JOIN products p ON p.product_id = "
                f"oi.product_id WHERE c.country = {quote(country)} AND p.category = {quote(category)}",
            )
    yield Question(
        "customers_without_orders",
        "List the names of the customers who have never placed an order.",
        "SELECT name FROM customers WHERE customer_id NOT IN (SELECT customer_id FROM orders)",
    )


def product_questions() -> Iterator[Question]:
    for category in PRODUCTS:
        yield Question(
            "products_in_category",
            f"How many products are in the {category} category?",
            f"SELECT COUNT(*) FROM products WHERE category = {quote(category)}",
        )
        yield Question(
            "average_price_in_category",
            f"What is the average price of the products in the {category} category?",
            f"SELECT AVG(price) FROM products WHERE category = {quote(category)}",
        )
        for word, direction in (("highest", "DESC"), ("lowest", "ASC")):
            yield Question(
                f"{word}_price_in_category",
                f"Which product in the {category} category has the {word} price? Return its name.",
                f"SELECT name FROM products WHERE category = {quote(category)} ORDER BY price {direction} LIMIT 1",
                key_sql=f"SELECT price FROM products WHERE category = {quote(category)} ORDER BY price {direction}",
                distinct_top=1,
            )
        for threshold in PRICE_THRESHOLDS[category]:
            yield Question(
                "products_above_price",
                f"List the name and price of every {category} product that costs more than "
                f"{threshold} EUR, most expensive first.",
                f"SELECT name, price FROM products WHERE category = {quote(category)} "
                f"AND price > {threshold} ORDER BY price DESC",
                order_matters=True,
                key_sql=f"SELECT price FROM products WHERE category = {quote(category)} "
                f"AND price > {threshold} ORDER BY price DESC",
            )
        yield Question(
            "products_never_ordered_in_category",
            f"List the names of the {category} products that have never been ordered.",
            f"SELECT name FROM products WHERE category = {quote(category)} "
            "AND product_id NOT IN (SELECT product_id FROM order_items)",
        )
        yield Question(
            "items_below_list_price_in_category",
            f"How many order items of {category} products were sold below the product's current price?",
            "SELECT COUNT(*) FROM order_items oi JOIN products p ON p.product_id = oi.product_id "
            f"WHERE p.category = {quote(category)} AND oi.unit_price < p.price",
        )
        for n in (2, 3):
            revenue = (
                "SELECT p.name, SUM(oi.quantity * oi.unit_price) AS revenue FROM products p "
                "JOIN order_items oi ON oi.product_id = p.product_id JOIN orders o ON o.order_id = "
                f"oi.order_id WHERE p.category = {quote(category)} AND {NOT_CANCELLED} "
                "GROUP BY p.product_id ORDER BY revenue DESC"
            )
            yield Question(
                "top_products_by_revenue",
                f"Which {n} products in the {category} category brought in the most revenue from orders "
                "that were not cancelled? Return each product's name and its revenue, highest first.",
                f"{revenue} LIMIT {n}",
                order_matters=True,
                key_sql=f"SELECT revenue FROM ({revenue})",
                distinct_top=n,
            )
    yield Question(
        "products_never_ordered",
        "List the names of the products that have never been ordered.",
        "SELECT name FROM products WHERE product_id NOT IN (SELECT product_id FROM order_items)",
    )
    yield Question(
        "items_below_list_price",
        "How many order items were sold below the product's current price?",
        "SELECT COUNT(*) FROM order_items oi JOIN products p ON p.product_id = oi.product_id "
        "WHERE oi.unit_price < p.price",
    )


def order_questions() -> Iterator[Question]:
    for status in STATUSES:
        yield Question(
            "orders_with_status",
            f"How many orders have the status '{status}'?",
            f"SELECT COUNT(*) FROM orders WHERE status = {quote(status)}",
        )
        yield Question(
            "average_order_value_by_status",
            f"What is the average value of an order with the status '{status}'?",
            "SELECT AVG(total) FROM (SELECT SUM(oi.quantity * oi.unit_price) AS total FROM orders o "
            f"JOIN order_items oi ON oi.order_id = o.order_id WHERE o.status = {quote(status)} "
            "GROUP BY o.order_id)",
        )
        yield Question(
            "units_per_category",
            f"For each product category, how many units were sold in orders with the status "
            f"'{status}'? Return the category and the number of units.",
            "SELECT p.category, SUM(oi.quantity) FROM order_items oi JOIN orders o ON o.order_id = "
            "oi.order_id JOIN products p ON p.product_id = oi.product_id "
            f"WHERE o.status = {quote(status)} GROUP BY p.category",
        )
    yield Question(
        "units_per_category",
        "For each product category, how many units were sold in total, across orders of any status? "
        "Return the category and the number of units.",
        "SELECT p.category, SUM(oi.quantity) FROM order_items oi JOIN products p "
        "ON p.product_id = oi.product_id GROUP BY p.category",
    )
    for year in ORDER_YEARS:
        for month, month_name in enumerate(MONTHS, start=1):
            yield Question(
                "orders_in_month",
                f"How many orders were placed in {month_name} {year}?",
                f"SELECT COUNT(*) FROM orders o WHERE {month_filter(year, month)}",
            )
            yield Question(
                "order_value_in_month",
                f"What was the total value of the orders placed in {month_name} {year}, not counting cancelled orders?",
                f"SELECT SUM({VALUE}) FROM orders o JOIN order_items oi ON oi.order_id = o.order_id "
                f"WHERE {month_filter(year, month)} AND {NOT_CANCELLED}",
            )
        by_month = (
            "SELECT strftime('%Y-%m', o.order_date) AS month, SUM(oi.quantity * oi.unit_price) AS total "
            "FROM orders o JOIN order_items oi ON oi.order_id = o.order_id "
            f"WHERE strftime('%Y', o.order_date) = '{year}' AND {NOT_CANCELLED} "
            "GROUP BY month ORDER BY total DESC"
        )
        yield Question(
            "best_month",
            f"Which month of {year} had the highest total value of orders that were not cancelled? "
            "Return the month as YYYY-MM.",
            f"SELECT month FROM ({by_month} LIMIT 1)",
            key_sql=f"SELECT total FROM ({by_month})",
            distinct_top=1,
        )
    for n in (3, 5):
        for period in (*ORDER_YEARS, None):
            when = f" in {period}" if period else " overall"
            year_filter = f" AND strftime('%Y', o.order_date) = '{period}'" if period else ""
            spend = (
                "SELECT c.name, SUM(oi.quantity * oi.unit_price) AS total FROM customers c JOIN orders o "
                "ON o.customer_id = c.customer_id JOIN order_items oi ON oi.order_id = o.order_id "
                f"WHERE {NOT_CANCELLED}{year_filter} GROUP BY c.customer_id ORDER BY total DESC"
            )
            yield Question(
                "top_customers_by_spend",
                f"Which {n} customers spent the most{when}, counting only orders that were not "
                "cancelled? Return each customer's name and total spent, highest first.",
                f"{spend} LIMIT {n}",
                order_matters=True,
                key_sql=f"SELECT total FROM ({spend})",
                distinct_top=n,
            )
    for k in range(3, 9):
        yield Question(
            "customers_with_many_orders",
            f"List the names of the customers who have placed more than {k} orders (of any status).",
            "SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.customer_id "
            f"GROUP BY c.customer_id HAVING COUNT(*) > {k}",
        )
    for k in range(4, 9):
        yield Question(
            "cities_with_many_customers",
            f"Which cities have at least {k} customers? Return each city and its number of customers.",
            f"SELECT city, COUNT(*) FROM customers GROUP BY city HAVING COUNT(*) >= {k}",
        )
    for k in (2, 3, 4):
        yield Question(
            "orders_with_many_products",
            f"How many orders contain at least {k} different products?",
            "SELECT COUNT(*) FROM (SELECT order_id FROM order_items GROUP BY order_id "
            f"HAVING COUNT(DISTINCT product_id) >= {k})",
        )
    for value in (100, 250, 500, 1000):
        yield Question(
            "orders_above_value",
            f"How many orders have a total value above {value} EUR?",
            "SELECT COUNT(*) FROM (SELECT order_id FROM order_items oi GROUP BY order_id "
            f"HAVING SUM({VALUE}) > {value})",
        )


def named_questions() -> Iterator[Question]:
    """Questions about one customer or one product."""
    names = customer_names()
    for name in names:
        who = f"WHERE c.name = {quote(name)}"
        yield Question(
            "orders_of_customer",
            f"How many orders has {name} placed (of any status)?",
            f"SELECT COUNT(*) FROM orders o JOIN customers c ON c.customer_id = o.customer_id {who}",
        )
        yield Question(
            "spend_of_customer",
            f"How much has {name} spent in total on orders that were not cancelled?",
            f"SELECT SUM({VALUE}) FROM customers c JOIN orders o ON o.customer_id = c.customer_id "
            f"JOIN order_items oi ON oi.order_id = o.order_id {who} AND {NOT_CANCELLED}",
        )
        yield Question(
            "order_history_of_customer",
            f"List the id and date of every order placed by {name}, oldest first.",
            f"SELECT o.order_id, o.order_date FROM orders o JOIN customers c ON c.customer_id = "
            f"o.customer_id {who} ORDER BY o.order_date",
            order_matters=True,
            key_sql=f"SELECT o.order_date FROM orders o JOIN customers c ON c.customer_id = "
            f"o.customer_id {who} ORDER BY o.order_date",
        )
        yield Question(
            "last_order_of_customer",
            f"On what date did {name} place their most recent order? Return the date.",
            f"SELECT MAX(o.order_date) FROM orders o JOIN customers c ON c.customer_id = o.customer_id {who}",
        )
    for product, _ in all_products():
        yield Question(
            "units_of_product",
            f"How many units of '{product}' have been sold in total, across orders of any status?",
            "SELECT SUM(oi.quantity) FROM order_items oi JOIN products p ON p.product_id = "
            f"oi.product_id WHERE p.name = {quote(product)}",
        )


def rows_of(conn: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(sql).fetchall()]


def same_rows(first: list[tuple[Any, ...]], second: list[tuple[Any, ...]], order_matters: bool) -> bool:
    """Equal results as the verifier compares them: floats to 2 decimals, row order only when it matters."""

    def normal(rows: list[tuple[Any, ...]]) -> list[str]:
        out = [repr(tuple(round(v, 2) if isinstance(v, float) else v for v in row)) for row in rows]
        return out if order_matters else sorted(out)

    return normal(first) == normal(second)


def unambiguous(question: Question, databases: list[sqlite3.Connection]) -> bool:
    """Whether the reference query has one clear, non-empty, NULL-free answer on every database."""
    for conn in databases:
        result = rows_of(conn, question.sql)
        if not result or any(value is None for row in result for value in row):
            return False
        if question.key_sql is not None:
            keys = rows_of(conn, question.key_sql)
            top = keys if question.distinct_top is None else keys[: question.distinct_top + 1]
            if len(set(top)) != len(top):
                return False
        conn.execute("PRAGMA reverse_unordered_selects = ON")
        reversed_scan = rows_of(conn, question.sql)
        conn.execute("PRAGMA reverse_unordered_selects = OFF")
        if not same_rows(reversed_scan, result, question.order_matters):
            return False
    return True


def kept_questions(databases: list[sqlite3.Connection]) -> list[Question]:
    """Every unambiguous question, at most FAMILY_CAP per template (a seeded choice), in a stable order."""
    by_family: dict[str, list[Question]] = {}
    for question in questions():
        if unambiguous(question, databases):
            by_family.setdefault(question.family, []).append(question)
    rng = random.Random(SPLIT_SEED)
    kept = []
    for family in sorted(by_family):
        group = by_family[family]
        kept.extend(group if len(group) <= FAMILY_CAP else rng.sample(group, FAMILY_CAP))
    return kept


# ------------------------------------------------------------------------------------------ rows


def tool_definitions() -> list[dict[str, Any]]:
    """The server's `run_query` tool, as `TextToSqlServer.tool_definitions()` gives it (a test checks)."""
    return [
        {
            "type": "function",
            "name": "run_query",
            "description": "Run one read-only SQLite query (a SELECT) on the shop database and see its first rows. "
            "Use it to explore the data and to check a query before answering.",
            "parameters": {
                "properties": {
                    "sql": {
                        "description": "One SQLite SELECT statement",
                        "minLength": 1,
                        "title": "Sql",
                        "type": "string",
                    }
                },
                "required": ["sql"],
                "title": "RunQueryArgs",
                "type": "object",
            },
            "strict": False,
        }
    ]


def make_row(index: int, question: Question, script: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "input": [{"role": "user", "content": PROMPT.format(schema=SCHEMA, question=question.question)}],
        "tools": tool_definitions(),
    }
    if script is not None:
        params["metadata"] = {"gymbox_script": json.dumps(script, separators=(",", ":"))}
    return {
        "responses_create_params": params,
        "id": index,
        "family": question.family,
        "question": question.question,
        "reference_sql": question.sql,
        "order_matters": question.order_matters,
    }


def fenced(sql: str) -> str:
    return f"```sql\n{sql}\n```"


# The example rows: (family, question prefix, the scripted turns). Rows 0-3 earn 1.0, row 4 earns 0.0.
EXAMPLES: tuple[tuple[str, str, Callable[[Question], list[dict[str, Any]]]], ...] = (
    # 0: answers at once with the reference query.
    ("customers_in_city", "How many customers live in Lyon?", lambda q: [{"say": fenced(q.sql)}]),
    # 1: looks at the data with run_query, then answers with an equivalent query written another way.
    (
        "orders_with_status",
        "How many orders have the status 'cancelled'?",
        lambda q: [
            {
                "think": "Check the status values first.",
                "calls": [{"name": "run_query", "arguments": {"sql": "SELECT DISTINCT status FROM orders"}}],
            },
            {"say": "Counting them:\n" + fenced("select count(order_id) as n from orders where status='cancelled';")},
        ],
    ),
    # 2: an ordered question, answered in order, with the columns named differently.
    (
        "top_customers_by_spend",
        "Which 3 customers spent the most overall",
        lambda q: [
            {
                "say": fenced(
                    "SELECT c.name AS customer, SUM(i.quantity * i.unit_price) AS spent\nFROM orders o\n"
                    "JOIN customers c USING (customer_id)\nJOIN order_items i USING (order_id)\n"
                    "WHERE o.status != 'cancelled'\nGROUP BY c.name\nORDER BY spent DESC\nLIMIT 3"
                )
            }
        ],
    ),
    # 3: tries a query that fails, reads the error, and answers with a subquery instead of a join.
    (
        "products_never_ordered_in_category",
        "List the names of the Books products",
        lambda q: [
            {"calls": [{"name": "run_query", "arguments": {"sql": "SELECT name FROM product WHERE category='Books'"}}]},
            {
                "say": fenced(
                    "SELECT name FROM products p WHERE p.category = 'Books' AND NOT EXISTS "
                    "(SELECT 1 FROM order_items oi WHERE oi.product_id = p.product_id)"
                )
            },
        ],
    ),
    # 4: runs the right query, then hard-codes the number it saw: right here, wrong on the held-out database.
    (
        "orders_in_month",
        "How many orders were placed in March 2024?",
        lambda q: [
            {"calls": [{"name": "run_query", "arguments": {"sql": q.sql}}]},
            {"say": "```sql\nSELECT {{ outputs[0].rows[0][0] }}\n```"},
        ],
    ),
)


def example_rows(databases: list[sqlite3.Connection]) -> list[dict[str, Any]]:
    pool = [q for q in questions() if unambiguous(q, databases)]
    rows = []
    for index, (family, prefix, script) in enumerate(EXAMPLES):
        question = next(q for q in pool if q.family == family and q.question.startswith(prefix))
        rows.append(make_row(index, question, script(question)))
    return rows


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n" for row in rows)


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    main_sql, holdout_sql = database_sql(MAIN_SEED), database_sql(HOLDOUT_SEED)
    databases = [open_database(main_sql), open_database(holdout_sql)]
    examples = example_rows(databases)
    taken = {row["question"] for row in examples}
    pool = [q for q in kept_questions(databases) if q.question not in taken]
    random.Random(SPLIT_SEED).shuffle(pool)
    validation, train = pool[:N_VALIDATION], pool[N_VALIDATION:]
    files = {
        "shop.sql": main_sql,
        "shop_holdout.sql": holdout_sql,
        "example.jsonl": jsonl(examples),
        "train.jsonl": jsonl([make_row(i, q) for i, q in enumerate(train)]),
        "validation.jsonl": jsonl([make_row(i, q) for i, q in enumerate(validation)]),
    }
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: this one)")
    generate(parser.parse_args().out)


if __name__ == "__main__":
    main()
