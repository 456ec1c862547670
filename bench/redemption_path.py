"""The modules a redemption passes through, from its route to its commit.

    python bench/redemption_path.py [--url postgresql://…] [--json out.json] [--tree]

One process, the app called through Flask's test client on a scratch PostgreSQL database seeded
as :mod:`bench.overhead` seeds it (production settings). A resident issues vouchers, three are
redeemed to warm up, then one ``POST /api/v1/redemptions`` (a partner shop's cashier, the
voucher's signed token) runs with ``sys.setprofile`` on while Flask calls the route's view — its
decorators included, so the unit of work's commit is inside, the login and role hooks that run
before every request are not. Every Python call whose code lives in the ``pointsbank`` package
is attributed to its module; a call is a **boundary crossing** when the nearest ``pointsbank``
frame above it belongs to another module (library frames in between — SQLAlchemy, Flask — are
skipped). Printed: the distinct modules, the distinct module-to-module edges, the crossings in
all, and the path (the modules in the order first entered, and with ``--tree`` every crossing
indented by depth).

The figures are deterministic for a given commit (no timing): run it on two commits to compare
their shape. A redemption that answers anything but 201 stops the run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import SECRET, migrate, scratch_database, sqlalchemy_url  # noqa: E402


def _module_of(filename: str, package_dir: str) -> str | None:
    if not filename.startswith(package_dir):
        return None
    relative = Path(filename).relative_to(Path(package_dir).parent).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class Crossings:
    """What one profiled call of a view crossed."""

    def __init__(self, package_dir: str) -> None:
        self.package_dir = package_dir
        self.modules: list[str] = []  # in the order first entered
        self.edges: dict[tuple[str, str], int] = {}
        self.crossings: list[tuple[int, str, str]] = []  # (depth, caller module.function, callee module.function)

    def _nearest(self, frame: Any) -> tuple[Any, str] | None:
        while frame is not None:
            module = _module_of(frame.f_code.co_filename, self.package_dir)
            if module is not None:
                return frame, module
            frame = frame.f_back
        return None

    def profile(self, frame: Any, event: str, _arg: Any) -> None:
        if event != "call":
            return
        module = _module_of(frame.f_code.co_filename, self.package_dir)
        if module is None:
            return
        if module not in self.modules:
            self.modules.append(module)
        above = self._nearest(frame.f_back)
        if above is None or above[1] == module:
            return
        depth, walker = 0, frame.f_back
        while walker is not None:
            if _module_of(walker.f_code.co_filename, self.package_dir) is not None:
                depth += 1
            walker = walker.f_back
        self.edges[(above[1], module)] = self.edges.get((above[1], module), 0) + 1
        self.crossings.append((depth, f"{above[1]}.{above[0].f_code.co_name}", f"{module}.{frame.f_code.co_name}"))

    def summary(self) -> dict[str, Any]:
        return {"modules": len(self.modules), "edges": len(self.edges), "crossings": len(self.crossings),
                "path": self.modules,
                "edge_counts": {f"{a} -> {b}": n for (a, b), n in sorted(self.edges.items())}}


def trace_one_redemption(url: str) -> tuple[Crossings, dict[str, Any]]:
    import pointsbank
    from bench.overhead import World
    from pointsbank import create_app
    from pointsbank.extensions import db

    app = create_app({"DATABASE_URL": sqlalchemy_url(url), "SECRET_KEY": SECRET, "ENV": "production"})
    client = app.test_client(use_cookies=False)
    world = World(url, app, client)
    for kind, count in (("voucher", 4), ("redemption", 3)):  # warm-up: statements compiled, caches filled
        check = world.expect(kind)
        for call in world.calls(kind, count):
            check(client.open(call.path, method=call.method, headers=call.headers, data=call.body))

    path = Crossings(str(Path(pointsbank.__file__).resolve().parent))
    (call,) = world.calls("redemption", 1)
    endpoint = app.url_map.bind("localhost").match(call.path, method="POST")[0]
    view = app.view_functions[endpoint]

    def traced(*args: Any, **kwargs: Any) -> Any:
        sys.setprofile(path.profile)
        try:
            return view(*args, **kwargs)
        finally:
            sys.setprofile(None)

    app.view_functions[endpoint] = traced
    try:
        response = client.open(call.path, method=call.method, headers=call.headers, data=call.body)
    finally:
        app.view_functions[endpoint] = view
    if response.status_code != 201:
        raise SystemExit(f"the redemption answered {response.status_code}: {response.get_data(True)[:400]}")
    with app.app_context():
        db.engine.dispose()
    return path, {"endpoint": endpoint}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=None, help="an empty PostgreSQL database to migrate and use (kept)")
    parser.add_argument("--json", dest="json_path", default=None, help="write the figures as JSON here")
    parser.add_argument("--tree", action="store_true", help="print every boundary crossing, indented by depth")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(scratch_database("redemption_path"))
        migrate(url)
        path, info = trace_one_redemption(url)
    summary = {**path.summary(), **info}
    print(f"POST /api/v1/redemptions ({info['endpoint']}), from the route to the commit:")
    print(f"  {summary['modules']} modules, {summary['edges']} module-to-module edges, "
          f"{summary['crossings']} boundary crossings")
    print("  modules in the order entered:")
    for module in path.modules:
        print(f"    {module}")
    print("  edges (caller -> callee: calls):")
    for edge, count in summary["edge_counts"].items():
        print(f"    {edge}: {count}")
    if args.tree:
        print("  crossings:")
        for depth, caller, callee in path.crossings:
            print(f"    {'  ' * depth}{caller} -> {callee}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps({**summary, "crossings_list": path.crossings}, indent=1,
                                                   ensure_ascii=False))


if __name__ == "__main__":
    main()
