#!/usr/bin/env python3
"""Keeps the code and ARCHITECTURE.md honest. Run by `make test`; prints each problem on stderr and
exits 1 if there is any.

What it checks, and the rules it holds the code to:

1. No import cycles between files. Every file under `src/` is a node; `a.rs -> b.rs` when code in
   `a.rs` names something `b.rs` defines: a `use` line, or a path in code (`crate::x::f()`,
   `super::y::T`, `memory::key(..)` after `use crate::server::memory;`). A path is followed to the file
   that *defines* the item, through `pub use` re-exports, so a `mod.rs` that only declares children and
   re-exports them (a facade) is never a node on a cycle. Not dependencies: `mod child;` lines, `pub use`
   re-exports, anything under `#[cfg(test)]` (tests may reach anything), and whatever `src/lib.rs`,
   `src/main.rs` and `src/server/mod.rs` reach (they wire everything together). Each cycle is printed
   with one line per edge that creates it. Rather than every elementary cycle (exponentially many in
   a tangle), it prints for every edge on any cycle the shortest cycle through that edge, shortest
   first: break every cycle printed and no cycle is left (beyond the first MAX_CYCLES, a count).

2. No import in a forbidden direction (the `NEVER` table below, one row per rule with its reason).
   The short version: shared code (`src/domain/`, `src/urls/`, `src/wire/`) compiles into the browser and knows no server and no page; the core (engine, storage, providers, prompt, transform)
   knows no face (handlers, app state, wire types, pages, server functions); a provider knows its
   upstream and nothing of the engine or storage; pages reach the server only through server
   functions; the server never depends on pages or on the server functions that call it. A needed
   exception is a row in `ALLOWED`, with its reason.

   `#[server]` function bodies compile only into the server. Files under `src/server_fns/` may import
   server code anywhere. In any other file outside `src/server/` (there should be none: server functions
   live in `src/server_fns/`) the bodies are carved out: what a body reaches
   is attributed to a pseudo-node `FILE#[server]`, which is held to the rules of `src/server_fns/`.
   Nothing can import a body, so a body never closes a cycle; everything else in the file is held to
   the rules of shared code.

3. ARCHITECTURE.md names what exists: every backticked repository path exists, and every backticked
   Rust name outside fenced code blocks is defined under `src/`: a `CamelCase` name as a type, trait,
   function, constant, static or module; `module::item` as an item in that module's files (or a child
   module, or a re-export); `Type::member` as a function, variant, field or constant in a file that
   defines or implements `Type`. Names of other crates and protocols (an HTTP header, leptos'
   `SsrMode`) are listed in `NOT_OURS` with a reason.

Python 3.11 standard library only; the whole check takes well under a second.
"""

import bisect
import re
import sys
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"

# --- The rules, as data ------------------------------------------------------------------------------

SHARED = ["src/domain/", "src/urls/", "src/wire/"]
CORE = ["src/server/engine/", "src/server/storage/", "src/server/providers/", "src/server/prompt/",
        "src/server/transform/", "src/server/diffusion/"]
PAGES = ["src/ui/", "src/app.rs"]

# (files matching, may never import files matching, why). A pattern ending in `/` matches a directory.
NEVER = [
    (SHARED, ["src/server/", "src/server_fns/"] + PAGES,
     "shared types compile into the browser and know no server or page"),
    (CORE, ["src/server/http/", "src/server/state.rs", "src/server_fns/", "src/wire/"] + PAGES,
     "the core knows no face: no handlers, no app state, no wire types, no pages"),
    (["src/server/providers/"], ["src/server/engine/", "src/server/storage/"],
     "a provider knows its upstream's wire format and nothing else"),
    (["src/server/diffusion/"],
     ["src/server/engine/", "src/server/storage/", "src/server/providers/", "src/server/prompt/",
      "src/server/config/"],
     "the model code knows weights and tensors; the local provider turns requests into its calls"),
    (PAGES, ["src/server/"], "pages reach the server only through server functions"),
    (["src/server/"], ["src/server_fns/"] + PAGES,
     "the server does not depend on the pages or the server functions that call it"),
    (["src/server_fns/"], PAGES, "server functions answer pages; they do not know them"),
    (["src/server/auth.rs", "src/server/session.rs"], ["src/server/state.rs", "src/server/http/"],
     "the authorisation check depends on what it reads (the key, the sessions), not on the app"),
    (["src/server/purge/"],
     ["src/server/engine/", "src/server/storage/", "src/server/http/", "src/server/state.rs"],
     "a purger knows its CDN's wire format; the engine calls it, the edge reads its tags"),
]

