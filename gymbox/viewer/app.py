"""The viewer's web app: a JSON API over indexed runs, and one hand-written page that draws it.

The page (`static/`) is package data with no third-party script and no network fetch but this API,
so it works offline. Runs are addressed by their position on the command line.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from gymbox.viewer.conversation import conversation
from gymbox.viewer.index import RunIndex
from gymbox.viewer.queries import SORTS, TaskFilter, compare, task_page

_STATIC_TYPES = {"app.js": "text/javascript", "app.css": "text/css"}
_PAGE_LIMIT = 500


def create_viewer_app(runs: list[RunIndex]) -> FastAPI:
    app = FastAPI(title="gymbox view", docs_url=None, redoc_url=None, openapi_url=None)
    static = resources.files("gymbox.viewer") / "static"

    def run_at(run: int) -> RunIndex:
        if not 0 <= run < len(runs):
            raise HTTPException(404, f"no run {run}: runs are 0..{len(runs) - 1}")
        return runs[run]

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return (static / "index.html").read_text(encoding="utf-8")

    @app.get("/static/{name}")
    async def asset(name: str) -> Response:
        if name not in _STATIC_TYPES:
            raise HTTPException(404, f"no asset {name}")
        return Response((static / name).read_bytes(), media_type=_STATIC_TYPES[name])

    @app.get("/api/runs")
    async def list_runs() -> list[dict[str, Any]]:
        return [
            {
                "id": i,
                "name": run.name,
                "path": str(run.path),
                "rows": len(run),
                "tasks": len(run.tasks),
                "skipped_lines": run.skipped_lines,
                "environments": sorted({t.environment for t in run.profile.tasks.values()}),
                "agents": sorted({t.agent for t in run.profile.tasks.values()}),
                "statuses": sorted(run.profile.statuses),
            }
            for i, run in enumerate(runs)
        ]

    @app.get("/api/runs/{run}/overview")
    async def overview(run: int) -> dict[str, Any]:
        return run_at(run).profile.summary()

    @app.get("/api/runs/{run}/tasks")
    async def tasks(
        run: int,
        environment: str = "",
        agent: str = "",
        status: str = "",
        min_reward: float | None = None,
        max_reward: float | None = None,
        q: str = "",
        constant: bool | None = None,
        sort: Annotated[str, Query(pattern="|".join(SORTS))] = "index",
        desc: bool = False,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=_PAGE_LIMIT)] = 100,
    ) -> dict[str, Any]:
        where = TaskFilter(environment, agent, status, min_reward, max_reward, q.strip(), constant)
        return task_page(run_at(run), where, sort=sort, descending=desc, offset=offset, limit=limit)

    @app.get("/api/runs/{run}/tasks/{task_id}")
    async def task(run: int, task_id: int) -> dict[str, Any]:
        index = run_at(run)
        if not 0 <= task_id < len(index.tasks):
            raise HTTPException(404, f"run {run} has no task {task_id}")
        rows = index.task_rows(task_id)
        return {
            "id": task_id,
            **index.task(task_id).as_dict(),
            "rows": [
                {
                    "row_id": r.row_id,
                    "repeat": r.repeat,
                    "status": r.status,
                    "reward": r.reward,
                    "latency_s": r.latency_s,
                }
                for r in rows
            ],
        }

    @app.get("/api/runs/{run}/rollouts/{row_id}")
    async def rollout(run: int, row_id: int) -> dict[str, Any]:
        index = run_at(run)
        try:
            row = index.read(row_id)
        except KeyError:
            raise HTTPException(404, f"run {run} has no rollout {row_id}") from None
        task_id = index.task_of(row_id)
        return {"row_id": row_id, "task_id": task_id, **conversation(row), "raw": row}

    @app.get("/api/compare")
    async def compare_runs(
        a: int,
        b: int,
        q: str = "",
        sort: Annotated[str, Query(pattern="delta|index")] = "delta",
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=_PAGE_LIMIT)] = 100,
    ) -> dict[str, Any]:
        return compare(run_at(a), run_at(b), text=q.strip(), sort=sort, offset=offset, limit=limit)

    return app
