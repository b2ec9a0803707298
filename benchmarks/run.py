"""Run every benchmark and rewrite docs/benchmarks.md (`make bench`)."""

from __future__ import annotations

from benchmarks import intake, release_cost, stats_scale


def main() -> None:
    for name, bench in (("release cost", release_cost), ("stats at scale", stats_scale),
                        ("intake", intake)):
        print(f"{name}: {bench.run()}", flush=True)


if __name__ == "__main__":
    main()