# (file matching, may import file matching, why): explicit exceptions to NEVER. Keep it short.
ALLOWED = [
    ("src/server/http/mod.rs", "src/app.rs",
     "the router mounts the app: its shell and routes are what the server renders"),
    ("src/server/http/placeholder.rs", "src/app.rs",
     "a path whose first segment is not a size is the app's (its static files and 404 page)"),
]

# Backticked names in ARCHITECTURE.md that belong to other crates or to protocols, not to `src/`.
NOT_OURS = {
    "Accept": "an HTTP request header",
    "Authorization": "an HTTP request header",
    "Range": "an HTTP request header",
    "Secure": "a cookie attribute",
    "DefaultFields": "tracing-subscriber's field formatter, which telemetry/fields.rs imitates",
    "SsrMode::Async": "leptos' rendering mode",
    "LeptosOptions": "leptos' runtime options",
    "Arc": "the standard library's shared pointer",
    "UNet2DConditionModel": "candle-transformers' (and diffusers') UNet",
}

# Files that wire everything together: what they import is not a dependency anyone must avoid.
WIRING = {"src/lib.rs", "src/main.rs", "src/server/mod.rs"}
# Files whose `#[server]` bodies are not carved out: they are server code already.
SERVER_SIDE = ("src/server/", "src/server_fns/")
# Where a carved-out `#[server]` body is held to the rules (it is a server function in all but place).
BODY_ROLE = "src/server_fns/"
BODY_SUFFIX = "#[server]"
MAX_CYCLES = 50

TOP_DIRS = ("src", "tests", "migrations", "benches", "bench", "end2end", "fuzz", "scripts", "style",
            "assets", "public", ".ci", "deploy")

# --- Reading Rust: comments, strings, tests and brackets --------------------------------------------

LEXEME = re.compile(r"""//|/\*|"|'""")
CHAR = re.compile(r"""'(?:[^'\\\n]|\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\}|.))'""")
BLOCK_MARK = re.compile(r"/\*|\*/")
STRING_REST = re.compile(r'(?:[^"\\]|\\.)*"', re.S)
NOT_NEWLINE = re.compile(r"[^\n]")
BRACKETS = re.compile(r"[;{}()\[\]]")
BRACES = re.compile(r"[{}]")
CFG_TEST = re.compile(r"#\[cfg\(\s*(?:test|all\(\s*test\b[^\]]*\))\s*\)\]")
TEST_FILE = re.compile(r"#!\[cfg\(\s*test\s*\)\]")
VISIBILITY_IN = re.compile(r"\bpub\s*\(\s*in\b[^)]*\)")
MOD_DECL = re.compile(r"(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;")
INLINE_MOD = re.compile(r"(?<![\w])mod\s+(\w+)\s*\{")
SERVER_ATTR = re.compile(r"#\[(?:leptos::)?server\b")
# Patterns start with a literal where they can (Python's regex engine then skips ahead fast), and
# check that the keyword starts a word with a lookbehind after it.
USE = re.compile(r"use(?<![\w:]use)\s+(?P<tree>[^;]*);")
PUB_BEFORE = re.compile(r"pub\s*(?:\([^)]*\))?\s*$")
USE_TOKEN = re.compile(r"::|[{},*]|[A-Za-z_]\w*")
PATH = re.compile(r"\w+::[\w:]*")
SEGMENT = re.compile(r"[A-Za-z_]\w*")
ITEM_KINDS = ("fn", "struct", "enum", "trait", "type", "const", "static", "union", "mod", "macro_rules!")
ITEM = re.compile("(" + "|".join(f"{re.escape(k)}(?<!\\w{re.escape(k)})" for k in ITEM_KINDS) + ")"
                  r"\s+(?:mut\s+)?(?!(?:fn|unsafe|async|extern|mut)\b)([A-Za-z_]\w*)")
TYPE_KINDS = {"struct", "enum", "trait", "type", "union"}
IMPL_HEADER = re.compile(r"impl(?<!\wimpl)\b([^{;]*)\{")
CAMEL = re.compile(r"\b[A-Z]\w*")


def blank(text):
    """Spaces for everything but newlines: offsets and line numbers stay those of the file."""
    return NOT_NEWLINE.sub(" ", text) if "\n" in text else " " * len(text)


