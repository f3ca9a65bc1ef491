"""Export the state of the running services (actors, connection pool, database health,
embedded PostgreSQL) as metrics."""

from __future__ import annotations

import attrs

from robolearn.obs import Metrics

from ._services import HttpServices

__all__ = ["watch_services"]


def watch_services(metrics: Metrics, services: HttpServices) -> None:
    def actors() -> dict[str, float]:
        stats = services.actors.statistics()
        return {
            name: float(value)
            for name, value in attrs.asdict(stats).items()
            if isinstance(value, int | float)
        }

    metrics.watch("robolearn_actors", "Thread actor system", actors)
    metrics.watch("robolearn_db_pool", "Database connection pool", services.store.pool_stats)
    health = services.store.health
    if health is not None:
        metrics.watch(
            "robolearn_database",
            "Database as the server sees it (up: 0 while an outage is known)",
            lambda: {
                "up": float(not health.down),
                "down_seconds": health.statistics().down_seconds,
            },
        )
        metrics.watch_counter(
            "robolearn_database_outages",
            "Database outages seen (a probe confirmed the database unreachable)",
            lambda: health.statistics().outages,
        )
    postgres = services.postgres
    if postgres is not None:
        metrics.watch_counter(
            "robolearn_embedded_postgres_restarts",
            "Times the embedded PostgreSQL was started again after it died",
            lambda: postgres.statistics().restarts,
        )
        metrics.watch(
            "robolearn_embedded_postgres",
            "Embedded PostgreSQL",
            lambda: {"up": float(postgres.statistics().state == "up")},
        )
