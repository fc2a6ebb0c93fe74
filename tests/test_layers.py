"""Imports flow one way: the surface -> concerns -> web -> platform -> models -> passes/.

Built from the source with `ast` (every import, also inside functions; not those under
`if TYPE_CHECKING:`, which never run), so a circle fails here before it fails a worker's start
(the old one: google_wallet.sync -> pass_design -> nps -> google_wallet.tasks -> sync, which a
function-level import hid). Concerns that must hear about each other use a hook instead (the
pass design asks registered contributors for back fields; the job queues are told the app factory).
docs/developers/where-things-live.md shows the same table.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The layer of each package or module (the longest matching prefix wins). A module may import
#: its own layer or a lower one, never a higher one.
LAYERS: dict[str, int] = {
    # 5 the surface: the app factory and entry points, the brand API, and the pages (blueprints
    #   live with their concern, so a newcomer finds the NPS page in service/nps/)
    "service": 5, "service.cli": 5, "service.demo": 5, "service.worker": 5, "service.serve": 5,
    "service.api": 5,
    "service.apple.web_service": 5, "service.apple.downloads": 5, "service.apple.lean_wsgi": 5,
    "service.cashier.page": 5,
    "service.analytics.dashboard": 5, "service.nps.page": 5, "service.enrolment.page": 5,
    "service.campaigns.console_page": 5, "service.campaigns.optout_page": 5, "service.campaigns.rules_page": 5,
    "service.google_wallet.callbacks": 5, "service.console": 5,
    "service.audit.console_page": 5, "service.access.keys_page": 5,
    "service.design.console_page": 5,
    "service.stores.console_page": 5, "service.cashier.staff_page": 5,
    "service.loyalty.members_page": 5, "service.loyalty.partners_page": 5, "service.loyalty.rewards_page": 5,
    "service.enrolment.settings_page": 5, "service.enrolment.imports_page": 5, "service.nps.answers_page": 5,
    "service.webhooks.console_page": 5, "service.journeys.challenges_page": 5,
    "service.journeys.console_page": 5, "service.journeys.tasks_page": 5,
    # 4 concerns: what the service does
    "service.loyalty": 4, "service.design": 4, "service.apple": 4, "service.google_wallet": 4,
    "service.push": 4, "service.campaigns": 4, "service.enrolment": 4, "service.analytics": 4,
    "service.nps": 4, "service.cashier": 4, "service.webhooks": 4, "service.notify": 4,
    "service.access": 4, "service.audit": 4, "service.stores": 4, "service.journeys": 4,
    # 3 what every request and page goes through
    "service.web": 3,
    # 2 the process and its data: settings, sessions, job queues, secrets
    "service.platform": 2,
    # 1 the tables
    "service.models": 1,
    # 0 the pure pass library: knows nothing of the service
    "passes": 0,
}
NAMES = {0: "passes", 1: "models", 2: "platform", 3: "web", 4: "concerns", 5: "surface (API, pages, entry points)"}


def module_names(root: Path) -> dict[str, Path]:
    found = {}
    for package in ("passes", "service"):
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of import nodes under `if TYPE_CHECKING:` (they never run)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for sub in node.body:
                for inner in ast.walk(sub):
                    skipped.add(id(inner))
    return skipped


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the modules of ours it imports (anywhere in the file)."""
    modules = module_names(root)

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        skipped = _type_checking_only(tree)
        targets: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets.update(filter(None, (resolve(a.name) for a in node.names)))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                    base = base[:len(base) - node.level + 1]
                    source = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    source = node.module or ""
                for alias in node.names:
                    full = f"{source}.{alias.name}"
                    target = full if full in modules else resolve(source)
                    if target:
                        targets.add(target)
        targets.discard(name)
        graph[name] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module, as one circle through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan, iterative enough for ~200 modules
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(_one_circle(graph, set(group)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _one_circle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & group):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    return sorted(group)


def layer(module: str) -> int:
    best = max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return LAYERS[best]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if layer(target) > layer(module):
                found.append(f"{module} ({NAMES[layer(module)]}) imports {target} ({NAMES[layer(target)]})")
    return found


def test_no_import_circle_in_service_or_passes() -> None:
    graph = import_graph(ROOT)
    assert "service.nps.survey" in graph and "passes.google" in graph
    assert circles(graph) == []


def test_passes_never_imports_service() -> None:
    graph = import_graph(ROOT)
    assert [f"{m} -> {t}" for m, targets in graph.items() if m.startswith("passes")
            for t in targets if t.split(".")[0] == "service"] == []


def test_imports_flow_down_the_layers() -> None:
    graph = import_graph(ROOT)
    unplaced = [m for m in graph if not any(m == p or m.startswith(p + ".") for p in LAYERS)]
    assert unplaced == []
    assert upward_imports(graph) == []


def test_the_checks_catch_the_old_circle(tmp_path: Path) -> None:
    """The circle this test was written for, rebuilt in miniature (the function-level import
    included): both checks see it."""
    files = {
        "service/__init__.py": "",
        "service/google_wallet/__init__.py": "",
        "service/google_wallet/sync.py": "from service.pass_design import design\n",
        "service/google_wallet/tasks.py": "from service.google_wallet.sync import sync_card\n",
        "service/pass_design.py": "from service import nps\n",
        "service/nps.py": "def refresh():\n    from service.google_wallet.tasks import queue_sync_held\n",
        "service/models/__init__.py": "",
        "passes/__init__.py": "",
        "passes/schema.py": "from service.models import Card\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path)
    assert circles(graph) == [["service.google_wallet.sync", "service.pass_design", "service.nps",
                               "service.google_wallet.tasks", "service.google_wallet.sync"]]
    assert "passes.schema (passes) imports service.models (models)" in upward_imports(graph)