def strip_comments_and_strings(text):
    """The code without comments (doc comments too: they name modules without importing them) and
    without the contents of string and char literals (a URL or a brace in a string is not code)."""
    out, pos = [], 0
    while (m := LEXEME.search(text, pos)) is not None:
        start, mark = m.start(), m.group()
        if mark == "//":
            end = text.find("\n", start)
            end = len(text) if end < 0 else end
        elif mark == "/*":
            end, depth = len(text), 0
            for found in BLOCK_MARK.finditer(text, start):  # block comments nest in Rust
                depth += 1 if found.group() == "/*" else -1
                if depth == 0:
                    end = found.end()
                    break
        elif mark == '"':
            end = string_end(text, start)
        else:
            char = CHAR.match(text, start)
            if char is None:  # a lifetime, `'a`
                out.append(text[pos:start + 1])
                pos = start + 1
                continue
            end = char.end()
        out.append(text[pos:start])
        out.append(blank(text[start:end]))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def string_end(text, start):
    """The end of the string literal whose opening quote is at `start`: raw (`r#"..."#`, with the
    `r` and hashes just before the quote) or with escapes."""
    j = start
    while j > 0 and text[j - 1] == "#":
        j -= 1
    hashes = start - j
    before = text[j - 2] if j >= 2 else " "
    if j >= 1 and text[j - 1] == "r" and (not (before.isalnum() or before == "_") or (
            before == "b" and not (j >= 3 and (text[j - 3].isalnum() or text[j - 3] == "_")))):
        close = text.find('"' + "#" * hashes, start + 1)
        return len(text) if close < 0 else close + 1 + hashes
    rest = STRING_REST.match(text, start + 1)
    return rest.end() if rest else len(text)


def brace_pairs(code):
    """Each `{` offset mapped to its `}` offset (comments and strings already blanked)."""
    pairs, stack = {}, []
    for m in BRACES.finditer(code):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            pairs[stack.pop()] = m.start()
    return pairs


def skip_attributes(code, pos):
    """The offset of the item after any `#[...]` attributes starting at `pos`."""
    while True:
        while pos < len(code) and code[pos].isspace():
            pos += 1
        if not code.startswith("#[", pos):
            return pos
        depth = 0
        for m in BRACKETS.finditer(code, pos + 1):
            depth += {"[": 1, "]": -1}.get(m.group(), 0)
            if depth == 0:
                pos = m.end()
                break
        else:
            return len(code)


def item_span(code, start, pairs):
    """(end, body) of the item starting at `start`: it ends at its `;` (body None) or at the `}`
    closing its body (body: the offsets of the braces)."""
    depth = 0
    for m in BRACKETS.finditer(code, start):
        c = m.group()
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth <= 0:
            if c == ";":
                return m.end(), None
            if c == "{":
                close = pairs.get(m.start(), len(code) - 1)
                return close + 1, (m.start(), close + 1)
            return m.start(), None  # `}`: the enclosing block ended first
    return len(code), None


def drop_tests(code):
    """The code with every `#[cfg(test)]` item blanked, and the names of `#[cfg(test)] mod x;` files.
    Tests may reach anything, so what they import is not part of the architecture."""
    pairs, cuts, test_mods = brace_pairs(code), [], []
    for m in CFG_TEST.finditer(code):
        if cuts and m.start() < cuts[-1][1]:
            continue  # inside an item already dropped
        start = skip_attributes(code, m.end())
        decl = MOD_DECL.match(code, start)
        if decl:
            test_mods.append(decl.group(1))
        cuts.append((m.start(), item_span(code, start, pairs)[0]))
    for start, end in reversed(cuts):
        code = code[:start] + blank(code[start:end]) + code[end:]
    return code, test_mods


def server_bodies(code, pairs):
    """The (start, end) offsets of each `#[server]` function's body. Bodies compile only into the
    server, so in shared files what they reach is the server function's, not the file's."""
    bodies = []
    for m in SERVER_ATTR.finditer(code):
        if bodies and m.start() < bodies[-1][1]:
            continue  # `#[server(default)]` on a parameter of a function already carved
        _, body = item_span(code, skip_attributes(code, m.start()), pairs)
        if body:
            bodies.append(body)
    return bodies


# --- Files, modules and what they define -------------------------------------------------------------

