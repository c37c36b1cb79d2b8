"""Sample data for the starter project: customers with a learnable churn signal, and a later batch.

Written with the standard library alone (`mlspec init` runs where only the compiler is installed),
deterministically, so every `mlspec init` writes the same files.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

PLANS = ("basic", "plus", "pro")
HEADER = "customer_id,signup_time,monthly_spend,plan,support_tickets,churned"


def customers(rows: int, seed: int, first_id: int = 1, labelled: bool = True) -> str:
    """`rows` customers as CSV text (without the `churned` column unless `labelled`).

    Churn rises with support tickets and falls with the plan and the spend, so the starter's model
    learns something (ROC AUC about 0.79); one customer in twenty has no ticket count, for `impute`.
    """
    rng = random.Random(seed)  # noqa: S311 (sample data, seeded so every init writes the same files)
    start = datetime(2024, 1, 1) + timedelta(days=seed)
    columns = HEADER.split(",") if labelled else HEADER.split(",")[:-1]
    lines = [",".join(columns)]
    for i in range(rows):
        plan = rng.choices(PLANS, weights=(5, 3, 2))[0]
        spend = round(rng.lognormvariate(3.4 + 0.5 * PLANS.index(plan), 0.45), 2)
        tickets = min(int(rng.expovariate(0.45)), 25)
        logit = -1.6 + 0.5 * tickets - 0.7 * PLANS.index(plan) - 0.01 * (spend - 40)
        churned = int(rng.random() < 1 / (1 + math.exp(-logit)))
        shown = "" if rng.random() < 0.05 else str(tickets)
        signup = (start + timedelta(minutes=397 * i)).strftime("%Y-%m-%dT%H:%M:%S")
        values = [str(first_id + i), signup, f"{spend:.2f}", plan, shown] + ([str(churned)] if labelled else [])
        lines.append(",".join(values))
    return "\n".join(lines) + "\n"


def files() -> dict[str, str]:
    """The sample files by path relative to the project: training data and a later, unlabelled batch."""
    return {"data/customers.csv": customers(1000, seed=7),
            "data/customers_live.csv": customers(300, seed=8, first_id=1001, labelled=False)}
