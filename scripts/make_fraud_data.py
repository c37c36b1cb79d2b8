"""Generate the synthetic card-fraud example datasets.

Writes three CSV files into ``--out`` (default: ``data/`` at the repo root):

* ``transactions.csv``          20,000 training rows, 2025-01-01 .. 2025-06-30
* ``transactions_live.csv``      5,000 rows, 2025-07-01 .. 2025-07-31, same distribution
                                 (a clean batch: a drift monitor must not alert on it)
* ``transactions_drifted.csv``   5,000 rows, 2025-08-01 .. 2025-08-31, where only
                                 ``amount``, ``distance_from_home_km`` and
                                 ``merchant_category`` are shifted (still within the data contract)

The output is byte-for-byte deterministic: every file has its own fixed seed
(``numpy.random.default_rng``), floats are written with a fixed format, rows are
sorted by ``event_time`` and lines end in ``\\n``.  Only numpy and the standard
library are used.  (numpy does not promise identical random streams for every
distribution across numpy *versions*; the script prints the sha256 of each file so
a change is easy to spot.)

Rerun with::

    .venv/bin/python scripts/make_fraud_data.py            # writes data/
    .venv/bin/python scripts/make_fraud_data.py --out /tmp/x
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

SEED = 20250101

COLUMNS = [
    "transaction_id",
    "event_time",
    "amount",
    "merchant_category",
    "hour",
    "customer_age",
    "account_age_days",
    "num_tx_last_24h",
    "distance_from_home_km",
    "is_foreign",
    "card_present",
    "is_fraud",
]

CATEGORIES = ["grocery", "travel", "electronics", "restaurants", "fuel", "online", "other"]

# Typical (median) ticket size per merchant category, in currency units.
CATEGORY_MEDIAN_AMOUNT = {
    "grocery": 38.0,
    "travel": 210.0,
    "electronics": 120.0,
    "restaurants": 27.0,
    "fuel": 45.0,
    "online": 42.0,
    "other": 33.0,
}
AMOUNT_LOG_SIGMA = 0.85

# The merchant category is drawn conditionally on card_present, so that the drifted
# category mix can change without changing the card_present marginal.
# Card present (in a shop): no online purchases.
CATEGORY_PROBS_CARD_PRESENT = {
    "grocery": 0.34,
    "travel": 0.03,
    "electronics": 0.06,
    "restaurants": 0.27,
    "fuel": 0.17,
    "online": 0.00,
    "other": 0.13,
}
# Card not present (e-commerce, phone orders, bookings).
CATEGORY_PROBS_CARD_NOT_PRESENT = {
    "grocery": 0.06,
    "travel": 0.14,
    "electronics": 0.10,
    "restaurants": 0.05,
    "fuel": 0.00,
    "online": 0.55,
    "other": 0.10,
}
# August: a strong shift towards online shopping and electronics.
DRIFT_CATEGORY_PROBS_CARD_PRESENT = {
    "grocery": 0.24,
    "travel": 0.03,
    "electronics": 0.25,
    "restaurants": 0.20,
    "fuel": 0.14,
    "online": 0.00,
    "other": 0.14,
}
DRIFT_CATEGORY_PROBS_CARD_NOT_PRESENT = {
    "grocery": 0.02,
    "travel": 0.05,
    "electronics": 0.15,
    "restaurants": 0.02,
    "fuel": 0.00,
    "online": 0.72,
    "other": 0.04,
}
# August: tickets are larger (per-category median x1.6, a little less dispersed; together with
# the new category mix the overall mean amount is up about 60%).
DRIFT_AMOUNT_MULTIPLIER = 1.6
DRIFT_AMOUNT_SIGMA_FACTOR = 0.9
# August: transactions happen much further from home (mean about x2.6).
DRIFT_DISTANCE_MULTIPLIER = 2.5

P_CARD_PRESENT = 0.68
P_FOREIGN = 0.06
P_AGE_MISSING = 0.02

# Relative frequency of transactions per hour of day (0..23).
HOUR_WEIGHTS = np.array(
    [1.2, 0.8, 0.6, 0.5, 0.5, 0.8, 1.5, 2.8, 4.0, 4.8, 5.4, 6.0,
     6.8, 6.4, 5.8, 5.6, 5.8, 6.4, 6.8, 6.2, 5.0, 3.8, 2.6, 1.8]
)  # fmt: skip

MAX_AMOUNT = 49_999.99
MIN_AMOUNT = 0.50
MAX_DISTANCE = 19_999.99
EPOCH = datetime(2025, 1, 1)


@dataclass(frozen=True)
class Batch:
    filename: str
    n_rows: int
    first_id: int
    start: date
    end: date  # inclusive
    drifted: bool
    seed_key: int


BATCHES = [
    Batch("transactions.csv", 20_000, 1, date(2025, 1, 1), date(2025, 6, 30), False, 0),
    Batch("transactions_live.csv", 5_000, 20_001, date(2025, 7, 1), date(2025, 7, 31), False, 1),
    Batch("transactions_drifted.csv", 5_000, 25_001, date(2025, 8, 1), date(2025, 8, 31), True, 2),
]


def _probs(table: dict[str, float]) -> np.ndarray:
    p = np.array([table[c] for c in CATEGORIES], dtype=float)
    return p / p.sum()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def fraud_logit(
    amount: np.ndarray,
    category_idx: np.ndarray,
    hour: np.ndarray,
    age: np.ndarray,
    account_age_days: np.ndarray,
    num_tx: np.ndarray,
    distance: np.ndarray,
    is_foreign: np.ndarray,
    card_present: np.ndarray,
) -> np.ndarray:
    """The (noise-free) log-odds of fraud.  Deliberately nonlinear, with interactions."""
    medians = np.array([CATEGORY_MEDIAN_AMOUNT[c] for c in CATEGORIES])
    # How unusual the ticket is for its merchant category, in log units.
    rel_amount = np.log(amount / medians[category_idx])
    night = hour <= 5
    cnp = card_present == 0
    foreign = is_foreign == 1

    z = np.full(amount.shape, -6.4)
    z += 3.1 * night
    z += 1.9 * np.clip(rel_amount - 0.4, 0.0, 3.0)  # only unusually large tickets matter
    z += 1.0 * night * (rel_amount > 1.0)  # big tickets at night are worse
    z += 0.5 * cnp + 0.4 * foreign + 2.8 * (cnp & foreign)
    z += np.where(account_age_days < 30, 3.3, np.where(account_age_days < 180, 1.3, 0.0))
    z += 0.5 * np.clip(num_tx - 2, 0, 15)  # bursts of activity
    z += 1.4 * np.clip(np.log10(distance + 1.0) - 2.0, 0.0, 2.0)  # > 100 km from home
    z += 0.8 * ((age >= 75) & cnp)
    z -= 0.6 * (category_idx == CATEGORIES.index("grocery"))
    return z


def generate(batch: Batch) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([SEED, batch.seed_key])
    n = batch.n_rows

    # --- time -----------------------------------------------------------------
    n_days = (batch.end - batch.start).days + 1
    day = rng.integers(0, n_days, size=n)
    hour = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    minute = rng.integers(0, 60, size=n)
    second = rng.integers(0, 60, size=n)
    offset = int((datetime.combine(batch.start, datetime.min.time()) - EPOCH).total_seconds())
    ts = offset + day * 86_400 + hour * 3_600 + minute * 60 + second

    # --- channel, category ------------------------------------------------------
    card_present = (rng.random(n) < P_CARD_PRESENT).astype(np.int64)
    is_foreign = (rng.random(n) < P_FOREIGN).astype(np.int64)
    if batch.drifted:
        p_cp, p_cnp = DRIFT_CATEGORY_PROBS_CARD_PRESENT, DRIFT_CATEGORY_PROBS_CARD_NOT_PRESENT
    else:
        p_cp, p_cnp = CATEGORY_PROBS_CARD_PRESENT, CATEGORY_PROBS_CARD_NOT_PRESENT
    cat_cp = rng.choice(len(CATEGORIES), size=n, p=_probs(p_cp))
    cat_cnp = rng.choice(len(CATEGORIES), size=n, p=_probs(p_cnp))
    category_idx = np.where(card_present == 1, cat_cp, cat_cnp)

    # --- amount: log-normal around the category's typical ticket ------------------
    medians = np.array([CATEGORY_MEDIAN_AMOUNT[c] for c in CATEGORIES])
    sigma = AMOUNT_LOG_SIGMA
    mult = 1.0
    if batch.drifted:
        sigma *= DRIFT_AMOUNT_SIGMA_FACTOR
        mult = DRIFT_AMOUNT_MULTIPLIER
    amount = medians[category_idx] * mult * np.exp(sigma * rng.standard_normal(n))
    amount = np.round(np.clip(amount, MIN_AMOUNT, MAX_AMOUNT), 2)

    # --- customer ----------------------------------------------------------------
    # Right-skewed adult ages: mean ~45, mode ~36, a thin tail into the 80s and 90s.
    age = np.rint(18.0 + rng.gamma(3.0, 9.0, size=n))
    age = np.where(age > 95, rng.integers(75, 96, size=n), age).astype(np.int64)
    age_missing = rng.random(n) < P_AGE_MISSING
    is_new = rng.random(n) < 0.07
    account_age = np.where(
        is_new,
        rng.integers(0, 120, size=n),
        np.rint(1_300.0 * np.exp(0.8 * rng.standard_normal(n))),
    )
    # Nobody has held an account for longer than their adult life (plus a little).
    account_age = np.minimum(account_age, (age - 18) * 365 + 200)
    account_age = np.clip(account_age, 0, 10_000).astype(np.int64)
    num_tx = np.clip(rng.negative_binomial(2, 2.0 / (2.0 + 2.5), size=n), 0, 50).astype(np.int64)

    # --- distance from home: depends on foreign / card-not-present ----------------
    base = np.where(is_foreign == 1, 1_500.0, np.where(card_present == 1, 6.0, 20.0))
    spread = np.where(is_foreign == 1, 0.7, 1.2)
    distance = base * np.exp(spread * rng.standard_normal(n))
    if batch.drifted:
        distance = distance * DRIFT_DISTANCE_MULTIPLIER
    distance = np.round(np.clip(distance, 0.0, MAX_DISTANCE), 2)

    # --- label -------------------------------------------------------------------
    z = fraud_logit(amount, category_idx, hour, age, account_age, num_tx, distance, is_foreign, card_present)
    z = z + rng.normal(0.0, 0.3, size=n)  # unobserved factors
    is_fraud = (rng.random(n) < _sigmoid(z)).astype(np.int64)

    order = np.argsort(ts, kind="stable")
    return {
        "transaction_id": np.arange(batch.first_id, batch.first_id + n, dtype=np.int64),
        "ts": ts[order],
        "amount": amount[order],
        "category_idx": category_idx[order],
        "hour": hour[order],
        "customer_age": age[order],
        "age_missing": age_missing[order],
        "account_age_days": account_age[order],
        "num_tx_last_24h": num_tx[order],
        "distance_from_home_km": distance[order],
        "is_foreign": is_foreign[order],
        "card_present": card_present[order],
        "is_fraud": is_fraud[order],
    }


def to_csv_bytes(d: dict[str, np.ndarray]) -> bytes:
    lines = [",".join(COLUMNS)]
    for i in range(len(d["transaction_id"])):
        event_time = (EPOCH + timedelta(seconds=int(d["ts"][i]))).strftime("%Y-%m-%dT%H:%M:%S")
        hour = int(d["hour"][i])
        assert int(event_time[11:13]) == hour
        age = "" if d["age_missing"][i] else str(int(d["customer_age"][i]))
        lines.append(
            ",".join(
                [
                    str(int(d["transaction_id"][i])),
                    event_time,
                    f"{float(d['amount'][i]):.2f}",
                    CATEGORIES[int(d["category_idx"][i])],
                    str(hour),
                    age,
                    str(int(d["account_age_days"][i])),
                    str(int(d["num_tx_last_24h"][i])),
                    f"{float(d['distance_from_home_km'][i]):.2f}",
                    str(int(d["is_foreign"][i])),
                    str(int(d["card_present"][i])),
                    str(int(d["is_fraud"][i])),
                ]
            )
        )
    return ("\n".join(lines) + "\n").encode("ascii")


def main(argv: list[str] | None = None) -> int:
    default_out = Path(__file__).resolve().parent.parent / "data"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=default_out, help="output directory (default: data/ at the repo root)"
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    for batch in BATCHES:
        d = generate(batch)
        payload = to_csv_bytes(d)
        path = out / batch.filename
        path.write_bytes(payload)
        digest = hashlib.sha256(payload).hexdigest()
        print(
            f"{batch.filename:<26} rows={batch.n_rows:>6}  {batch.start}..{batch.end}  "
            f"fraud_rate={d['is_fraud'].mean():.4f}  bytes={len(payload):>8}  sha256={digest[:16]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