@dataclass
class Leaf:
    """One name a `use` statement brings in: `use a::{b as c}` is the leaf path [a, b] bound to `c`."""
    path: list
    binding: str | None  # None for a glob
    line: int
    pos: int
    first_line: int      # of the `use` statement, which may span lines
    public: bool
    module: tuple
    top_level: bool      # at module level, so `module::binding` names it from outside


@dataclass
class Module:
    """A module: a file, or an inline `mod name { ... }` block in one."""
    path: tuple
    file: str
    start: int
    end: int
    depth: int
    defs: set = field(default_factory=set)
    leaves: list = field(default_factory=list)


@dataclass
class Source:
    """One `.rs` file, read once."""
    rel: str
    module: tuple
    text: str
    code: str = ""
    lines: list = field(default_factory=list)
    brace_at: list = field(default_factory=list)
    depth_after: list = field(default_factory=list)
    bodies: list = field(default_factory=list)
    leaves: list = field(default_factory=list)
    inline: list = field(default_factory=list)
    use_spans: list = field(default_factory=list)

    def line_of(self, pos):
        """1-based line number of an offset."""
        return bisect.bisect_right(self.lines, pos) + 1

    def line_text(self, line):
        """The source line, stripped, to show a developer why an edge exists."""
        start = self.lines[line - 2] + 1 if line >= 2 else 0
        end = self.lines[line - 1] if line - 1 < len(self.lines) else len(self.text)
        return self.text[start:end].strip()

    def depth_at(self, pos):
        """How many braces are open at `pos`."""
        i = bisect.bisect_right(self.brace_at, pos - 1)
        return self.depth_after[i - 1] if i else 0

    def in_body(self, pos):
        """Whether `pos` lies in a carved-out `#[server]` function body."""
        return any(start <= pos < end for start, end in self.bodies)


