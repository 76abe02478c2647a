#!/usr/bin/env python3
"""Keeps ARCHITECTURE.md true: every repository path it names in backticks exists, and the modules it
describes import each other without a cycle. Run by `make test`; prints what is wrong and exits 1."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP_DIRS = ("src", "tests", "migrations", "benches", "bench", "end2end", "fuzz", "scripts", "style",
            "assets", "public", ".ci")


def missing_paths(text):
    """Backticked tokens that start with a top-level directory and name nothing in the repository."""
    wrong = []
    for token in re.findall(r"`([^`\s]+)`", text):
        path = token.rstrip("/")
        if path.split("/")[0] in TOP_DIRS and "{" not in path and "*" not in path:
            if not (ROOT / path).exists():
                wrong.append(token)
    return sorted(set(wrong))


def module_of(file):
    """`src/server/engine/intake.rs` -> ["server", "engine", "intake"]."""
    parts = list(file.relative_to(ROOT / "src").with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def unit(path):
    """The node a module belongs to: a child of `server` (server::engine), else a top-level module."""
    if not path:
        return None
    if path[0] == "server" and len(path) > 1:
        return "server::" + path[1]
    return path[0]


def strip_comments(text):
    """Drops whole-line comments (doc comments name modules without importing them)."""
    return re.sub(r"(?m)^\s*//.*$", "", text)


def server_fn_bodies(text):
    """The `#[server]` function bodies in `text`, and the text without them. The bodies compile only
    into the server, so what they reach counts as the server's, not the shared module's."""
    bodies, rest, at = [], [], 0
    for match in re.finditer(r"#\[server\b", text):
        if match.start() < at:
            continue
        open_brace = text.index("{", text.index(")]", match.start()))
        depth, end = 0, open_brace
        for end in range(open_brace, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                break
        rest.append(text[at:open_brace])
        bodies.append(text[open_brace:end + 1])
        at = end + 1
    rest.append(text[at:])
    return "".join(bodies), "".join(rest)


def is_module(path):
    """Whether `path` names a module (a file or directory under src/), not an item of `server`."""
    if not path:
        return False
    head = path[:2] if path[0] == "server" and len(path) > 1 else path[:1]
    base = ROOT / "src" / Path(*head)
    return base.with_suffix(".rs").is_file() or base.is_dir()


def references(file, module, text):
    """Module paths a text reaches: `crate::a::b`, and `super::` resolved against the file's module."""
    found = [p.split("::")[1:] for p in re.findall(r"\bcrate((?:::\w+)+)", text)]
    # Grouped imports: `crate::server::{session, studio}` reaches both.
    for prefix, group in re.findall(r"\bcrate((?:::\w+)*)::\{([^}]*)\}", text):
        for item in re.findall(r"(?:^|,)\s*(\w+)", group):
            found.append(prefix.split("::")[1:] + [item])
    for chain in re.findall(r"\b((?:super::)+)(\w+)", text):
        ups = chain[0].count("super::")
        # A `mod.rs` is its directory's module; `super` of it is the parent directory.
        base = module if file.name in ("mod.rs", "lib.rs") else module[:-1]
        base = base[: len(base) - (ups - 1)] if ups > 1 else base
        base = base[:-1] if file.name in ("mod.rs",) else base
        found.append(base + [chain[1]])
    return found


def cycles():
    edges = {}
    for file in (ROOT / "src").rglob("*.rs"):
        module = module_of(file)
        if module[:1] == ["server"] and len(module) == 1:
            continue  # server/mod.rs wires everything together; nothing imports it
        text = strip_comments(file.read_text())
        parts = [(unit(module), text)]
        if module[:1] == ["api"]:
            bodies, shared = server_fn_bodies(text)
            parts = [("api", shared), ("api #[server] bodies", bodies)]
        for source, part in parts:
            for target in references(file, module, part):
                target = unit(target) if is_module(target) else None
                if source and target and target != source:
                    edges.setdefault(source, set()).add(target)
    # Depth-first search for a back edge; report each cycle once.
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for next_node in sorted(edges.get(node, ())):
            if state.get(next_node) == "open":
                found.append(stack[stack.index(next_node):] + [next_node])
            elif next_node not in state:
                visit(next_node)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def main():
    problems = []
    for path in missing_paths((ROOT / "ARCHITECTURE.md").read_text()):
        problems.append(f"ARCHITECTURE.md names `{path}`, which does not exist")
    for cycle in cycles():
        problems.append("import cycle: " + " -> ".join(cycle))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
