-- A project's budget, so that reports can give the cost per released square metre.
-- One currency for every programme (US dollars, as donors and Article 7 reports use it);
-- NULL when the budget is not known, and then no cost figure is given.
ALTER TABLE project ADD COLUMN budget_usd numeric(14, 2) CHECK (budget_usd >= 0);