def module_path(rel):
    """`src/server/engine/intake.rs` -> ("server", "engine", "intake"); `src/lib.rs` -> ()."""
    parts = list(Path(rel).relative_to("src").with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return tuple(parts)


def read_files():
    """{path: (text, code)} for every file under src/: read and stripped once, for both checks."""
    files = {}
    for file in sorted(SRC.rglob("*.rs")):
        text = file.read_text(encoding="utf-8", errors="replace")
        files[file.relative_to(ROOT).as_posix()] = (text, strip_comments_and_strings(text))
    return files


def read_sources(files):
    """Every file under src/ except `main.rs` (its own crate) and test-only files, with tests and
    `pub(in path)` visibilities blanked, and the `#[server]` bodies of shared files located."""
    sources, test_only = {}, set()
    for rel, (text, code) in files.items():
        if rel == "src/main.rs":
            continue
        src = Source(rel, module_path(rel), text)
        code = VISIBILITY_IN.sub(lambda m: blank(m.group()), code)
        if TEST_FILE.search(code):
            test_only.add(src.module)
        src.code, test_mods = drop_tests(code)
        test_only.update(src.module + (name,) for name in test_mods)
        sources[rel] = src
    sources = {rel: s for rel, s in sources.items()
               if not any(s.module[:len(t)] == t for t in test_only)}
    for src in sources.values():
        src.lines = list(accumulate(len(line) + 1 for line in src.text.split("\n")[:-1]))
        src.lines = [end - 1 for end in src.lines]  # the offset of each newline
        pairs, depth = brace_pairs(src.code), 0
        for m in BRACES.finditer(src.code):
            depth += 1 if m.group() == "{" else -1
            src.brace_at.append(m.start())
            src.depth_after.append(depth)
        if not src.rel.startswith(SERVER_SIDE):
            src.bodies = server_bodies(src.code, pairs)
        src.inline = [(m.group(1), m.end() - 1, pairs.get(m.end() - 1, len(src.code)))
                      for m in INLINE_MOD.finditer(src.code)]
    return sources


def modules_of(sources):
    """Every module, by path: one per file, and one per inline `mod name { ... }` block."""
    modules = {}
    for src in sources.values():
        modules[src.module] = Module(src.module, src.rel, 0, len(src.code), 0)
        for name, open_brace, close in src.inline:
            outer = module_at(modules, src, open_brace)
            path = outer.path + (name,)
            modules[path] = Module(path, src.rel, open_brace, close, src.depth_at(open_brace + 1))
    return modules


def module_at(modules, src, pos):
    """The innermost module of `src` whose region holds `pos`."""
    best = modules[src.module]
    for name, open_brace, close in src.inline:
        if open_brace < pos < close:
            for module in modules.values():
                if module.file == src.rel and module.start == open_brace and module.start > best.start:
                    best = module
    return best


def parse_use_tree(tokens):
    """`a::{b, c::{self as d, *}}` as (path, binding, token index) leaves; a glob's binding is None.
    `tokens` are (text, offset) pairs."""
    leaves, i = [], 0

    def tree(prefix):
        nonlocal i
        segs = list(prefix)
        while i < len(tokens):
            tok = tokens[i][0]
            if tok == "::":
                i += 1
            elif tok == "{":
                i += 1
                while i < len(tokens) and tokens[i][0] != "}":
                    if tokens[i][0] == ",":
                        i += 1
                        continue
                    tree(segs)
                i += 1
                return
            elif tok == "*":
                leaves.append((segs, None, i))
                i += 1
                return
            elif tok in (",", "}"):
                return
            else:
                at = i
                segs.append(tok)
                i += 1
                if i < len(tokens) and tokens[i][0] == "::":
                    continue
                binding = tok
                if i + 1 < len(tokens) and tokens[i][0] == "as":
                    binding, i = tokens[i + 1][0], i + 2
                if tok == "self":
                    segs = segs[:-1]
                    binding = binding if binding != "self" else (segs[-1] if segs else None)
                leaves.append((segs, None if binding == "_" else binding or None, at))
                return

    tree([])
    return [(p, b, tokens[t][1]) for p, b, t in leaves]


def collect_uses_and_defs(sources, modules):
    """Each module's own items (defined at its top level) and each file's `use` leaves."""
    for src in sources.values():
        for m in ITEM.finditer(src.code):
            module = module_at(modules, src, m.start())
            if src.depth_at(m.start()) == module.depth:
                module.defs.add(m.group(2))
        for m in USE.finditer(src.code):
            public = PUB_BEFORE.search(src.code, max(0, m.start() - 40), m.start()) is not None
            src.use_spans.append((m.start(), m.end()))
            tree_at = m.start("tree")
            tokens = [(t.group(), tree_at + t.start()) for t in USE_TOKEN.finditer(m.group("tree"))]
            module = module_at(modules, src, m.start())
            top = src.depth_at(m.start()) == module.depth
            for path, binding, pos in parse_use_tree(tokens):
                leaf = Leaf(path, binding, src.line_of(pos), m.start(), src.line_of(m.start()),
                            public, module.path, top)
                src.leaves.append(leaf)
                module.leaves.append(leaf)


# --- Resolving a path to the file that defines it ----------------------------------------------------

class Resolver:
    """Follows a path as written in a module to the file that defines what it names."""

    def __init__(self, modules):
        self.modules = modules

    def bindings(self, module_path, name):
        """The `use` leaves of a module that bind `name`."""
        module = self.modules.get(module_path)
        return [leaf for leaf in module.leaves if leaf.binding == name] if module else []

    def start(self, ctx, segs):
        """Where a path begins: (module, remaining segments), or a leaf it continues, or None when it
        names nothing of this crate (std, another crate, a local type's associated item)."""
        head = segs[0]
        if head == "crate":
            return (), segs[1:]
        if head in ("self", "super"):
            return ctx, segs
        if ctx + (head,) in self.modules:
            return ctx + (head,), segs[1:]
        leaves = self.bindings(ctx, head)
        if leaves:
            return leaves[0]
        if head in self.modules[ctx].defs:
            return ctx, segs
        return None

    def resolve(self, ctx, segs, seen=frozenset()):
        """The file defining what `segs` (written in module `ctx`) names, or None if not this crate's.
        A path that stops at a module names the module's file; an item that cannot be found (made by
        a macro, such as a `#[server]` function's struct) is attributed to its module's file."""
        begun = self.start(ctx, segs)
        if begun is None:
            return None
        if isinstance(begun, Leaf):
            if begun.binding is None or (ctx, segs[0]) in seen:
                return None
            return self.resolve(begun.module, begun.path + segs[1:], seen | {(ctx, segs[0])})
        module, rest = begun
        while rest:
            name = rest[0]
            if name == "self":
                rest = rest[1:]
            elif name == "super":
                module, rest = module[:-1], rest[1:]
            elif module + (name,) in self.modules:
                module, rest = module + (name,), rest[1:]
            else:
                if module not in self.modules:
                    return None
                return self.item(module, name, rest[1:], seen) or self.modules[module].file
        return self.modules[module].file if module in self.modules else None

    def item(self, module_path, name, tail, seen):
        """The file defining item `name` of a module: its own, or where a `use` there (a re-export,
        or a private import that children reach with `super::`) or a glob import leads."""
        module = self.modules.get(module_path)
        if module is None:
            return None
        if name in module.defs:
            return module.file
        key = (module_path, name)
        if key in seen:
            return None
        seen = seen | {key}
        for leaf in module.leaves:
            if leaf.top_level and leaf.binding == name:
                found = self.resolve(leaf.module, leaf.path + tail, seen | {(leaf.module, name)})
                if found:
                    return found
        for leaf in module.leaves:
            if leaf.top_level and leaf.binding is None and leaf.path:
                begun = self.resolve_module(leaf.module, leaf.path)
                if begun is not None and name in self.modules[begun].defs:
                    return self.modules[begun].file
        return None

    def resolve_module(self, ctx, segs):
        """The module a path names, or None when it names an item or nothing of this crate."""
        begun = self.start(ctx, segs)
        if begun is None or isinstance(begun, Leaf):
            return None
        module, rest = begun
        for name in rest:
            if name == "self":
                continue
            module = module[:-1] if name == "super" else module + (name,)
            if module not in self.modules:
                return None
        return module


# --- The graph -----------------------------------------------------------------------------------------

def build_graph(sources, modules):
    """Edges between files: {source node: {target file: (line, text)}} with the first line that makes
    each. A carved-out `#[server]` body is the node `FILE#[server]`."""
    resolver, edges = Resolver(modules), defaultdict(dict)

    def add(src, pos, line, target, first_line=None):
        if target is None or target == src.rel or target not in sources:
            return
        node = src.rel + BODY_SUFFIX if src.in_body(pos) else src.rel
        known = edges[node].get(target)
        if known is None or line < known[0]:
            text = src.line_text(line)
            if first_line is not None and first_line != line:  # a `use` over several lines
                text = f"{src.line_text(first_line)} ... {text}"
            edges[node][target] = (line, text)

    for src in sources.values():
        if src.rel in WIRING:
            continue
        used_aliases, module_leaves = set(), []
        for leaf in src.leaves:
            if leaf.public and leaf.top_level:
                continue  # a re-export is not a dependency of the file that makes it
            if leaf.binding is None:  # a glob: the module (or enum) it empties into this one
                module = resolver.resolve_module(leaf.module, leaf.path)
                target = modules[module].file if module else resolver.resolve(leaf.module, leaf.path)
                add(src, leaf.pos, leaf.line, target, leaf.first_line)
            elif resolver.resolve_module(leaf.module, leaf.path) is not None:
                module_leaves.append(leaf)  # `use x::module;`: its uses below say what it needs
            else:
                add(src, leaf.pos, leaf.line, resolver.resolve(leaf.module, leaf.path), leaf.first_line)
        spans = iter(src.use_spans)
        span = next(spans, None)
        for m in PATH.finditer(src.code):
            while span and span[1] <= m.start():
                span = next(spans, None)
            if span and span[0] <= m.start():
                continue  # part of a `use` statement, handled above
            segs = m.group().rstrip(":").split("::")
            if len(segs) < 2 or not all(SEGMENT.fullmatch(seg) for seg in segs):
                continue  # `x::<T>` turbofish, `a:::b` typo, digits
            ctx = module_at(modules, src, m.start()).path
            if resolver.bindings(ctx, segs[0]):
                used_aliases.add((ctx, segs[0]))
            add(src, m.start(), src.line_of(m.start()), resolver.resolve(ctx, segs))
        for leaf in module_leaves:
            if (leaf.module, leaf.binding) not in used_aliases:
                module = resolver.resolve_module(leaf.module, leaf.path)
                add(src, leaf.pos, leaf.line, modules[module].file, leaf.first_line)
    return edges


def strongly_connected(edges):
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index, low, on_stack, stack, result, counter = {}, {}, set(), [], [], [0]
    nodes = sorted(set(edges) | {t for targets in edges.values() for t in targets})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    result.append(sorted(component))
    return result


def cycles(edges):
    """For every edge inside a strongly connected component, the shortest cycle through it; each
    cycle once, shortest first. Covers every edge that is on any cycle without listing the
    exponentially many elementary cycles of a tangled component."""
    found = set()
    for component in strongly_connected(edges):
        if len(component) < 2:
            continue
        members = set(component)
        for start in component:
            parent, queue = {start: None}, deque([start])
            while queue:  # breadth-first from `start`, inside the component
                node = queue.popleft()
                for nxt in sorted(edges.get(node, ())):
                    if nxt in members and nxt not in parent:
                        parent[nxt] = node
                        queue.append(nxt)
            for source in component:
                if start in edges.get(source, ()) and source in parent:
                    path, node = [], source
                    while node is not None:
                        path.append(node)
                        node = parent[node]
                    cycle = path[::-1]  # start -> ... -> source; the edge source -> start closes it
                    first = cycle.index(min(cycle))
                    found.add(tuple(cycle[first:] + cycle[:first]))
    return sorted(found, key=lambda c: (len(c), c))


def is_parent_child(cycle):
    """Whether a cycle is only a directory's `mod.rs` and one of its direct children."""
    if len(cycle) != 2:
        return False
    for parent, child in (cycle, cycle[::-1]):
        if parent.endswith("/mod.rs"):
            folder = parent[:-len("mod.rs")]
            rest = child[len(folder):] if child.startswith(folder) else ""
            if rest and (rest.count("/") == 0 or (rest.count("/") == 1 and rest.endswith("/mod.rs"))):
                return True
    return False


def matches(node, patterns):
    """Whether a file (or a body pseudo-node, in its role) matches any directory or file pattern."""
    if node.endswith(BODY_SUFFIX):
        node = BODY_ROLE + Path(node[:-len(BODY_SUFFIX)]).name
    return any(node.startswith(p) if p.endswith("/") else node == p for p in patterns)


def forbidden(edges):
    """(source, line, text, target, why) for each edge a NEVER row forbids and no ALLOWED row allows."""
    found = []
    for source in sorted(edges):
        for target, (line, text) in sorted(edges[source].items()):
            for sources, targets, why in NEVER:
                if matches(source, sources) and matches(target, targets):
                    if not any(matches(source, [a]) and matches(target, [b]) for a, b, _ in ALLOWED):
                        found.append((source, line, text, target, why))
                    break
    return found


# --- ARCHITECTURE.md ----------------------------------------------------------------------------------

def prose(text):
    """ARCHITECTURE.md without its fenced code blocks (diagrams, not names)."""
    return re.sub(r"(?ms)^```.*?^```", "", text)


def missing_paths(text):
    """Backticked tokens that start with a top-level directory and name nothing in the repository."""
    wrong = []
    for token in re.findall(r"`([^`\s]+)`", text):
        path = token.rstrip("/")
        if path.split("/")[0] in TOP_DIRS and "{" not in path and "*" not in path:
            if not (ROOT / path).exists():
                wrong.append(token)
    return sorted(set(wrong))


def symbol_tokens(text):
    """Backticked tokens that look like Rust names: `CamelCase`, or anything with `::`. A trailing
    argument list (`Caller::may(via, action)`) is dropped; config keys, headers and words are not."""
    names = set()
    for token in re.findall(r"`([^`\n]+)`", prose(text)):
        token = re.sub(r"\(.*\)$", "", token)
        if re.search(r"[\s'\"/={.]", token):
            continue
        if not re.fullmatch(r"[A-Za-z_]\w*(?:::[A-Za-z_]\w*)*", token):
            continue
        if "::" in token or (token[0].isupper() and any(c.islower() for c in token)):
            names.add(token)
    return sorted(names)


class Symbols:
    """What src/ defines, leniently, for ARCHITECTURE.md's names: items anywhere (methods included),
    each file's members (functions, constants, variants, fields) and the types it defines or
    implements, and every module by its last name."""

    def __init__(self, files):
        self.items = set()
        self.members = defaultdict(set)
        self.mentions = defaultdict(set)
        self.items_in = defaultdict(set)
        self.modules = defaultdict(set)
        for rel, (_, code) in files.items():
            module = module_path(rel) if rel != "src/main.rs" else ("main",)
            for depth in range(1, len(module) + 1):
                self.modules[module[depth - 1]].add(module[:depth])
            for m in INLINE_MOD.finditer(code):
                self.modules[m.group(1)].add(module + (m.group(1),))
            pairs = brace_pairs(code)
            for m in ITEM.finditer(code):
                self.items.add(m.group(2))
                self.items_in[rel].add(m.group(2))
                self.members[rel].add(m.group(2))
                if m.group(1) in TYPE_KINDS:
                    self.mentions[rel].add(m.group(2))
                    self.members[rel].update(self.body_names(code, m.end(), pairs))
            for m in USE.finditer(code):
                self.items_in[rel].update(re.findall(r"\w+", m.group("tree")))
            for m in IMPL_HEADER.finditer(code):
                self.mentions[rel].update(CAMEL.findall(m.group(1)))

    @staticmethod
    def body_names(code, at, pairs):
        """Variant and field names in the `{ ... }` body of the struct or enum declared just before
        `at`: the first name of each top-level comma-separated part."""
        open_brace = code.find("{", at)
        semi = code.find(";", at)
        if open_brace < 0 or (0 <= semi < open_brace):
            return set()
        body = code[open_brace + 1:pairs.get(open_brace, len(code))]
        flat = body
        while True:  # drop nested brackets, innermost first: what is left is the top level
            smaller = re.sub(r"\([^()]*\)|\{[^{}]*\}|\[[^\[\]]*\]|<[^<>]*>", "", flat)
            if smaller == flat:
                break
            flat = smaller
        names = set()
        for part in flat.split(","):
            part = re.sub(r"#|\bpub\b", "", part)
            m = re.match(r"\s*([A-Za-z_]\w*)", part)
            if m:
                names.add(m.group(1))
        return names

    def module_files(self, name):
        """Files of every module called `name`: its own file and, for a directory, all files in it."""
        files = set()
        for path in self.modules.get(name, ()):
            folder = "src/" + "/".join(path)
            for rel in self.items_in:
                if rel in (folder + ".rs", folder + "/mod.rs") or rel.startswith(folder + "/"):
                    files.add(rel)
        return files

    def pair_ok(self, owner, name):
        """Whether `owner::name` exists: `name` in module `owner` (or a child module), or a member of
        type `owner` in a file that defines or implements it."""
        if owner == "crate":
            return name in self.modules or name in self.items_in.get("src/lib.rs", ())
        if owner in self.modules:
            if any(path + (name,) in self.modules.get(name, ()) for path in self.modules[owner]):
                return True
            if any(name in self.items_in[f] for f in self.module_files(owner)):
                return True
        return any(name in self.members[f] for f, types in self.mentions.items() if owner in types)

    def defined(self, token):
        """Whether ARCHITECTURE.md's `token` names something src/ defines."""
        segs = token.split("::")
        if len(segs) == 1:
            return token in self.items or token in self.modules
        return all(self.pair_ok(a, b) for a, b in zip(segs, segs[1:]))


def unknown_symbols(text, files):
    """ARCHITECTURE.md's Rust names that src/ does not define and NOT_OURS does not explain."""
    symbols = Symbols(files)
    return [t for t in symbol_tokens(text) if t not in NOT_OURS and not symbols.defined(t)]


# --- Report --------------------------------------------------------------------------------------------

def main():
    began = time.perf_counter()
    problems = []
    text, files = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"), read_files()
    for path in missing_paths(text):
        problems.append(f"ARCHITECTURE.md names `{path}`, which does not exist")
    for name in unknown_symbols(text, files):
        problems.append(f"ARCHITECTURE.md names `{name}`, which is not defined in src/")

    sources = read_sources(files)
    modules = modules_of(sources)
    collect_uses_and_defs(sources, modules)
    edges = build_graph(sources, modules)

    found = cycles(edges)
    for cycle in found[:MAX_CYCLES]:
        lines = [f"import cycle: {' -> '.join(cycle + (cycle[0],))}"]
        for a, b in zip(cycle, cycle[1:] + (cycle[0],)):
            line, code = edges[a][b]
            lines.append(f"    {a}:{line}: {code}")
        problems.append("\n".join(lines))
    if len(found) > MAX_CYCLES:
        problems.append(f"import cycle: {len(found) - MAX_CYCLES} more not shown")

    for source, line, code, target, why in forbidden(edges):
        where = f"{source}:{line}"
        if source.endswith(BODY_SUFFIX):
            where = f"{source[:-len(BODY_SUFFIX)]}:{line} (a #[server] body)"
        problems.append(f"forbidden import: {where} imports {target} (rule: {why})\n    {code}")

    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        family = sum(1 for cycle in found if is_parent_child(cycle))
        print(f"check-architecture: {len(problems)} problems, {len(found)} of them import cycles "
              f"({family} between a mod.rs and one of its own children) in "
              f"{time.perf_counter() - began:.2f}s; the rules are in the docstring of "
              "scripts/check-architecture.py", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
